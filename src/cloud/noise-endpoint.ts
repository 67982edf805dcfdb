// WS /v1/noise: the cloud is the Noise responder. Framing (docs/cloud.md): `?pattern=NX` (default) or
// `?pattern=IK`; frame 1 (client -> cloud, binary) = handshake message 1; frame 2 (cloud -> client, binary) =
// handshake message 2, whose payload is the JSON Session ({session_id, session_token, expires_at}); then the
// cloud closes with 1000. Any failure: one text frame `{"error","message"}` and close 4400 (client's fault) or
// 4500 (ours).

import type { WSContext, WSEvents } from 'hono/ws';
import { NODE_NOISE_SUITE } from '../server/crypto/node-noise.js';
import {
  CLOUD_NOISE_PROLOGUE,
  type CloudNoisePattern,
  cloudNoiseProtocol,
  type NoiseHello,
  type NoiseSessionPayload,
} from '../shared/cloud/noise-login.js';
import { HandshakeState, type KeyPair, NoiseError } from '../shared/crypto/noise/index.js';
import type { AuthService } from './auth-service.js';
import { CloudError } from './errors.js';
import type { Logger } from './log.js';
import type { Telemetry } from './telemetry.js';

export { CLOUD_NOISE_PROLOGUE, type CloudNoisePattern, cloudNoiseProtocol, type NoiseHello, type NoiseSessionPayload };

export const NOISE_CLOSE_OK = 1000;
export const NOISE_CLOSE_CLIENT_ERROR = 4400;
export const NOISE_CLOSE_SERVER_ERROR = 4500;
/** The cloud holds too many unfinished handshakes (`too_many_attempts`): try again later. */
export const NOISE_CLOSE_TOO_MANY = 4429;
const FIRST_MESSAGE_TIMEOUT_MS = 15_000;

export function noiseSocket(opts: {
  pattern: string | undefined;
  staticKey: KeyPair;
  auth: AuthService;
  telemetry: Telemetry;
  log: Logger;
}): WSEvents {
  const pattern = (opts.pattern ?? 'NX').toUpperCase();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const fail = (ws: WSContext, code: number, error: string, message: string) => {
    done = true;
    if (timer) clearTimeout(timer);
    ws.send(JSON.stringify({ error, message }));
    ws.close(code, error);
  };
  return {
    onOpen(_evt, ws) {
      if (pattern !== 'NX' && pattern !== 'IK') return fail(ws, NOISE_CLOSE_CLIENT_ERROR, 'invalid_request', 'pattern must be NX or IK');
      timer = setTimeout(
        () => fail(ws, NOISE_CLOSE_CLIENT_ERROR, 'noise_handshake_timeout', 'no handshake message received'),
        FIRST_MESSAGE_TIMEOUT_MS,
      );
    },
    async onMessage(evt, ws) {
      if (done) return;
      const p = pattern as CloudNoisePattern;
      if (!(evt.data instanceof ArrayBuffer))
        return fail(ws, NOISE_CLOSE_CLIENT_ERROR, 'invalid_request', 'handshake messages are binary frames');
      clearTimeout(timer);
      // One message per handshake: a second one while the session is being stored is ignored.
      done = true;
      const started = performance.now();
      opts.telemetry.emit({ name: 'messngr.noise.handshake.start', pattern: p });
      try {
        const hs = new HandshakeState({
          protocol: cloudNoiseProtocol(p),
          initiator: false,
          s: opts.staticKey,
          prologue: CLOUD_NOISE_PROLOGUE,
          ...NODE_NOISE_SUITE,
        });
        const payload = hs.readMessage(new Uint8Array(evt.data));
        let clientKey: Uint8Array | undefined;
        if (p === 'IK') {
          clientKey = hs.remoteStaticKey();
        } else {
          let hello: NoiseHello;
          try {
            hello = JSON.parse(new TextDecoder().decode(payload)) as NoiseHello;
          } catch {
            hello = {};
          }
          const raw = typeof hello.client_static_key === 'string' ? Buffer.from(hello.client_static_key, 'base64url') : undefined;
          if (raw?.length === 32) clientKey = new Uint8Array(raw);
        }
        if (!clientKey) throw new NoiseError('invalid_argument', 'NX message 1 payload must be {"client_static_key": base64url(32 bytes)}');
        // Message 2 mixes more into h, so the Session is created with the final hash after writing it; the
        // session id and secret are drawn first and written in the same step.
        const pending = opts.auth.reserveNoiseSession();
        const out: NoiseSessionPayload = {
          session_id: pending.id,
          session_token: Buffer.from(pending.sessionToken).toString('base64url'),
          expires_at: pending.expiresAt,
          pattern: p,
        };
        const msg2 = hs.writeMessage(new TextEncoder().encode(JSON.stringify(out)));
        const { handshakeHash } = hs.split();
        await opts.auth.storeNoiseSession(pending, { pattern: p, handshakeHash, clientStaticKey: clientKey, proven: p === 'IK' });
        ws.send(new Uint8Array(msg2));
        ws.close(NOISE_CLOSE_OK, 'handshake complete');
        opts.telemetry.emit({
          name: 'messngr.noise.handshake.stop',
          pattern: p,
          sessionId: pending.id,
          durationMs: performance.now() - started,
        });
      } catch (err) {
        const code = err instanceof NoiseError || err instanceof CloudError ? err.code : 'internal_error';
        opts.telemetry.emit({ name: 'messngr.noise.handshake.exception', pattern: p, code, durationMs: performance.now() - started });
        if (err instanceof CloudError) {
          fail(ws, err.status === 429 ? NOISE_CLOSE_TOO_MANY : NOISE_CLOSE_CLIENT_ERROR, err.code, err.message);
        } else if (err instanceof NoiseError) {
          fail(
            ws,
            NOISE_CLOSE_CLIENT_ERROR,
            'noise_handshake_failed',
            `${p} handshake failed (${err.code}): ${err.message}${p === 'IK' && err.code === 'decrypt_failed' ? " (was the cloud's static key you pinned replaced?)" : ''}`,
          );
        } else {
          opts.log.error({ err }, 'noise handshake: unexpected error');
          fail(ws, NOISE_CLOSE_SERVER_ERROR, 'internal_error', 'unexpected error');
        }
      }
    },
    onClose() {
      done = true;
      if (timer) clearTimeout(timer);
    },
  };
}
