// The cloud's REST calls the link makes (docs/cloud.md): login challenge/verify/logout and the key directory.
// Every failure becomes a CloudCallError: `unreachable` (no HTTP answer) or `rejected` (the cloud's own
// {error, message}, with its status).
import { DirectoryResponse, PublishKeysResponse, type DirectoryDevice, type DirectoryEntry, type PublishKeysRequest, type PublishRefusal } from '../../../shared/wire/relay.js';

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

async function call(base: string, path: string, init: { method: string; body?: unknown; token?: string }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method: init.method,
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
  try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: unknown; message?: unknown };
    const code = typeof b.error === 'string' ? b.error : res.headers.get('x-cloud-error') ?? `http_${res.status}`;
    const message = typeof b.message === 'string' ? b.message : `the cloud answered ${res.status}`;
    throw new CloudCallError('rejected', res.status, code, message);
  }
  if (body === undefined) throw new CloudCallError('rejected', res.status, 'bad_response', `${base}${path} did not answer JSON; is this a Salita cloud?`);
  return body;
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length === 0) throw new CloudCallError('rejected', 200, 'bad_response', `the cloud's answer lacks ${what}`);
  return v;
};

export async function requestChallenge(base: string, deviceId: string): Promise<{ challengeId: string; expiresAt: string }> {
  const b = await call(base, '/api/auth/challenge', { method: 'POST', body: { device_id: deviceId } }) as Record<string, unknown>;
  return { challengeId: str(b.challenge_id, 'challenge_id'), expiresAt: str(b.expires_at, 'expires_at') };
}

export async function verifyCode(base: string, body: { challenge_id: string; code: string; noise_session_id: string; noise_signature: string; last_handshake_at: string }): Promise<{ token: string; expiresAt: string }> {
  const b = await call(base, '/api/auth/verify', { method: 'POST', body }) as { noise_session?: Record<string, unknown> };
  return { token: str(b.noise_session?.token, 'noise_session.token'), expiresAt: str(b.noise_session?.expires_at, 'noise_session.expires_at') };
}

/** POST /api/auth/refresh: a new token for a valid one plus a fresh IK handshake (no one-time code). */
export async function refreshToken(base: string, token: string, proof: { noise_session_id: string; noise_signature: string; last_handshake_at: string }): Promise<{ token: string; expiresAt: string }> {
  const b = await call(base, '/api/auth/refresh', { method: 'POST', token, body: proof }) as { noise_session?: Record<string, unknown> };
  return { token: str(b.noise_session?.token, 'noise_session.token'), expiresAt: str(b.noise_session?.expires_at, 'noise_session.expires_at') };
}

export async function logoutToken(base: string, token: string): Promise<void> {
  await call(base, '/api/auth/logout', { method: 'POST', token });
}

/** One PUT /api/keys (a whole set, or one page with `range`); the devices the cloud refused come back one by one. */
export async function publishKeys(base: string, token: string, devices: DirectoryDevice[], range?: PublishKeysRequest['range']): Promise<PublishRefusal[]> {
  const body = await call(base, '/api/keys', { method: 'PUT', token, body: range ? { devices, range } : { devices } });
  // A cloud from before per-device refusals answers {devices} alone: nothing was refused.
  const parsed = PublishKeysResponse.safeParse(body);
  if (!parsed.success) throw new CloudCallError('rejected', 200, 'bad_response', `the cloud's answer to publishing keys is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data.refused;
}

export async function fetchDirectory(base: string, token: string): Promise<DirectoryEntry[]> {
  const parsed = DirectoryResponse.safeParse(await call(base, '/api/keys', { method: 'GET', token }));
  if (!parsed.success) throw new CloudCallError('rejected', 200, 'bad_response', `the cloud's key directory is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data.devices;
}
