// Files in the Messages section, in Chromium, with the pages' own CSP: a phone page picks an image it made
// (a PNG drawn on a canvas) and sends it to the desktop UI device; its bar reaches 100% and the sent message
// shows the thumbnail the phone made. The desktop shows the file with that thumbnail, downloads it with its own
// bar to 100%, shows the image inline from a blob: URL, and saves the very bytes that were sent. While the node
// cannot be reached (its upload requests dropped) the phone's bar says "waiting to resume" and goes on by itself
// after; Cancel withdraws an upload from the node (tus DELETE). Files dropped on the desktop's conversation go
// to the phone. The phone pages run without WebCrypto subtle, as over plain http. A file that does not check
// out at the recipient is refused: an error, nothing to save or see.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { bytesSource, FileUpload } from '../../src/shared/client/file-client.js';
import { fileManifest } from '../../src/shared/client/file-message.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { deviceAuth } from '../relay/file-helpers.js';
import { seriousViolations } from './axe.js';
import { chromiumSkipReason, collectPageErrors, type PhonePage, pairedPhonePage, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A PNG of random pixels drawn in the page (so it hardly compresses: some hundreds of KB to send). */
async function pngFromCanvas(page: Page, width: number, height: number): Promise<Buffer> {
  const bytes = await page.evaluate(
    async ({ width, height }) => {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d')!;
      const img = ctx.createImageData(width, height);
      for (let i = 0; i < img.data.length; i++) img.data[i] = i % 4 === 3 ? 255 : (Math.random() * 256) | 0;
      ctx.putImageData(img, 0, 0);
      const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
      return [...new Uint8Array(await blob.arrayBuffer())];
    },
    { width, height },
  );
  return Buffer.from(bytes);
}

async function openDesktop(browser: ReturnType<typeof useChromium>, node: TestNode) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const errors = collectPageErrors(page, { console: true });
  await page.goto(node.adminUrl);
  await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
  const uiDevice = await page.locator('[data-testid="messages-panel"][data-device-id]').getAttribute('data-device-id', WAIT);
  assert.ok(uiDevice);
  return { page, errors, uiDevice };
}

/**
 * The phone page as a phone meets it, over plain http from another machine: no WebCrypto subtle and no
 * randomUUID (secure-context only). The test's loopback origin is a secure context, so they are taken away
 * before the page's scripts run, and the page is loaded again (it resumes its stored pairing).
 */
async function asOnPlainHttp(phone: PhonePage): Promise<void> {
  await phone.ctx.addInitScript({
    content: `
      Object.defineProperty(Crypto.prototype, 'subtle', { configurable: true, get: () => undefined });
      Object.defineProperty(Crypto.prototype, 'randomUUID', { configurable: true, value: undefined });
    `,
  });
  await phone.page.reload();
  await phone.page.getByTestId('message-form').waitFor(WAIT);
  assert.equal(await phone.page.evaluate(() => crypto.subtle === undefined), true);
}

async function writeTo(phone: PhonePage, deviceId: string): Promise<void> {
  await phone.page.locator(`[data-testid="message-to"] option[value="${deviceId}"]`).waitFor({ state: 'attached', ...WAIT });
  await phone.page.getByTestId('message-to').selectOption(deviceId);
}

async function percentOf(bar: Locator): Promise<number> {
  return Number(await bar.getAttribute('aria-valuenow'));
}

/** Clicks Save and returns the saved file's name and bytes. */
async function save(page: Page, card: Locator): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([page.waitForEvent('download', WAIT), card.getByTestId('file-save').click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: await readFile(path) };
}

