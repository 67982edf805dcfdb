// The Messages UI against the home-mesh wire contract, whatever the node's router does today: a real node
// serves the pages, and the test rewrites its answers in flight (the directory gains two desktops of the home,
// sends to their devices are answered as the contract says, status pushes are injected on the event socket,
// a state push says a paired desktop unpaired us). Checks the words a person reads: the To list grouped by
// desktop, "over your network" and "Seen", statuses that never go back, the offline banners, and
// "<name> unpaired this desktop" with a Remove that really unpairs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import type { Page, Route, WebSocketRoute } from 'playwright-core';
import { toBase64Url } from '../../src/shared/encoding.js';
import type { MessagingDirectory, MessagingDirectoryDevice } from '../../src/shared/wire/relay.js';
import { eventually, loopbackUrl, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

/** Two desktops of the home that exist only in the rewritten directory; their devices have real keys. */
function homeDesktops() {
  const key = () => toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));
  const state = { studyOnline: true, atticRoute: undefined as 'cloud' | undefined };
  const study: MessagingDirectoryDevice = {
    device_id: 'phone-study-0001',
    name: 'Study phone',
    kind: 'phone',
    public_key: key(),
    home: 'home',
    node_id: 'node-study',
    node_name: 'Study PC',
    route: 'lan',
  };
  const attic: MessagingDirectoryDevice = {
    device_id: 'phone-attic-0001',
    name: 'Attic phone',
    kind: 'phone',
    public_key: key(),
    home: 'home',
    node_id: 'node-attic',
    node_name: 'Attic PC',
  };
  const ids = new Set([study.device_id, attic.device_id]);
  return {
    state,
    study,
    attic,
    ids,
    rewrite(dir: MessagingDirectory): MessagingDirectory {
      const s = { ...study, ...(state.studyOnline ? {} : { route: undefined }) };
      const a = { ...attic, ...(state.atticRoute ? { route: state.atticRoute } : {}) };
      return {
        ...dir,
        devices: [...dir.devices, JSON.parse(JSON.stringify(s)), a],
        nodes: [
          ...dir.nodes,
          { node_id: 'node-attic', name: 'Attic PC', self: false, online: false },
          { node_id: 'node-study', name: 'Study PC', self: false, online: state.studyOnline },
        ],
      };
    },
  };
}

/** Answers the directory with the home desktops added; answers sends to their devices as a router would (202 queued). */
async function routeMessaging(
  page: Page,
  base: '/api/admin/messages' | '/api/messages',
  home: ReturnType<typeof homeDesktops>,
  sentIds: string[],
): Promise<void> {
  await page.route(
    (u) => u.pathname === `${base}/directory`,
    async (route: Route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, json: home.rewrite((await res.json()) as MessagingDirectory) });
    },
  );
  await page.route(
    (u) => u.pathname === base,
    async (route: Route) => {
      const req = route.request();
      const envelope = req.method() === 'POST' ? (req.postDataJSON() as { envelope?: { id: string; to: string[] } }).envelope : undefined;
      if (!envelope?.to.every((id) => home.ids.has(id))) return route.continue();
      sentIds.push(envelope.id);
      await route.fulfill({ status: 202, json: { id: envelope.id, status: 'queued' } });
    },
  );
  // Their devices have published no prekeys (as a device without sessions): the page seals to them with v1.
  await page.route(
    (u) => u.pathname.startsWith(`${base}/prekeys/`) && u.pathname.endsWith('/claim'),
    async (route: Route) => {
      const id = decodeURIComponent(route.request().url().split('/prekeys/')[1]!.split('/')[0]!);
      if (!home.ids.has(id)) return route.continue();
      await route.fulfill({ status: 404, json: { error: 'no_prekeys', message: `${id} has published no prekeys` } });
    },
  );
}

