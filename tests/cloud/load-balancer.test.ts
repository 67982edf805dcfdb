// Two cloud instances behind a real HAProxy that checks /readyz: new connections go to both; once one drains
// (SIGTERM's first step) its /readyz says 503, HAProxy takes it out, and every new connection goes to the other.
// (The instances here keep separate stores: what this shows is readiness and drain at a real load balancer.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunningCloud } from '../../src/cloud/server.js';
import { haproxySkipReason, startHaproxy } from '../helpers/haproxy.js';
import { withCloud } from './account-helpers.js';

/** Which instance answered: /healthz names the cloud's static key. */
const keyOf = (c: RunningCloud) => Buffer.from(c.publicKey).toString('base64url');

describe('cloud instances behind HAProxy', { skip: haproxySkipReason(), timeout: 120_000 }, () => {
  it('spreads new connections over ready instances; a draining one gets none', () =>
    withCloud({}, (one) =>
      withCloud({}, async (two) => {
        const lb = await startHaproxy([one, two]);
        try {
          const answered = async (n: number) => {
            const seen = new Map<string, number>();
            for (let i = 0; i < n; i++) {
              const res = await fetch(`${lb.url}/healthz`, { headers: { connection: 'close' } });
              // Before its first checks pass HAProxy has no server to offer (its own 503 page).
              if (!res.ok) {
                await res.body?.cancel();
                continue;
              }
              const h = (await res.json()) as { cloud_static_key: string };
              seen.set(h.cloud_static_key, (seen.get(h.cloud_static_key) ?? 0) + 1);
            }
            return seen;
          };
          // Both up (HAProxy's first checks may take a moment: round robin over the two once both passed).
          for (;;) {
            const seen = await answered(10);
            if (seen.size === 2) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          const draining = one.drain(1_000);
          for (;;) {
            const seen = await answered(10);
            if (seen.size === 1 && seen.has(keyOf(two))) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          const after = await answered(20);
          assert.deepEqual([...after.keys()], [keyOf(two)], 'every new connection goes to the ready instance');
          await draining;
        } finally {
          await lb.stop();
        }
      }),
    ));
});
