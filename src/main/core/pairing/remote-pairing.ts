// Desktop <-> desktop: this node (the initiator) pairs with another desktop using what that desktop's screen
// shows (its pairing URL, or its address + linking code), plus the PIN. The responder stores us from our
// node_identity; we store it from the `desktop_node` it returns.
import type { Logger } from 'pino';
import { normalizeFingerprint, sameFingerprint, fingerprintOf } from '../../../shared/fingerprint.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import { NodeIdentityResponse, PairVerifyResponse, type DesktopNode, type NodeIdentityPayload, type PairRemoteRequest } from '../../../shared/wire/schemas.js';
import { ERROR_CODES, type ErrorCode } from '../../../shared/wire/errors.js';
import { ApiError } from '../http/api-error.js';
import { hostForUrl } from '../net/lan-addresses.js';

export interface RemoteTarget {
  host: string;
  port: number;
  code?: string;
  linkingCode?: string;
  fingerprint?: string;
}

export function targetFromRequest(req: PairRemoteRequest): RemoteTarget {
  if (req.url !== undefined) {
    const u = new URL(req.url);
    if (u.protocol !== 'http:') throw new ApiError(400, 'invalid_request', 'The pairing URL must start with http://');
    const code = u.searchParams.get('code');
    if (!code) throw new ApiError(400, 'invalid_request', 'The pairing URL has no code= parameter.');
    const fp = u.searchParams.get('fp') ?? req.fingerprint;
    return {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 80,
      code,
      ...(req.linking_code ? { linkingCode: req.linking_code } : {}),
      ...(fp ? { fingerprint: fp } : {}),
    };
  }
  return { host: req.host!, port: req.port!, linkingCode: req.linking_code!, ...(req.fingerprint ? { fingerprint: req.fingerprint } : {}) };
}

const TIMEOUT_MS = 10_000;

async function callPeer(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new ApiError(502, 'peer_unreachable', `Could not reach ${new URL(url).host}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(502, 'peer_rejected', `${new URL(url).host} did not answer like a Salita node (HTTP ${res.status}, not JSON).`);
  }
  return { status: res.status, body };
}

export async function pairWithRemote(target: RemoteTarget, pin: string, self: NodeIdentityPayload, log: Logger): Promise<{ desktop: DesktopNode; sessionToken: string }> {
  const base = `http://${hostForUrl(target.host)}:${target.port}`;
  const expectedFp = target.fingerprint ? normalizeFingerprint(target.fingerprint) : null;
  if (target.fingerprint && !expectedFp) throw new ApiError(400, 'invalid_request', 'The fingerprint is malformed.');

  const ident = await callPeer(`${base}/api/node/identity`, { method: 'GET' });
  const parsedIdent = NodeIdentityResponse.safeParse(ident.body);
  if (ident.status !== 200 || !parsedIdent.success) throw new ApiError(502, 'peer_rejected', `${target.host}:${target.port} is not a Salita node.`);
  if (expectedFp && !sameFingerprint(parsedIdent.data.fingerprint, expectedFp)) {
    throw new ApiError(409, 'fingerprint_mismatch', `The node at ${target.host}:${target.port} has fingerprint ${parsedIdent.data.fingerprint}, not the expected one. Not pairing.`);
  }

  const verify = await callPeer(`${base}/auth/pair/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...(target.code ? { code: target.code } : {}),
      ...(target.linkingCode ? { linking_code: target.linkingCode } : {}),
      pin,
      node_identity: self,
    }),
  });
  if (verify.status !== 200) {
    // Pass the other node's verdict through (pin_mismatch with attempts_left, code_expired...): the person
    // needs the same words the phone page would show.
    const b = verify.body as { error?: string; message?: string } | null;
    const code = (ERROR_CODES as readonly string[]).includes(b?.error ?? '') ? (b!.error as ErrorCode) : 'peer_rejected';
    const status = verify.status >= 400 && verify.status < 500 ? verify.status : 502;
    throw new ApiError(status as 400, code, `${parsedIdent.data.name}: ${b?.message ?? `HTTP ${verify.status}`}`, { ...(b as object), peer: true });
  }
  const parsed = PairVerifyResponse.safeParse(verify.body);
  if (!parsed.success) throw new ApiError(502, 'peer_rejected', `${target.host}:${target.port} answered the pairing with an unexpected body.`);
  const desktop = parsed.data.desktop_node;
  // The node that answered the pairing must be the one whose identity (and fingerprint) we checked.
  let answeredFp: string;
  try {
    answeredFp = fingerprintOf(fromBase64Url(desktop.public_key));
  } catch {
    throw new ApiError(502, 'peer_rejected', 'The other node sent a malformed public key.');
  }
  if (!sameFingerprint(answeredFp, parsedIdent.data.fingerprint) || desktop.node_id !== parsedIdent.data.node_id) {
    throw new ApiError(409, 'fingerprint_mismatch', 'The node that answered the pairing is not the one that was checked. Not pairing.');
  }
  log.info({ node_id: desktop.node_id, host: target.host, port: target.port }, 'paired with remote desktop');
  return { desktop, sessionToken: parsed.data.session_token };
}
