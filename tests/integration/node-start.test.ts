// The node while it starts: the listener is up before mDNS has finished probing, so the desktop UI may already
// change things. A rename in that window is answered (never a 500) and reaches mDNS once its probe is over.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';
import { FakeDiscovery } from './network-helpers.js';

after(cleanupAll);

/** mDNS whose probe lasts until the test lets it end; records each rename and whether it came mid-probe. */
class SlowProbeDiscovery extends FakeDiscovery {
  probing = false;
  renames: { name: string; midProbe: boolean }[] = [];
  private endProbe!: () => void;
  private readonly probeEnds = new Promise<void>((resolve) => {
    this.endProbe = resolve;
  });
  private probeBegan!: () => void;
  readonly probeBegins = new Promise<void>((resolve) => {
    this.probeBegan = resolve;
  });

  override async start(): Promise<void> {
    this.probing = true;
    this.probeBegan();
    await this.probeEnds;
    this.probing = false;
    this.running = true;
  }

  override async rename(name: string): Promise<void> {
    this.renames.push({ name, midProbe: this.probing });
  }

  finishProbe(): void {
    this.endProbe();
  }
}

describe('a node that is still starting', () => {
  test('a rename while mDNS probes answers 200 with the new name; mDNS is renamed once the probe is over', async () => {
    const discovery = new SlowProbeDiscovery();
    const port = await freePort();
    const adminToken = 'starting-node-admin-token';
    const starting = startTestNode({ port, strictPort: true, discovery, adminToken });
    await discovery.probeBegins;

    let res: Response;
    let body: { name?: string; error?: string };
    let renamesMidProbe: SlowProbeDiscovery['renames'];
    try {
      res = await fetch(`http://127.0.0.1:${port}/api/node/identity`, {
        method: 'PATCH',
        headers: { authorization: `Admin ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Renamed While Probing' }),
      });
      body = (await res.json()) as { name?: string; error?: string };
      renamesMidProbe = [...discovery.renames];
    } finally {
      // Whatever the answer, let the start finish so the node can be stopped.
      discovery.finishProbe();
    }
    const node = await starting;
    assert.equal(res.status, 200, `rename during start answered ${res.status} ${JSON.stringify(body)}`);
    assert.equal(body.name, 'Renamed While Probing');
    assert.deepEqual(renamesMidProbe, [], 'mDNS is not asked to rename in the middle of its probe');
    assert.equal(node.identity.name, 'Renamed While Probing');
    await eventually(() => discovery.renames.length > 0, 'mDNS renamed after its probe');
    assert.deepEqual(discovery.renames, [{ name: 'Renamed While Probing', midProbe: false }]);
    const identity = await node.admin('/api/node/identity');
    assert.equal(identity.body.name, 'Renamed While Probing');
  });
});