describe('messages UI against the home-mesh contract (Chromium, answers rewritten in flight)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  const collectErrors = (page: Page) => collectPageErrors(page);

  const messageOut = (page: Page, text: string) => page.locator('[data-testid="message"][data-dir="out"]').filter({ hasText: text });

  test('desktop UI: grouped To list, route and "Seen" in words, forward-only statuses, offline banners, a desktop that unpaired us', async () => {
    const a: TestNode = await startTestNode();
    const b: TestNode = await startTestNode();
    const p = await b.startPairing();
    assert.equal((await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } })).status, 200);
    const kitchen = await pairPhone(a);
    const kitchenId = kitchen.phone.identity.node_id;

    const home = homeDesktops();
    const sentIds: string[] = [];
    const ctx = await browser.newContext({ viewport: { width: 900, height: 1300 } });
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await routeMessaging(page, '/api/admin/messages', home, sentIds);

    // The admin socket through a proxy: state pushes can be replayed or rewritten, status pushes injected,
    // and the link cut (then refused) as if the node had gone.
    let toPage: WebSocketRoute | undefined;
    let lastState: { type: 'state'; state: { devices: { node_id: string; ended_by_peer_at?: string | null }[] } } | undefined;
    let endedBy: string | undefined;
    let refuse = false;
    const sendState = () => {
      if (!lastState || !toPage) return;
      const e = structuredClone(lastState);
      for (const d of e.state.devices) if (d.node_id === endedBy) d.ended_by_peer_at = new Date().toISOString();
      toPage.send(JSON.stringify(e));
    };
    await page.routeWebSocket(/\/api\/admin\/events$/, (ws) => {
      if (refuse) return void ws.close({ code: 1011, reason: 'test: node away' });
      toPage = ws;
      const server = ws.connectToServer();
      server.onMessage((m) => {
        const e = JSON.parse(String(m));
        if (e.type === 'state') {
          lastState = e;
          sendState();
        } else ws.send(String(m));
      });
    });
    await page.goto(a.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await page.locator('[data-testid="messages-panel"][data-device-id]').waitFor(WAIT);

    // ---- the To list, grouped by desktop ---------------------------------------------------------------------
    const group = (sel: string) => page.locator(`[data-testid="message-to"] optgroup${sel}`);
    await group(`[data-group="local"][label="This desktop"] option[value="${kitchenId}"]`).waitFor({ state: 'attached', ...WAIT });
    await group(`[data-node-id="node-study"][label="Study PC"] option[value="${home.study.device_id}"]`).waitFor({
      state: 'attached',
      ...WAIT,
    });
    await group(`[data-node-id="node-attic"][label="Attic PC (offline)"] option[value="${home.attic.device_id}"]`).waitFor({
      state: 'attached',
      ...WAIT,
    });
    const order = await page
      .locator('[data-testid="message-to"] optgroup')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptGroupElement).label));
    assert.deepEqual(order.slice(0, 3), ['This desktop', 'Attic PC (offline)', 'Study PC'], 'this desktop first, then the home by name');
    assert.match((await page.getByTestId('messages-cloud').textContent()) ?? '', /^Devices of this home are reached directly/);
    assert.doesNotMatch((await page.getByTestId('messages-panel').textContent()) ?? '', /not connected to a cloud/i);

    // ---- a message to a desktop of the home: queued, delivered over the network, seen; never back ------------
    await page.getByTestId('message-to').selectOption(home.study.device_id);
    assert.equal(await page.getByTestId('messages-banner').count(), 0, 'Study PC is online: no banner');
    await page.getByTestId('message-text').fill('To the study');
    await page.getByTestId('message-send').click();
    const study = messageOut(page, 'To the study');
    await study
      .getByTestId('message-status')
      .filter({ hasText: /^Queued$/ })
      .waitFor(WAIT);
    assert.equal(await study.getByTestId('message-route').textContent(), '', 'queued: no route yet');
    await eventually(() => sentIds.length === 1, 'the send reached the (rewritten) node');
    const id = sentIds[0]!;
    toPage!.send(JSON.stringify({ type: 'message_status', id, status: 'delivered', route: 'lan' }));
    await study
      .getByTestId('message-status')
      .filter({ hasText: /^Delivered$/ })
      .waitFor(WAIT);
    await study
      .getByTestId('message-route')
      .filter({ hasText: /^over your network$/ })
      .waitFor(WAIT);
    toPage!.send(JSON.stringify({ type: 'message_status', id, status: 'seen', route: 'lan' }));
    await study
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(WAIT);
    // A late "delivered", then a second message's status as a marker that the late one was handled.
    toPage!.send(JSON.stringify({ type: 'message_status', id, status: 'delivered', route: 'lan' }));
    await page.getByTestId('message-text').fill('Later, one more');
    await page.getByTestId('message-send').click();
    await eventually(() => sentIds.length === 2, 'the second send');
    toPage!.send(JSON.stringify({ type: 'message_status', id: sentIds[1], status: 'delivered', route: 'cloud' }));
    await messageOut(page, 'Later, one more')
      .getByTestId('message-route')
      .filter({ hasText: /^through the cloud$/ })
      .waitFor(WAIT);
    assert.equal(await study.getByTestId('message-status').textContent(), 'Seen', 'a late "delivered" does not undo "Seen"');
    await page.screenshot({ path: '/tmp/ui-contract-desktop-seen.png', fullPage: true });

    // ---- the recipient's desktop goes offline: said live, after the next state push ---------------------------
    home.state.studyOnline = false;
    sendState();
    await page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Study PC is offline: your message will wait and go when it is back.' })
      .waitFor(WAIT);
    await group('[data-node-id="node-study"][label="Study PC (offline)"]').waitFor({ state: 'attached', ...WAIT });
    assert.equal(await page.getByTestId('message-send').isDisabled(), false, 'writing to an offline desktop is allowed: it waits');
    home.state.atticRoute = 'cloud';
    sendState();
    await page.getByTestId('message-to').selectOption(home.attic.device_id);
    await page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Attic PC is offline: your message will go through the cloud.' })
      .waitFor(WAIT);
    await page.screenshot({ path: '/tmp/ui-contract-desktop-recipient-offline.png', fullPage: true });

    // ---- a paired desktop that unpaired us: in words, with Remove (a real unpair here) ------------------------
    const rowB = page.locator(`[data-testid="device-row"][data-node-id="${b.identity.node_id}"]`);
    await rowB.waitFor(WAIT);
    assert.equal(await rowB.getByTestId('ended-by-peer').isVisible(), false);
    endedBy = b.identity.node_id;
    sendState();
    await rowB
      .getByTestId('ended-by-peer')
      .filter({ hasText: `${b.identity.name} unpaired this desktop` })
      .waitFor(WAIT);
    assert.equal(await rowB.getByTestId('unpair-button').isVisible(), false, 'nothing to unpair: it already did');
    assert.equal(await rowB.locator('[data-role="status"]').isVisible(), false, 'not shown as merely "offline"');
    await page.screenshot({ path: '/tmp/ui-contract-desktop-unpaired-by-peer.png', fullPage: true });
    await rowB.getByRole('button', { name: `Remove ${b.identity.name} from this list` }).click();
    await rowB.waitFor({ state: 'detached', ...WAIT });
    await eventually(
      async () => !(await a.admin('/api/admin/state')).body.devices.some((d: { node_id: string }) => d.node_id === b.identity.node_id),
      'A no longer lists B',
    );

    // ---- this desktop's node away: a banner until the socket is back ------------------------------------------
    refuse = true;
    await toPage!.close({ code: 1011, reason: 'test: node away' });
    await page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Salita on this desktop cannot be reached: your messages wait here and go when it is back.' })
      .waitFor(WAIT);
    refuse = false;
    await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 60_000 });
    await page
      .getByTestId('messages-banner')
      .filter({ hasText: 'cannot be reached' })
      .waitFor({ state: 'detached', ...WAIT });

    assert.deepEqual(errors, [], 'no uncaught errors in the desktop UI');
    await ctx.close();
  });

  test("phone page: its desktop by name, the home's desktops after it; the desktop offline is a banner", async () => {
    const a = await startTestNode();
    assert.equal((await a.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Living room PC' } })).status, 200);
    const other = await pairPhone(a);
    const home = homeDesktops();
    const ctx = await browser.newContext(PHONE);
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await routeMessaging(page, '/api/messages', home, []);
    let toPage: WebSocketRoute | undefined;
    let refuse = false;
    await page.routeWebSocket(/\/api\/device\/events/, (ws) => {
      if (refuse) return void ws.close({ code: 1011, reason: 'test: desktop away' });
      toPage = ws;
      ws.connectToServer();
    });
    const p = await a.startPairing();
    await page.goto(loopbackUrl(p.url, a));
    await page.getByTestId('phone-name').fill('Ana phone');
    await page.getByTestId('phone-pin').fill(p.pin);
    await page.getByTestId('phone-submit').click();
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with' }).waitFor(WAIT);

    const group = (sel: string) => page.locator(`[data-testid="message-to"] optgroup${sel}`);
    await group(`[data-group="local"][label="Living room PC"] option[value="${other.phone.identity.node_id}"]`).waitFor({
      state: 'attached',
      ...WAIT,
    });
    await group(`[data-node-id="node-study"][label="Study PC"] option[value="${home.study.device_id}"]`).waitFor({
      state: 'attached',
      ...WAIT,
    });
    assert.equal(await page.getByTestId('messages-banner').count(), 0);

    await eventually(() => toPage !== undefined, 'the device socket');
    refuse = true;
    await toPage!.close({ code: 1011, reason: 'test: desktop away' });
    await page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Living room PC is offline: your messages wait on this phone and go when it is back.' })
      .waitFor(WAIT);
    await page.screenshot({ path: '/tmp/ui-contract-phone-desktop-offline.png', fullPage: true });
    refuse = false;
    await page.getByTestId('messages-banner').filter({ hasText: 'is offline' }).waitFor({ state: 'detached', timeout: 60_000 });

    assert.deepEqual(errors, [], 'no uncaught errors on the phone page');
    await ctx.close();
  });
});
