// How the node learns that the person finished (or gave up) a browser sign-in: the cloud pushes session_update on
// the WebSocket topic `external_session:<session_token>`; where the socket cannot be used (refused, dropped, a
// proxy in between) the node polls GET /api/auth/external/sessions/:token every EXTERNAL_POLL_MS instead. It
// reports each state once it changed, and the final one (approved or failed) exactly once, then stops.
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  EXTERNAL_EVENTS_PATH,
  EXTERNAL_POLL_MS,
  type ExternalSessionState,
  ExternalSessionUpdate,
  externalSessionTopic,
} from '../../../shared/wire/external-login.js';
import { CloudCallError, fetchExternalSession } from './cloud-api.js';

export interface ExternalSessionWatch {
  stop(): void;
}

export interface WatchOptions {
  url: string;
  sessionToken: string;
  log: Logger;
  /** Every change of state; the last call is approved or failed. A failed read that cannot go on is `failed`. */
  onState: (s: ExternalSessionState) => void;
  pollMs?: number;
  /** Tests: never open the socket (the polling path alone). */
  noSocket?: boolean;
}

export function watchExternalSession(o: WatchOptions): ExternalSessionWatch {
  let done = false;
  let last = '';
  let socket: WebSocket | undefined;
  let poll: NodeJS.Timeout | undefined;
  const report = (s: ExternalSessionState) => {
    if (done) return;
    const key = `${s.status}:${s.error ?? ''}`;
    if (key === last && s.status === 'pending') return;
    last = key;
    if (s.status !== 'pending') stop();
    o.onState(s);
  };
  const stop = () => {
    done = true;
    clearTimeout(poll);
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  };
  const startPolling = () => {
    if (done || poll) return;
    o.log.info('the sign-in socket is not usable: polling the cloud for the outcome');
    const tick = async () => {
      poll = undefined;
      if (done) return;
      try {
        report(await fetchExternalSession(o.url, o.sessionToken));
      } catch (err) {
        // A 4xx is the cloud's last word (gone, used, expired); a network error is tried again.
        if (err instanceof CloudCallError && err.kind === 'rejected' && err.status >= 400 && err.status < 500) {
          report({ status: 'failed', method: 'passkey', expires_at: '', error: err.cloudError });
          return;
        }
        o.log.debug({ err: (err as Error).message }, 'polling the sign-in failed; trying again');
      }
      if (!done) poll = setTimeout(() => void tick(), o.pollMs ?? EXTERNAL_POLL_MS);
      poll?.unref();
    };
    void tick();
  };
  if (o.noSocket) {
    startPolling();
  } else {
    socket = new WebSocket(o.url.replace(/^http/, 'ws') + EXTERNAL_EVENTS_PATH);
    socket.on('open', () => socket?.send(JSON.stringify({ type: 'subscribe', topic: externalSessionTopic(o.sessionToken) })));
    socket.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      const u = ExternalSessionUpdate.safeParse(frame);
      if (u.success) {
        const { type: _t, topic: _topic, ...state } = u.data;
        report(state);
      }
    });
    socket.on('error', (err) => o.log.debug({ err: err.message }, 'the sign-in socket failed'));
    // Closed before the outcome (refused, dropped): the polling takes over.
    socket.on('close', () => {
      if (!done) startPolling();
    });
  }
  return { stop };
}
