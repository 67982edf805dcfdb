// The cloud's REST calls the link makes (docs/cloud.md): login challenge/verify/logout and the key directory.
// Every failure becomes a CloudCallError: `unreachable` (no HTTP answer) or `rejected` (the cloud's own
// {error, message}, with its status).
// The routes are the shared endpoints (src/shared/wire/cloud-endpoints.ts) the cloud's contract is built from:
// bodies typed by their schemas, answers parsed with them.
import type { z } from 'zod';
import type { KeyLogHead } from '../../../shared/transparency/key-log.js';
import {
  type AccountResponse,
  type ChallengeRequest,
  CLOUD_ERROR_HEADER,
  CloudErrorBody,
  type ContactsResponse,
  type InviteResponse,
  type InviteView,
  type RefreshRequest,
  type RemoveContactResponse,
  type RemoveNodeResponse,
  type SignOutEverywhereResponse,
  type VerifyRequest,
} from '../../../shared/wire/cloud.js';
import { CLOUD_ENDPOINTS } from '../../../shared/wire/cloud-endpoints.js';
import { type BodyOf, type Endpoint, type ParamsOf, pathWith, type ResponseOf } from '../../../shared/wire/endpoint.js';
import type {
  CreateExternalSessionRequest,
  ExternalMethodsResponse,
  ExternalSessionResponse,
  ExternalSessionState,
} from '../../../shared/wire/external-login.js';
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../../../shared/wire/prekeys.js';
import type {
  DeviceReplacement,
  DirectoryDevice,
  DirectoryEntry,
  KeyLogHashesResponse,
  KeyLogLeavesResponse,
  KeyLogProofsResponse,
  PublishKeysRequest,
  PublishRefusal,
} from '../../../shared/wire/relay.js';

export class CloudCallError extends Error {
  constructor(
    public readonly kind: 'unreachable' | 'rejected',
    /** HTTP status (0 when unreachable). */
    public readonly status: number,
    /** The cloud's stable code (e.g. otp_invalid), or `unreachable` / `bad_response`. */
    public readonly cloudError: string,
    message: string,
  ) {
    super(message);
    this.name = 'CloudCallError';
  }
}

export const CLOUD_CALL_TIMEOUT_MS = 15_000;