describe('files in the Messages section (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  test('a phone sends an image: its bar reaches 100%, the desktop downloads it, shows it inline, saves the same bytes', async () => {
    const node = await startTestNode();
    const desktop = await openDesktop(browser, node);
    const ana = await pairedPhonePage(browser, node, 'Ana phone');
    await asOnPlainHttp(ana);
    await writeTo(ana, desktop.uiDevice);

    const png = await pngFromCanvas(ana.page, 480, 360);
    assert.ok(png.length > 300_000, `a PNG big enough to take several requests (${png.length} bytes)`);
    await ana.page.getByTestId('file-attach').setInputFiles({ name: 'beach.png', mimeType: 'image/png', buffer: png });

    // The phone: the file is sent (bar at 100%), then shown as a sent file message with its thumbnail.
    const sent = ana.page.locator('[data-testid="message"][data-dir="out"]').filter({ has: ana.page.getByTestId('file-card') });
    await sent.locator('[data-testid="file-transfer"][data-state="done"]').waitFor(WAIT);
    const upBar = sent.getByRole('progressbar');
    assert.equal(await percentOf(upBar), 100);
    assert.equal(await upBar.getAttribute('aria-label'), 'Sending beach.png');
    assert.match((await sent.getByTestId('file-progress-text').textContent()) ?? '', /^100% · sent$/);
    assert.equal(await sent.getByTestId('file-name').textContent(), 'beach.png');
    const thumbSize = await sent
      .getByTestId('file-thumb')
      .evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    assert.deepEqual(thumbSize, [160, 120], 'a 160 px thumbnail, same aspect');
    assert.equal(await ana.page.getByTestId('file-upload').count(), 0, 'no upload left pending once the message went');
    assert.deepEqual(await seriousViolations(ana.page), [], 'the phone with a sent file: no serious accessibility violation');

    // The desktop: the file with the sender's thumbnail, not yet downloaded.
    await desktop.page.locator(`[data-testid="conversation"][data-peer="${ana.id}"]`).click();
    const got = desktop.page.locator('[data-testid="message"][data-dir="in"]').filter({ has: desktop.page.getByTestId('file-card') });
    await got.waitFor(WAIT);
    assert.equal(await got.getByTestId('file-name').textContent(), 'beach.png');
    assert.match((await got.getByTestId('file-facts').textContent()) ?? '', /KB · PNG image$/);
    assert.ok(
      await got.getByTestId('file-thumb').evaluate((img: HTMLImageElement) => img.decode().then(() => img.naturalWidth > 0)),
      'the thumbnail (a data: URL) is drawn under the CSP',
    );
    assert.equal(await got.getByTestId('file-save').count(), 0, 'nothing to save before the download');
    assert.equal(await got.getByTestId('file-inline').count(), 0);

    await got.getByTestId('file-download').click();
    await got.locator('[data-testid="file-transfer"][data-state="done"]').waitFor(WAIT);
    const downBar = got.getByRole('progressbar');
    assert.equal(await percentOf(downBar), 100);
    assert.equal(await downBar.getAttribute('aria-label'), 'Downloading beach.png');

    // Inline from a blob: URL (the CSP's img-src allows it), the image's own size.
    const inline = got.getByTestId('file-inline');
    await inline.waitFor(WAIT);
    assert.match((await inline.getAttribute('src')) ?? '', /^blob:/);
    const drawn = await inline.evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    assert.deepEqual(drawn, [480, 360]);
    assert.deepEqual(await seriousViolations(desktop.page), [], 'the desktop with a fetched image: no serious accessibility violation');
    // The saved file (the <a download> of the object URL) is the very file that was sent. (The page itself may
    // not read a blob: URL back: its CSP's connect-src is 'self'.)
    const saved = await save(desktop.page, got);
    assert.equal(saved.name, 'beach.png');
    assert.equal(sha256(saved.bytes), sha256(png), 'SHA-256 of the saved file equals the original');

    assert.deepEqual(desktop.errors, []);
    assert.deepEqual(ana.errors, []);
  });

  test('while the node is out of reach the bar waits to resume and goes on by itself; Cancel withdraws the upload', async () => {
    const node = await startTestNode();
    const desktop = await openDesktop(browser, node);
    const ben = await pairedPhonePage(browser, node, 'Ben phone');
    await writeTo(ben, desktop.uiDevice);

    // The node "goes away" for the upload's bytes: every PATCH is dropped on the wire.
    let dropping = true;
    const dropped: string[] = [];
    await ben.page.route('**/api/files/**', (route) => {
      if (dropping && route.request().method() === 'PATCH') {
        dropped.push(route.request().url());
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    const bytes = Buffer.alloc(200_000, 7);
    await ben.page.getByTestId('file-attach').setInputFiles({ name: 'notes.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const pending = ben.page.getByTestId('file-upload');
    // Each try of tus flips the bar to "uploading" for a moment and back: wait for the words, do not sample them.
    await pending.locator('[data-testid="file-transfer"][data-state="waiting"]').waitFor(WAIT);
    await pending
      .getByTestId('file-progress-text')
      .filter({ hasText: /waiting to resume/ })
      .waitFor(WAIT);
    assert.ok(dropped.length >= 1);
    assert.deepEqual(await seriousViolations(ben.page), [], 'a waiting upload with Cancel: no serious accessibility violation');

    // Back: it goes on by itself (tus asks the node for its offset and sends the rest).
    dropping = false;
    const sent = ben.page.locator('[data-testid="message"][data-dir="out"]').filter({ has: ben.page.getByTestId('file-card') });
    await sent.locator('[data-testid="file-transfer"][data-state="done"]').waitFor(WAIT);
    assert.equal(await percentOf(sent.getByRole('progressbar')), 100);

    // The desktop gets exactly those bytes.
    await desktop.page.locator(`[data-testid="conversation"][data-peer="${ben.id}"]`).click();
    const got = desktop.page.locator('[data-testid="message"][data-dir="in"]').filter({ has: desktop.page.getByTestId('file-card') });
    await got.getByTestId('file-download').click();
    await got.getByTestId('file-save').waitFor(WAIT);
    assert.equal(await got.getByTestId('file-inline').count(), 0, 'not an image: nothing inline');
    assert.equal(sha256((await save(desktop.page, got)).bytes), sha256(bytes));

    // A second file never gets through; Cancel removes it from the conversation and from the node.
    dropping = true;
    await ben.page
      .getByTestId('file-attach')
      .setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(150_000, 1) });
    await pending.locator('[data-testid="file-transfer"][data-state="waiting"]').waitFor(WAIT);
    const deleted = ben.page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/api/files/'), WAIT);
    await pending.getByRole('button', { name: 'Cancel sending big.bin' }).click();
    const del = await deleted;
    assert.equal(del.status(), 204, 'tus DELETE: the node dropped the upload');
    await pending.waitFor({ state: 'detached', ...WAIT });
    const blobId = new URL(del.url()).pathname.split('/').pop()!;
    const status = await fetch(`${node.base}/api/admin/files/${blobId}/status`, { headers: { authorization: `Admin ${node.adminToken}` } });
    assert.equal(status.status, 404, 'the node no longer knows it');
    assert.equal(
      await ben.page
        .locator('[data-testid="message"][data-dir="out"]')
        .filter({ has: ben.page.getByTestId('file-card') })
        .count(),
      1,
      'no message for the cancelled file',
    );
    assert.deepEqual(desktop.errors, []);
  });

  test('files dropped on the desktop conversation go to the phone, which downloads and saves them', async () => {
    const node = await startTestNode();
    const desktop = await openDesktop(browser, node);
    const cai = await pairedPhonePage(browser, node, 'Cai phone');
    await asOnPlainHttp(cai); // it downloads and decrypts with @noble alone
    const entry = desktop.page.locator(`[data-testid="conversation"][data-peer="${cai.id}"]`);
    await entry.click();
    await entry.and(desktop.page.locator('[aria-current="true"]')).waitFor(WAIT);

    const text = 'Shopping list\n'.repeat(5000);
    const pane = desktop.page.getByTestId('conversation-pane');
    const dt = await desktop.page.evaluateHandle((t) => {
      const d = new DataTransfer();
      d.items.add(new File([t], 'list.txt', { type: 'text/plain' }));
      return d;
    }, text);
    await pane.dispatchEvent('dragenter', { dataTransfer: dt });
    await desktop.page.getByTestId('drop-hint').filter({ hasText: 'Drop to send to Cai phone' }).waitFor(WAIT);
    await pane.dispatchEvent('dragover', { dataTransfer: dt });
    await pane.dispatchEvent('drop', { dataTransfer: dt });
    await desktop.page.getByTestId('drop-hint').waitFor({ state: 'detached', ...WAIT });

    const sent = desktop.page.locator('[data-testid="message"][data-dir="out"]').filter({ has: desktop.page.getByTestId('file-card') });
    await sent.locator('[data-testid="file-transfer"][data-state="done"]').waitFor(WAIT);
    assert.equal(await percentOf(sent.getByRole('progressbar')), 100);

    await writeTo(cai, desktop.uiDevice);
    const got = cai.page.locator('[data-testid="message"][data-dir="in"]').filter({ has: cai.page.getByTestId('file-card') });
    await got.waitFor(WAIT);
    assert.equal(await got.getByTestId('file-name').textContent(), 'list.txt');
    assert.equal(await got.getByTestId('file-thumb').count(), 0, 'no thumbnail for text');
    await got.getByTestId('file-download').click();
    await got.locator('[data-testid="file-transfer"][data-state="done"]').waitFor(WAIT);
    assert.equal(await percentOf(got.getByRole('progressbar')), 100);
    const saved = await save(cai.page, got);
    assert.equal(saved.name, 'list.txt');
    assert.equal(saved.bytes.toString('utf8'), text);
    assert.deepEqual(desktop.errors, []);
    assert.deepEqual(cai.errors, []);
  });

  test('a file that does not check out is refused at the recipient: an error, nothing to save or show', async () => {
    const node = await startTestNode();
    const dan = await pairedPhonePage(browser, node, 'Dan phone');
    // Another device (in Node) uploads real bytes but seals a manifest whose digest is not theirs.
    const other = await pairPhone(node);
    const me = { device_id: other.phone.identity.node_id, privateKey: other.phone.privateKey, publicKey: other.phone.publicKey };
    const messaging = new MessagingClient(other.client, me);
    const upload = new FileUpload({
      baseUrl: node.base,
      path: '/api/files',
      auth: deviceAuth(node.base, other.creds),
      to: [dan.id],
      source: bytesSource(new Uint8Array(5000).fill(3)),
    });
    const sentFile = await upload.start();
    const manifest = fileManifest({ ...sentFile, sha256: new Uint8Array(32) }, { name: 'photo.png', type: 'image/png' });
    await messaging.sendFile(dan.id, manifest);

    await writeTo(dan, me.device_id);
    const got = dan.page.locator('[data-testid="message"][data-dir="in"]').filter({ has: dan.page.getByTestId('file-card') });
    await got.getByTestId('file-download').click();
    const error = got.getByTestId('file-error');
    await error.waitFor(WAIT);
    assert.equal(await error.getAttribute('data-code'), 'file_digest_mismatch');
    assert.match((await error.textContent()) ?? '', /This file was refused: it is not the file that was sent/);
    assert.equal(await got.getByTestId('file-save').count(), 0, 'no Save');
    assert.equal(await got.getByTestId('file-inline').count(), 0, 'not shown');
    assert.equal(await got.getByTestId('file-download').count(), 0, 'not offered again');
    assert.equal(await got.locator('[data-refused="true"]').count(), 1);
    assert.deepEqual(await seriousViolations(dan.page), [], 'a refused file: no serious accessibility violation');
  });
});
