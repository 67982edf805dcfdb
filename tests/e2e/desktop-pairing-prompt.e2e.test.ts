// Desktop<->desktop pairing, the one flow, through both desktop UIs. A types B's address and presses Pair; A shows "Waiting for B…" with the code; B
// shows "Accept pairing from A?" with the same code; Accept on B pairs both, A's status says so without anyone
// touching A. Decline on B: A's status says B declined. Only the new flow is offered (no PIN, no linking code).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

describe('desktop UI: pairing by request, accepted on the other desktop (Chromium)', { skip }, () => {
  const browser = useChromium();

  async function openBoth(a: Awaited<ReturnType<typeof startTestNode>>, b: Awaited<ReturnType<typeof startTestNode>>) {
    const ctx = await browser.newContext();
    const pageA = await ctx.newPage();
    const pageB = await ctx.newPage();
    await pageA.goto(a.adminUrl);
    await pageB.goto(b.adminUrl);
    await pageA.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageB.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    return { ctx, pageA, pageB };
  }

  test('pair by address: same code on both screens, Accept on B, A learns it by itself', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const { ctx, pageA, pageB } = await openBoth(a, b);
    assert.equal(await pageA.getByTestId('manual-pair').locator('input[name="pin"]').count(), 0, 'no PIN to type');
    await pageA.getByTestId('manual-pair-target').fill(`127.0.0.1:${b.port}`);
    await pageA.getByTestId('manual-pair-submit').click();

    const status = pageA.locator('[data-testid="pair-request-status"][data-state="waiting"]');
    await status.waitFor(WAIT);
    const codeOnA = (await status.locator('.sas').textContent())!.replace(/\D/g, '');
    assert.match(codeOnA, /^\d{6}$/);

    const prompt = pageB.getByTestId('pending-pairing').filter({ hasText: `Accept pairing from ${a.identity.name}?` });
    await prompt.waitFor(WAIT);
    assert.equal((await prompt.locator('.sas').textContent())!.replace(/\D/g, ''), codeOnA, 'both screens show the same code');
    await prompt.getByTestId('pairing-prompt-accept').click();
    await prompt.waitFor({ state: 'detached', ...WAIT });

    await pageA.locator('[data-testid="pair-request-status"][data-state="accepted"]').waitFor(WAIT);
    await pageA.locator(`[data-testid="device-row"][data-node-id="${b.identity.node_id}"]`).waitFor(WAIT);
    await pageB.locator(`[data-testid="device-row"][data-node-id="${a.identity.node_id}"]`).waitFor(WAIT);
    await ctx.close();
  });

  test('Decline on B: A says B declined, neither lists the other', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const { ctx, pageA, pageB } = await openBoth(a, b);
    await pageA.getByTestId('manual-pair-target').fill(`127.0.0.1:${b.port}`);
    await pageA.getByTestId('manual-pair-submit').click();
    const prompt = pageB.getByTestId('pending-pairing').filter({ hasText: a.identity.name });
    await prompt.waitFor(WAIT);
    await prompt.getByTestId('pairing-prompt-decline').click();
    await prompt.waitFor({ state: 'detached', ...WAIT });
    await pageA.locator('[data-testid="pair-request-status"][data-state="declined"]').filter({ hasText: 'declined' }).waitFor(WAIT);
    assert.equal((await a.admin('/api/admin/state')).body.devices.length, 0);
    assert.equal((await b.admin('/api/admin/state')).body.devices.length, 0);
    await ctx.close();
  });

  test('an unreachable address shows the failure next to the form', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const port = b.port;
    await b.stop();
    const ctx = await browser.newContext();
    const pageA = await ctx.newPage();
    await pageA.goto(a.adminUrl);
    await pageA.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageA.getByTestId('manual-pair-target').fill(`127.0.0.1:${port}`);
    await pageA.getByTestId('manual-pair-submit').click();
    await pageA.locator('[data-testid="pair-request-status"][data-state="failed"]').waitFor(WAIT);
    await ctx.close();
  });

  test('a typo in the address is explained before anything is sent', async () => {
    const a = await startTestNode();
    const ctx = await browser.newContext();
    const pageA = await ctx.newPage();
    await pageA.goto(a.adminUrl);
    await pageA.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageA.getByTestId('manual-pair-target').fill('not an address!');
    await pageA.getByTestId('manual-pair-submit').click();
    await pageA
      .getByTestId('manual-pair-error')
      .filter({ hasText: /address/ })
      .waitFor(WAIT);
    await ctx.close();
  });
  /** Accept on B's prompt, and wait until both UIs list each other as paired (A without anyone touching it). */
  async function acceptOnB(pageA: import('playwright-core').Page, a: TestNode, pageB: import('playwright-core').Page, b: TestNode) {
    const prompt = pageB.getByTestId('pending-pairing').filter({ hasText: `Accept pairing from ${a.identity.name}?` });
    await prompt.waitFor(WAIT);
    await prompt.getByTestId('pairing-prompt-accept').click();
    await pageA.locator('[data-testid="pair-request-status"][data-state="accepted"]').waitFor(WAIT);
    await pageA.locator(`[data-testid="device-row"][data-node-id="${b.identity.node_id}"]`).waitFor(WAIT);
    await pageB.locator(`[data-testid="device-row"][data-node-id="${a.identity.node_id}"]`).waitFor(WAIT);
  }

  test("a pasted pairing link (B's Connect device panel) pairs by request, with B's key pinned from the link", async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const { ctx, pageA, pageB } = await openBoth(a, b);
    await pageB.getByTestId('connect-device').click();
    const shown = new URL((await pageB.getByTestId('pair-url').textContent({ timeout: WAIT.timeout }))!);
    // The link carries a LAN address; the test node listens on loopback.
    const link = `http://127.0.0.1:${b.port}${shown.pathname}${shown.search}`;
    const bodies: unknown[] = [];
    pageA.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/pair-requests') bodies.push(r.postDataJSON());
    });
    await pageA.getByTestId('manual-pair-target').fill(link);
    await pageA.getByTestId('manual-pair-submit').click();
    await acceptOnB(pageA, a, pageB, b);
    assert.deepEqual(bodies, [{ url: link }]);
    const mine = (await a.admin('/api/admin/state')).body.devices.find((d: { node_id: string }) => d.node_id === b.identity.node_id);
    assert.equal(mine?.fingerprint, b.identity.fingerprint);
    await ctx.close();
  });

  test('an IPv6 address in brackets ([::1]:port) works the same way', async (t) => {
    const a = await startTestNode();
    let b: TestNode;
    try {
      b = await startTestNode({ host: '::1' });
    } catch (err) {
      t.skip(`this machine cannot listen on ::1 (${(err as Error).message})`);
      return;
    }
    const ctx = await browser.newContext();
    const pageA = await ctx.newPage();
    const pageB = await ctx.newPage();
    await pageA.goto(a.adminUrl);
    await pageB.goto(`http://[::1]:${b.port}/#admin=${b.adminToken}`);
    await pageA.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageB.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageA.getByTestId('manual-pair-target').fill(`[::1]:${b.port}`);
    await pageA.getByTestId('manual-pair-submit').click();
    await acceptOnB(pageA, a, pageB, b);
    await ctx.close();
  });
});