/** One call to a cloud endpoint: its method, path and body type, and its answer parsed with its schema. */
async function call<E extends Endpoint>(
  base: string,
  ep: E,
  init: { body?: BodyOf<E>; token?: string; params?: ParamsOf<E>; query?: Record<string, string> },
  what: string,
): Promise<ResponseOf<E>> {
  const path = pathWith(ep.path, init.params) + (init.query ? `?${new URLSearchParams(init.query)}` : '');
  let res: Response;
  try {
    res = await fetch(base + path, {
      method: ep.method.toUpperCase(),
      headers: {
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Noise ${init.token}` } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(CLOUD_CALL_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new CloudCallError('unreachable', 0, 'unreachable', `cannot reach ${base}: ${cause ?? (err as Error).message}`);
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    // A proxy in front of the cloud may answer with its own page: then the header or the status is all we have.
    const b = CloudErrorBody.partial().safeParse(body ?? {});
    const code = (b.success ? b.data.error : undefined) ?? res.headers.get(CLOUD_ERROR_HEADER) ?? `http_${res.status}`;
    const message = (b.success ? b.data.message : undefined) ?? `the cloud answered ${res.status}`;
    throw new CloudCallError('rejected', res.status, code, message);
  }
  if (body === undefined)
    throw new CloudCallError('rejected', res.status, 'bad_response', `${base}${path} did not answer JSON; is this a Salita cloud?`);
  return ep.response ? (answer(ep.response.schema, body, what) as ResponseOf<E>) : (body as ResponseOf<E>);
}

/** A 2xx answer in the shape `schema` says, or a bad_response naming what is wrong with it. */
function answer<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CloudCallError(
      'rejected',
      200,
      'bad_response',
      `the cloud's answer to ${what} is malformed: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return parsed.data;
}

/** `email`: the account to mail the code to (null: the cloud's legacy device-id login, the code in its log). */
export async function requestChallenge(
  base: string,
  deviceId: string,
  name: string | undefined,
  email: string | null,
): Promise<{ challengeId: string; expiresAt: string }> {
  const body: ChallengeRequest = { device_id: deviceId, ...(name ? { name } : {}), ...(email !== null ? { email } : {}) };
  const b = await call(base, CLOUD_ENDPOINTS.authChallenge, { body }, 'a login challenge');
  return { challengeId: b.challenge_id, expiresAt: b.expires_at };
}

/** The node always logs in with a Noise proof, so its verify carries all of it. */
export type NoiseVerifyRequest = Required<VerifyRequest>;

export async function verifyCode(base: string, body: NoiseVerifyRequest): Promise<{ token: string; expiresAt: string }> {
  const b = await call(base, CLOUD_ENDPOINTS.authVerify, { body }, 'a login code');
  return { token: b.noise_session.token, expiresAt: b.noise_session.expires_at };
}

/** POST /api/auth/refresh: a new token for a valid one plus a fresh IK handshake (no one-time code). */
export async function refreshToken(base: string, token: string, proof: RefreshRequest): Promise<{ token: string; expiresAt: string }> {
  const b = await call(base, CLOUD_ENDPOINTS.authRefresh, { token, body: proof }, 'a token refresh');
  return { token: b.noise_session.token, expiresAt: b.noise_session.expires_at };
}

export async function logoutToken(base: string, token: string): Promise<void> {
  await call(base, CLOUD_ENDPOINTS.authLogout, { token }, 'a logout');
}

/** One PUT /api/keys (a whole set, or one page with `range`); the devices the cloud refused come back one by one. */
export async function publishKeys(
  base: string,
  token: string,
  devices: DirectoryDevice[],
  range?: PublishKeysRequest['range'],
): Promise<PublishRefusal[]> {
  const body: PublishKeysRequest = range ? { devices, range } : { devices };
  // A cloud from before per-device refusals answers {devices} alone: nothing was refused (the schema's default).
  return (await call(base, CLOUD_ENDPOINTS.publishKeys, { token, body }, 'publishing keys')).refused;
}

export async function fetchDirectory(base: string, token: string): Promise<DirectoryEntry[]> {
  return (await call(base, CLOUD_ENDPOINTS.keyDirectory, { token }, 'a key directory read')).devices;
}

/** PUT /api/keys/replacements: the older ids our devices replaced when re-paired; what the cloud kept. */
export async function publishReplacements(base: string, token: string, replacements: DeviceReplacement[]): Promise<DeviceReplacement[]> {
  return (await call(base, CLOUD_ENDPOINTS.publishReplacements, { token, body: { replacements } }, 'publishing replaced ids')).replacements;
}

/** GET /api/keys/replacements: the older ids every published device replaced. */
export async function fetchReplacements(base: string, token: string): Promise<DeviceReplacement[]> {
  return (await call(base, CLOUD_ENDPOINTS.keyReplacements, { token }, 'a replaced-ids read')).replacements;
}

/** PUT /api/keys/:device_id/prekeys: prekeys of a device this node publishes in the key directory. */
export async function publishPrekeys(base: string, token: string, deviceId: string, body: PublishPrekeysRequest): Promise<PrekeyStatus> {
  return call(base, CLOUD_ENDPOINTS.publishPrekeys, { token, body, params: { device_id: deviceId } }, 'publishing prekeys');
}

/** GET /api/keys/:device_id/prekeys: what one of this node's devices has stored at the cloud. */
export async function fetchPrekeyStatus(base: string, token: string, deviceId: string): Promise<PrekeyStatus> {
  return call(base, CLOUD_ENDPOINTS.prekeyStatus, { token, params: { device_id: deviceId } }, 'a prekey status');
}

/** POST /api/keys/:device_id/prekeys/claim: a bundle for any device of the key directory. */
export async function claimPrekeys(base: string, token: string, deviceId: string): Promise<PrekeyBundle> {
  return call(base, CLOUD_ENDPOINTS.claimPrekeys, { token, params: { device_id: deviceId } }, 'a prekey claim');
}

// ---- the account (its household): GET /api/account, DELETE /api/account/nodes/:node, POST /api/account/sign-out

export async function fetchAccount(base: string, token: string): Promise<AccountResponse> {
  return call(base, CLOUD_ENDPOINTS.account, { token }, 'the account');
}

export async function removeAccountNode(base: string, token: string, node: string): Promise<RemoveNodeResponse> {
  return call(base, CLOUD_ENDPOINTS.removeAccountNode, { token, params: { node } }, 'removing a node');
}

export async function signOutEverywhere(base: string, token: string): Promise<SignOutEverywhereResponse> {
  return call(base, CLOUD_ENDPOINTS.signOutEverywhere, { token }, 'signing out everywhere');
}

// ---- contacts between households: /api/contacts

export async function createInvite(base: string, token: string): Promise<InviteResponse> {
  return call(base, CLOUD_ENDPOINTS.createInvite, { token }, 'a new invite');
}

export async function previewInvite(base: string, token: string, invite: string): Promise<InviteView> {
  return call(base, CLOUD_ENDPOINTS.previewInvite, { token, body: { token: invite } }, 'an invite');
}

export async function acceptInvite(base: string, token: string, invite: string, fingerprint: string): Promise<InviteView> {
  return call(base, CLOUD_ENDPOINTS.acceptInvite, { token, body: { token: invite, fingerprint } }, 'accepting an invite');
}

export async function fetchContacts(base: string, token: string): Promise<ContactsResponse> {
  return call(base, CLOUD_ENDPOINTS.contacts, { token }, 'the contacts');
}

export async function removeContact(base: string, token: string, accountId: string): Promise<RemoveContactResponse> {
  return call(base, CLOUD_ENDPOINTS.removeContact, { token, params: { account_id: accountId } }, 'removing a contact');
}

// ---- the key directory's log (docs/key-transparency.md)

export async function fetchKeyLogHead(base: string, token: string): Promise<KeyLogHead> {
  return call(base, CLOUD_ENDPOINTS.keyLogHead, { token }, "the key log's head");
}

export async function fetchKeyLogProofs(base: string, token: string, deviceIds: string[]): Promise<KeyLogProofsResponse> {
  return call(base, CLOUD_ENDPOINTS.keyLogProofs, { token, body: { device_ids: deviceIds } }, 'key log proofs');
}

export async function fetchKeyLogHashes(base: string, token: string, from: number, to: number): Promise<KeyLogHashesResponse['entries']> {
  const q = { from: String(from), to: String(to) };
  return (await call(base, CLOUD_ENDPOINTS.keyLogHashes, { token, query: q }, "the key log's entries")).entries;
}

export async function fetchKeyLogLeaves(base: string, token: string, indices: number[]): Promise<KeyLogLeavesResponse['entries']> {
  return (await call(base, CLOUD_ENDPOINTS.keyLogLeaves, { token, body: { indices } }, 'key log leaves')).entries;
}

export async function fetchKeyLogConsistency(base: string, token: string, from: number, to: number): Promise<string[]> {
  const q = { from: String(from), to: String(to) };
  return (await call(base, CLOUD_ENDPOINTS.keyLogConsistency, { token, query: q }, 'a key log consistency proof')).proof;
}

// ---- external login (docs/cloud.md "External login")

export async function fetchExternalMethods(base: string): Promise<ExternalMethodsResponse> {
  return call(base, CLOUD_ENDPOINTS.externalMethods, {}, "the cloud's sign-in methods");
}

export async function createExternalSession(
  base: string,
  body: CreateExternalSessionRequest,
  token?: string,
): Promise<ExternalSessionResponse> {
  return call(base, CLOUD_ENDPOINTS.externalCreate, { body, ...(token ? { token } : {}) }, 'a browser sign-in');
}

export async function fetchExternalSession(base: string, sessionToken: string): Promise<ExternalSessionState> {
  return call(base, CLOUD_ENDPOINTS.externalState, { params: { token: sessionToken } }, 'the browser sign-in');
}
