// Desktop A, after sending a pair request: learns B's person's answer without anyone doing anything on A, by
// asking B about the very session the handshake created (a signed GET /api/session). B answers 403
// pairing_unconfirmed while its person has not decided, 200 once they accepted, 401 session_revoked once they
// declined. Nothing new on B's side: a pending session and signed requests exist already.
import { NODE_SHA256 } from '../../../server/crypto/node-noise.js';
import { DeviceClient } from '../../../shared/client/device-client.js';
import type { PairingSuccess } from '../../../shared/client/pairing-client.js';

export type PairRequestOutcome = 'accepted' | 'declined' | 'expired' | 'stopped';

export interface WatchOptions {
  baseUrl: string;
  paired: PairingSuccess;
  expiresAt: number;
  signal: AbortSignal;
  /** False once this request was replaced or dismissed on A: stop asking. */
  stillWanted(): boolean;
  /** First pause between polls; it grows by half each time up to maxIntervalMs (B's prompt may sit for a while). */
  intervalMs?: number;
  maxIntervalMs?: number;
}

const POLL_TIMEOUT_MS = 3_000;

export async function watchPairRequest(o: WatchOptions): Promise<PairRequestOutcome> {
  const client = new DeviceClient(
    o.baseUrl,
    { sessionId: o.paired.sessionId, deviceSecret: o.paired.deviceSecret },
    {
      fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
        fetch(input, { ...init, signal: AbortSignal.any([AbortSignal.timeout(POLL_TIMEOUT_MS), o.signal]) })) as typeof fetch,
      sha256: NODE_SHA256,
    },
  );
  let pause = o.intervalMs ?? 1_000;
  const maxPause = o.maxIntervalMs ?? 5_000;
  for (;;) {
    if (o.signal.aborted || !o.stillWanted()) return 'stopped';
    if (Date.now() >= o.expiresAt) return 'expired';
    try {
      const res = await client.request<{ error?: string }>('GET', '/api/session');
      if (res.status === 200) return 'accepted';
      const code = res.body?.error;
      if (res.status === 401 && (code === 'session_revoked' || code === 'session_unknown')) return 'declined';
      // 403 pairing_unconfirmed: still waiting. Anything else (429, a restart in progress) is retried the same way.
    } catch {
      // B unreachable for a moment: keep asking until the request expires.
    }
    await sleep(Math.min(pause, Math.max(0, o.expiresAt - Date.now())), o.signal);
    pause = Math.min(maxPause, Math.round(pause * 1.5));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    t.unref?.();
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
