// The layering rules (.dependency-cruiser.cjs), attacked: a made-up tree that breaks each rule once must make
// dependency-cruiser report exactly that rule, and the real src/ must report nothing. `npm run lint` runs the
// same rules over src/ as part of `npm test`; this file proves they bite.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as {
  forbidden: unknown[];
  options: Record<string, unknown>;
};

/** The rules' names that fired over `dirs` (relative to `baseDir`), with the edge each fired on. */
async function violations(baseDir: string, dirs: string[], tsConfig?: string): Promise<string[]> {
  const cwd = process.cwd();
  process.chdir(baseDir); // dependency-cruiser resolves the rules' paths against the working directory
  try {
    const result = await cruise(
      dirs,
      {
        ruleSet: { forbidden: config.forbidden } as never,
        doNotFollow: { path: 'node_modules' },
        tsPreCompilationDeps: true,
        ...(tsConfig ? { tsConfig: { fileName: tsConfig } } : {}),
        enhancedResolveOptions: config.options.enhancedResolveOptions as never,
        validate: true,
      },
      { extensions: ['.ts', '.js'] } as never,
    );
    const out = result.output as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
    return out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
  } finally {
    process.chdir(cwd);
  }
}

describe('layering rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'salita-layers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  test('each broken rule is reported, by name', async () => {
    file('src/main/core/node.ts', 'export const node = 1;\n');
    file('src/main/core/uses-electron.ts', "import { app } from 'electron';\nexport const a = app;\n");
    file('src/main/core/uses-cloud.ts', "import { c } from '../../cloud/server.js';\nexport const x = c;\n");
    file('src/cloud/server.ts', 'export const c = 1;\n');
    file('src/cloud/uses-node.ts', "import { node } from '../main/core/node.js';\nexport const y = node;\n");
    file('src/server/owned.ts', "import { c } from '../cloud/server.js';\nexport const z = c;\n");
    file('src/shared/outside.ts', "import { z } from '../server/owned.js';\nexport const w = z;\n");
    file('src/shared/node-only.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n");
    file('src/renderer/ui.ts', "import { node } from '../main/core/node.js';\nexport const u = node;\n");
    file('src/main/core/cycle-a.ts', "import { b } from './cycle-b.js';\nexport const a = () => b;\n");
    file('src/main/core/cycle-b.ts', "import { a } from './cycle-a.js';\nexport const b = () => a;\n");
    const got = await violations(dir, ['src']);
    const fired = new Set(got.map((v) => v.split(':')[0]));
    for (const rule of [
      'core-not-electron',
      'core-not-cloud',
      'cloud-not-node',
      'server-owns-nothing',
      'shared-stays-shared',
      'browser-code-no-node',
      'renderer-not-servers',
      'no-circular',
    ]) {
      assert.ok(fired.has(rule), `${rule} did not fire; reported: ${got.join('\n')}`);
    }
    assert.ok(
      got.some((v) => v.startsWith('cloud-not-node: src/cloud/uses-node.ts -> src/main/core/node.ts')),
      got.join('\n'),
    );
    assert.ok(
      got.some((v) => v.startsWith('browser-code-no-node: src/shared/node-only.ts')),
      got.join('\n'),
    );
  });

  test('the real tree keeps every rule', async () => {
    assert.deepEqual(await violations(root, ['src'], 'tsconfig.json'), []);
  });
});
