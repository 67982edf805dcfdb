// The node's side of the cloud's Noise handshake (WS /v1/noise); the cloud link and the tests use it.
// It pins the cloud's static key: IK needs it, and an NX answer with another key than the pinned one is an error.
import WebSocket from 'ws';
import { NODE_NOISE_SUITE } from '../../../server/crypto/node-noise.js';
import {
  CLOUD_NOISE_PROLOGUE,
  type CloudNoisePattern,
  cloudNoiseProtocol,
  type NoiseSessionPayload,
  noiseSignature,
} from '../../../shared/cloud/noise-login.js';
import { HandshakeState, type KeyPair } from '../../../shared/crypto/noise/index.js';
import { CloudErrorBody } from '../../../shared/wire/cloud.js';

export class CloudHandshakeError extends Error {
  constructor(
    public readonly code: 'cloud_key_changed' | 'noise_handshake_failed' | 'connection_failed',
    message: string,
    public readonly serverError?: CloudErrorBody,
  ) {
    super(message);
    this.name = 'CloudHandshakeError';
  }
}

export interface CloudNoiseSession {
  pattern: CloudNoisePattern;
  sessionId: string;
  sessionToken: Uint8Array;
  handshakeHash: Uint8Array;
  cloudStaticKey: Uint8Array;
  expiresAt: string;
  completedAt: string;
  /** base64url(HMAC-SHA256(session_token, handshake_hash)), for /api/auth/verify. */
  signature: string;
}

const wsUrl = (base: string, path: string) => base.replace(/^http/, 'ws') + path;

export interface CloudHandshakeOptions {
  url: string;
  staticKey: KeyPair;
  pinnedCloudKey?: Uint8Array | undefined;
  /**
   * Ends the handshake: its socket is torn down (not left open to a cloud that never answers) and the promise
   * rejects with connection_failed. AbortSignal.timeout(ms) makes a deadline.
   */
  signal?: AbortSignal | undefined;
}

function abortError(url: string, signal: AbortSignal): CloudHandshakeError {
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  return new CloudHandshakeError(
    'connection_failed',
    reason?.name === 'TimeoutError'
      ? `the Noise handshake with ${url} took too long; it was cut off`
      : `the Noise handshake with ${url} was aborted${reason?.message ? `: ${reason.message}` : ''}`,
  );
}

/**
 * The deadline of a handshake whose caller gave none: a cloud that accepts the socket and never answers must not
 * hold a login (or a test) forever.
 */
export const DEFAULT_HANDSHAKE_DEADLINE_MS = 30_000;

/** IK when a pinned key is given, else NX. Rejects with CloudHandshakeError. */
export function cloudHandshake(options: CloudHandshakeOptions): Promise<CloudNoiseSession> {
  const opts = { ...options, signal: options.signal ?? AbortSignal.timeout(DEFAULT_HANDSHAKE_DEADLINE_MS) };
  if (opts.signal.aborted) return Promise.reject(abortError(opts.url, opts.signal));
  const pattern: CloudNoisePattern = opts.pinnedCloudKey ? 'IK' : 'NX';
  const hs = new HandshakeState({
    protocol: cloudNoiseProtocol(pattern),
    initiator: true,
    s: opts.staticKey,
    prologue: CLOUD_NOISE_PROLOGUE,
    ...(opts.pinnedCloudKey ? { rs: opts.pinnedCloudKey } : {}),
    ...NODE_NOISE_SUITE,
  });
  const hello = pattern === 'NX' ? { client_static_key: Buffer.from(opts.staticKey.publicKey).toString('base64url') } : {};
  const m1 = hs.writeMessage(new TextEncoder().encode(JSON.stringify(hello)));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(opts.url, `/v1/noise?pattern=${pattern}`));
    let settled = false;
    const onAbort = () => {
      settle(() => reject(abortError(opts.url, opts.signal)));
      // close() would wait for the cloud's close frame, which a stuck cloud never sends: drop the socket now.
      ws.terminate();
    };
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        opts.signal.removeEventListener('abort', onAbort);
        fn();
      }
      ws.close();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    ws.on('open', () => ws.send(m1));
    ws.on('error', (err) => settle(() => reject(new CloudHandshakeError('connection_failed', `cannot reach ${opts.url}: ${err.message}`))));
    ws.on('close', (code, reason) =>
      settle(() =>
        reject(new CloudHandshakeError('noise_handshake_failed', `the cloud closed the handshake (${code} ${reason.toString()})`)),
      ),
    );
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        // The cloud's one text frame is its {error, message}; anything else is shown as it came.
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(data));
        } catch {
          /* keep raw */
        }
        const known = CloudErrorBody.safeParse(parsed);
        const body: CloudErrorBody = known.success ? known.data : { error: 'unknown', message: String(data) };
        const pinned = pattern === 'IK';
        return settle(() =>
          reject(
            new CloudHandshakeError(
              pinned ? 'cloud_key_changed' : 'noise_handshake_failed',
              pinned
                ? `WARNING: the IK handshake with the pinned cloud key failed (${body.error}: ${body.message}). The cloud's static key may have changed: do not trust it until you have checked why.`
                : `handshake failed: ${body.error}: ${body.message}`,
              body,
            ),
          ),
        );
      }
      settle(() => {
        try {
          const payload = JSON.parse(new TextDecoder().decode(hs.readMessage(new Uint8Array(data as Buffer)))) as NoiseSessionPayload;
          const { handshakeHash } = hs.split();
          const cloudStaticKey = hs.remoteStaticKey()!;
          const sessionToken = new Uint8Array(Buffer.from(payload.session_token, 'base64url'));
          resolve({
            pattern,
            sessionId: payload.session_id,
            sessionToken,
            handshakeHash,
            cloudStaticKey,
            expiresAt: payload.expires_at,
            completedAt: new Date().toISOString(),
            signature: noiseSignature(sessionToken, handshakeHash),
          });
        } catch (err) {
          reject(new CloudHandshakeError('noise_handshake_failed', `bad handshake answer: ${(err as Error).message}`));
        }
      });
    });
  });
}

/**
 * A Session that proved this node's key: IK with the pinned cloud key; on first contact (or preferIK: false)
 * NX to learn the cloud's key (compared with a pin, if any), then IK with it. The NX Session itself is never
 * used: NX only states the client key, and the cloud gives a login or a refresh only to a proven one.
 */
export async function cloudHandshakeWithPin(opts: CloudHandshakeOptions & { preferIK?: boolean }): Promise<CloudNoiseSession> {
  if (opts.pinnedCloudKey && opts.preferIK !== false) return cloudHandshake(opts);
  const s = await cloudHandshake({ url: opts.url, staticKey: opts.staticKey, signal: opts.signal });
  if (opts.pinnedCloudKey && !Buffer.from(opts.pinnedCloudKey).equals(Buffer.from(s.cloudStaticKey))) {
    throw new CloudHandshakeError(
      'cloud_key_changed',
      `WARNING: the cloud's static key changed (pinned ${Buffer.from(opts.pinnedCloudKey).toString('base64url')}, got ${Buffer.from(s.cloudStaticKey).toString('base64url')})`,
    );
  }
  return cloudHandshake({ url: opts.url, staticKey: opts.staticKey, pinnedCloudKey: s.cloudStaticKey, signal: opts.signal });
}
