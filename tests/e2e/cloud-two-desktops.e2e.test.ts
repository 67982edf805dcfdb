// Two desktops log in to one self-hosted cloud that prints its codes in its log (the default sender), each in
// its own desktop UI in Chromium: each UI's hint names its own desktop as the log line does, so the person types
// each code into the right window, and both connect. A code typed into the wrong window is refused once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { eventually, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const LONG = { timeout: 60_000 };

describe("two desktop UIs tell their cloud codes apart by the cloud's log (Chromium)", { skip, timeout: 180_000 }, () => {
  const browser = useChromium();
  const lines: string[] = [];
  let cloud: RunningCloud;
  const nodes: TestNode[] = [];

  before(async () => {
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-two-'), port: 0, log: (msg) => lines.push(msg) });
    for (const name of ['Kitchen desktop', 'Office laptop']) {
      const n = await startTestNode({ cloud: { backoff: { baseMs: 20, capMs: 250 } } });
      await n.admin('/api/node/identity', { method: 'PATCH', body: { name } });
      nodes.push(n);
    }
  });

  after(async () => {
    await cloud?.stop();
  });

  async function loginPage(n: TestNode): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
    const page = await ctx.newPage();
    await page.goto(n.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await page.getByTestId('cloud-url').fill(cloud.url);
    await page.getByTestId('cloud-email-input').fill('home@salita.test');
    await page.getByTestId('cloud-login').click();
    await page.getByTestId('cloud-code-form').waitFor(LONG);
    return page;
  }

  test('each window names its desktop as the log line does, and each code works only in its own window', async () => {
    const pages = [await loginPage(nodes[0]!), await loginPage(nodes[1]!)];
    const codeLines = await eventually(() => {
      const found = lines.filter((l) => l.includes('one-time code for device'));
      return found.length === 2 ? found : undefined;
    }, 'two code lines in the cloud log');
    const codes: string[] = [];
    for (const [i, page] of pages.entries()) {
      const whose = (await page.getByTestId('cloud-code-whose').textContent())!;
      const name = i === 0 ? 'Kitchen desktop' : 'Office laptop';
      assert.ok(whose.includes(name), `the hint names this desktop: ${whose}`);
      const mine = codeLines.filter((l) => l.includes(`node ${JSON.stringify(name)}`));
      assert.equal(mine.length, 1, `exactly one log line names ${name}:\n${codeLines.join('\n')}`);
      // The fingerprint the UI shows in its header is on that same line.
      const fp = (await page.getByTestId('node-fingerprint').textContent())!;
      assert.ok(mine[0]!.includes(fp), `${mine[0]} names ${fp}`);
      codes.push(/: (\d{6})\b/.exec(mine[0]!)![1]!);
    }

    // The kitchen's code typed into the office window: refused, said once.
    await pages[1]!.getByTestId('cloud-code').fill(codes[0]!);
    await pages[1]!.getByTestId('cloud-code-submit').click();
    await pages[1]!.getByTestId('cloud-form-error').waitFor(LONG);
    assert.equal(await pages[1]!.getByText(/code/i).and(pages[1]!.getByRole('alert')).count(), 1, 'the wrong code is reported once');

    for (const [i, page] of pages.entries()) {
      await page.getByTestId('cloud-code').fill(codes[i]!);
      await page.getByTestId('cloud-code-submit').click();
    }
    for (const [i, page] of pages.entries()) {
      await page.locator('[data-testid="cloud-panel"][data-status="connected"]').waitFor(LONG);
      await eventually(async () => (await nodes[i]!.admin('/api/admin/cloud')).body.status === 'connected', 'connected');
    }
  });
});
