// The link (and QR) one household gives another to become contacts: the cloud's address, the invite's token and
// the fingerprint of the inviting desktop's key, `<cloud url>/invite#<token>.<fingerprint without dashes>`. The
// secret is after `#`, so a browser that opens the link never sends it anywhere. The accepting desktop checks the
// fingerprint against what the cloud says about the invite, so a link whose token was swapped is refused.

export interface InviteLink {
  cloudUrl: string;
  token: string;
  /** Upper case, no dashes. */
  fingerprint: string;
}

/** Fingerprints compare without their dashes and case (people type them from a screen). */
const normalise = (fp: string) => fp.replace(/[^A-Za-z0-9]/g, '').toUpperCase();

export function inviteLink(cloudUrl: string, token: string, fingerprint: string): string {
  return `${cloudUrl.replace(/\/+$/, '')}/invite#${token}.${normalise(fingerprint)}`;
}

/** The parts of a pasted link, or null when it is not an invite link. */
export function parseInviteLink(text: string): InviteLink | null {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.pathname.endsWith('/invite')) return null;
  const m = /^#([A-Za-z0-9_-]{43})\.([A-Z0-9]{16,64})$/.exec(u.hash);
  if (!m) return null;
  const base = `${u.origin}${u.pathname.slice(0, -'/invite'.length)}`.replace(/\/+$/, '');
  return { cloudUrl: base, token: m[1]!, fingerprint: m[2]! };
}

export const sameFingerprint = (a: string, b: string): boolean => normalise(a) === normalise(b);
