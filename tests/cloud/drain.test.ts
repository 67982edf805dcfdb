// An instance behind a load balancer: /readyz says it takes traffic while its database answers; on drain
// (SIGTERM) /readyz turns 503 at once, live relay sockets are closed with 1012 so their nodes reconnect
// elsewhere, new relay and handshake sockets are refused with 503 draining, /healthz stays 200 (the process is
// alive); the built cloud drains on SIGTERM, then exits 0.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { requireBuild, startCloudProcess } from '../relay/processes.js';
import { withCloud } from './account-helpers.js';
import { loginNode, RelayListener } from './blob-helpers.js';

const otp = new MemoryOtpSender();

/** The status and cloud error code of a refused WebSocket upgrade (or 101). */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; error: string | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('upgrade', () => {
      ws.close();
      resolve({ status: 101, error: null });
    });
    ws.on('unexpected-response', (_req, res) => {
      const e = res.headers['x-cloud-error'];
      resolve({ status: res.statusCode ?? 0, error: (Array.isArray(e) ? e[0] : e) ?? null });
      res.resume();
    });
    ws.on('error', () => {});
  });
}

describe('readiness and drain', () => {
  it('ready while the database answers; drain moves relay sockets off (1012) and refuses new ones', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const ready = await fetch(`${cloud.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ready: true, database: 'ok', bus: 'none' });
      const node = await loginNode(cloud, otp);
      const relay = await RelayListener.connect(cloud, node);
      const closed = new Promise<number>((r) => relay.ws.on('close', (code) => r(code)));

      const drained = cloud.drain(200);
      assert.equal(await closed, 1012, 'told to reconnect elsewhere');
      const during = await fetch(`${cloud.url}/readyz`);
      assert.equal(during.status, 503);
      assert.equal(((await during.json()) as { error: string }).error, 'draining');
      assert.equal((await fetch(`${cloud.url}/healthz`)).status, 200, 'alive all the same');
      const again = await upgrade(`${cloud.url.replace('http', 'ws')}/v1/relay`, { authorization: `Noise ${node.token}` });
      assert.deepEqual(again, { status: 503, error: 'draining' });
      const handshake = await upgrade(`${cloud.url.replace('http', 'ws')}/v1/noise?pattern=NX`);
      assert.deepEqual(handshake, { status: 503, error: 'draining' });
      assert.equal(await drained, 1, 'one socket moved');
    }));

  it("an instance's metrics carry its name", () =>
    withCloud({ otpSender: otp, instance: 'cloud-2' }, async (cloud) => {
      const text = await (await fetch(`${cloud.url}/metrics`)).text();
      const series = text.split('\n').filter((l) => l.startsWith('salita_cloud_telemetry_events_total{'));
      assert.ok(series.length > 0);
      assert.ok(
        series.every((l) => l.includes('instance="cloud-2"')),
        series[0],
      );
    }));

  it('the built cloud drains on SIGTERM (readyz 503 meanwhile), then exits 0', async () => {
    requireBuild();
    const cloud = await startCloudProcess({ drainMs: 1_500 });
    assert.equal((await fetch(`${cloud.url}/readyz`)).status, 200);
    cloud.proc.child.kill('SIGTERM');
    await cloud.proc.waitLine(/draining: \/readyz says 503/);
    assert.equal((await fetch(`${cloud.url}/readyz`)).status, 503);
    const exit = await cloud.proc.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});
