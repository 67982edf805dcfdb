// The phone page's JavaScript stays small enough for any phone on a home LAN: at most 160 KiB gzipped, counted
// over every script phone.html loads and every chunk those import (scripts/phone-bundle-size.mjs, which the
// build also prints).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PHONE_JS_LIMIT_BYTES, phoneBundle } from '../../scripts/phone-bundle-size.mjs';

const renderer = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'out', 'renderer');

describe('phone page size', () => {
  const dir = mkdtempSync(join(tmpdir(), 'salita-phone-size-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('counts the entry, its preloads and every chunk they import, once each', () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(
      join(dir, 'phone.html'),
      '<script type="module" src="./assets/a.js"></script><link rel="modulepreload" href="./assets/b.js">',
    );
    writeFileSync(join(dir, 'assets', 'a.js'), 'import { b } from "./b.js"; const c = () => import("./c.js"); export { b, c };');
    writeFileSync(join(dir, 'assets', 'b.js'), `export const b = ${JSON.stringify('x'.repeat(1000))};`);
    writeFileSync(join(dir, 'assets', 'c.js'), 'import { b } from "./b.js"; export const c = b;');
    writeFileSync(join(dir, 'assets', 'unused.js'), 'export const nobody = 1;');
    const { files, total } = phoneBundle(dir);
    assert.deepEqual(files.map((f) => f.file).sort(), ['assets/a.js', 'assets/b.js', 'assets/c.js']);
    assert.equal(
      total,
      files.reduce((s, f) => s + f.gzip, 0),
    );
    assert.ok(files.every((f) => f.gzip > 0));
  });

  test(`the built phone page loads at most ${PHONE_JS_LIMIT_BYTES / 1024} KiB of gzipped JavaScript`, () => {
    assert.ok(existsSync(join(renderer, 'phone.html')), 'run `npm run build` first (npm test does)');
    const { files, total } = phoneBundle(renderer);
    assert.ok(files.length >= 1 && total > 10_000, `found too little to be the real page: ${JSON.stringify(files)}`);
    assert.ok(total <= PHONE_JS_LIMIT_BYTES, `${(total / 1024).toFixed(1)} KiB gzipped: ${JSON.stringify(files)}`);
  });
});
