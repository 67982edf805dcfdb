// The account this node is logged in to at its cloud, for the desktop UI's Cloud panel: the household's nodes
// and their devices, removing one of them, signing every node out; and its contacts (other households): an
// invite link to give, a pasted link to accept (checked against the fingerprint it carries), removing one. Plain calls with the link's token; a refused
// token goes to the session like any other refusal (the link then shows "log in again").
import QRCode from 'qrcode';
import type {
  AccountResponse,
  ContactsResponse,
  InviteView,
  RemoveContactResponse,
  RemoveNodeResponse,
  SignOutEverywhereResponse,
} from '../../../shared/wire/cloud.js';
import { inviteLink, parseInviteLink, sameFingerprint } from '../../../shared/wire/invite-link.js';
import {
  acceptInvite,
  CloudCallError,
  createInvite,
  fetchAccount,
  fetchContacts,
  previewInvite,
  removeAccountNode,
  removeContact,
  signOutEverywhere,
} from './cloud-api.js';
import { CloudLinkError } from './cloud-session.js';
import { refusesToken } from './token-refusal.js';

export interface CloudAccountDeps {
  credentials(): { url: string; token: string } | null;
  tokenRefused(code: string): void;
}

export class CloudAccount {
  constructor(private readonly d: CloudAccountDeps) {}

  view(): Promise<AccountResponse> {
    return this.call((url, token) => fetchAccount(url, token));
  }

  removeNode(node: string): Promise<RemoveNodeResponse> {
    return this.call((url, token) => removeAccountNode(url, token, node));
  }

  /** Every node of the account, this one too: this node's own token goes with the rest. */
  signOutEverywhere(): Promise<SignOutEverywhereResponse> {
    return this.call((url, token) => signOutEverywhere(url, token));
  }

  /** A new invite, as the link (and QR) to give the other household. */
  invite(): Promise<InviteView & { link: string; qr_svg: string }> {
    return this.call(async (url, token) => {
      const inv = await createInvite(url, token);
      const { token: secret, ...view } = inv;
      const link = inviteLink(url, secret, inv.fingerprint);
      return { ...view, link, qr_svg: await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 }) };
    });
  }

  /**
   * Accepts a pasted invite link: it must be for this node's cloud, and the cloud's record of the invite must
   * name the desktop key whose fingerprint the link carries (a swapped token, or a lying cloud, stops here:
   * nothing is accepted). `dryRun`: only says whom the invite is from.
   */
  acceptLink(text: string, dryRun = false): Promise<InviteView> {
    const link = parseInviteLink(text);
    if (!link)
      throw new CloudLinkError('invalid_request', 'This is not an invite link (it looks like https://cloud.example.org/invite#…).');
    return this.call(async (url, token) => {
      if (link.cloudUrl !== url)
        throw new CloudLinkError('invalid_request', `This invite is for the cloud at ${link.cloudUrl}; this desktop uses ${url}.`);
      const who = await previewInvite(url, token, link.token);
      if (!sameFingerprint(who.fingerprint, link.fingerprint))
        throw new CloudLinkError(
          'invite_mismatch',
          `The cloud says this invite is from the desktop ${who.fingerprint}, but the link names ${link.fingerprint}: do not accept it.`,
        );
      return dryRun ? who : acceptInvite(url, token, link.token, link.fingerprint);
    });
  }

  contacts(): Promise<ContactsResponse> {
    return this.call((url, token) => fetchContacts(url, token));
  }

  removeContact(accountId: string): Promise<RemoveContactResponse> {
    return this.call((url, token) => removeContact(url, token, accountId));
  }

  private async call<T>(run: (url: string, token: string) => Promise<T>): Promise<T> {
    const creds = this.d.credentials();
    if (!creds) throw new CloudLinkError('cloud_login_not_started', 'This node is not logged in to a cloud: log in first.');
    try {
      return await run(creds.url, creds.token);
    } catch (err) {
      if (err instanceof CloudLinkError || !(err instanceof CloudCallError)) throw err;
      if (err.kind === 'unreachable') throw new CloudLinkError('cloud_unreachable', err.message);
      if (refusesToken(err.cloudError)) this.d.tokenRefused(err.cloudError);
      throw new CloudLinkError('cloud_rejected', `The cloud refused: ${err.message}`, err.cloudError);
    }
  }
}
