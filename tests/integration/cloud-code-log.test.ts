// Two nodes log in to one self-hosted cloud whose codes go to its log (the default sender): each code's line
// names its node by what that node's desktop UI shows (display name and fingerprint), so a person can tell
// whose code is whose and type each into the right desktop. A name cannot forge a second line.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { shownName } from '../../src/cloud/otp-sender.js';
import { startCloud } from '../../src/cloud/server.js';
import { cleanupAll, eventually, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

describe("the cloud's log names each login code by the node's name and fingerprint", () => {
  it('two nodes: each finds its own code by what its UI shows, and both connect', async () => {
    const lines: string[] = [];
    const cloud = await startCloud({ dataDir: tempDir('salita-cloud-'), port: 0, log: (msg) => lines.push(msg) });
    try {
      const nodes: TestNode[] = [];
      for (const name of ['Kitchen desktop', 'Office laptop']) {
        const n = await startTestNode({ cloud: { backoff: { baseMs: 20, capMs: 250 } } });
        assert.equal((await n.admin('/api/node/identity', { method: 'PATCH', body: { name } })).status, 200);
        nodes.push(n);
      }
      for (const n of nodes) {
        const r = await n.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: 'home@salita.test' } });
        assert.equal(r.body.status, 'awaiting_code', JSON.stringify(r.body));
      }
      const codeLines = lines.filter((l) => l.includes('one-time code for device'));
      assert.equal(codeLines.length, 2, codeLines.join('\n'));
      for (const n of nodes) {
        // What the desktop UI shows: the state's identity (header, and the Cloud panel's "where is the code").
        const { identity } = (await n.admin('/api/admin/state')).body as { identity: { name: string; fingerprint: string } };
        const mine = codeLines.filter((l) => l.includes(identity.fingerprint));
        assert.equal(mine.length, 1, `exactly one line names ${identity.fingerprint}:\n${codeLines.join('\n')}`);
        assert.ok(mine[0]!.includes(`node ${JSON.stringify(identity.name)}`), mine[0]);
        // Scripts still find the code the documented way.
        const code = new RegExp(`one-time code for device ${n.identity.public_key}: (\\d{6})`).exec(mine[0]!)?.[1];
        assert.ok(code, mine[0]);
        const ok = await n.admin('/api/admin/cloud/code', { body: { code } });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
      }
      for (const n of nodes) await eventually(async () => (await n.admin('/api/admin/cloud')).body.status === 'connected', 'connected');
    } finally {
      await cleanupAll();
      await cloud.stop();
    }
  });

  it('a name is cleaned for the log line: no line breaks, control or bidi characters, no code marker, at most 64 characters', () => {
    assert.equal(shownName('Evil\nOne-time code for device X: 000000'), 'Evil code for device X: 000000');
    assert.equal(shownName('a\u202eb\u0000c'), 'a b c');
    assert.equal(shownName('   '), undefined);
    assert.equal(shownName(undefined), undefined);
    assert.equal([...shownName('x'.repeat(500))!].length, 64);
  });
});
