#!/usr/bin/env node
// How much JavaScript a phone downloads for the pairing/messaging page: every script phone.html loads, and every
// module those import (statically or dynamically), each gzipped as a server would send it. The phone page loads
// over a home LAN on any phone, so the build prints this and a test holds it under PHONE_JS_LIMIT_BYTES.
//   node scripts/phone-bundle-size.mjs [out/renderer]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const PHONE_JS_LIMIT_BYTES = 160 * 1024;

/** The page's JavaScript files (paths under `dir`) and their gzipped sizes. */
export function phoneBundle(dir) {
  const html = readFileSync(join(dir, 'phone.html'), 'utf8');
  const roots = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]);
  const seen = new Map();
  const visit = (file) => {
    if (seen.has(file)) return;
    const text = readFileSync(file);
    seen.set(file, gzipSync(text, { level: 9 }).length);
    // Rollup's chunks import each other by relative path: `from "./x.js"`, `import("./x.js")`.
    for (const m of text.toString('utf8').matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.js)["']/g))
      visit(resolve(dirname(file), m[1]));
  };
  for (const r of roots) visit(resolve(dir, r));
  const files = [...seen].map(([file, gzip]) => ({ file: file.slice(resolve(dir).length + 1), gzip }));
  return { files, total: files.reduce((s, f) => s + f.gzip, 0) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'renderer'));
  if (!existsSync(join(dir, 'phone.html'))) {
    console.error(`phone-bundle-size: ${dir} has no phone.html (run the build first)`);
    process.exit(2);
  }
  const { files, total } = phoneBundle(dir);
  const kib = (n) => (n / 1024).toFixed(1);
  console.log(`phone page JavaScript: ${kib(total)} KiB gzipped in ${files.length} file(s) (limit ${kib(PHONE_JS_LIMIT_BYTES)} KiB)`);
  if (total > PHONE_JS_LIMIT_BYTES) process.exitCode = 1;
}
