// The packaging config (electron-builder.yml) and what it would put in the app, checked without an Electron
// binary: the config as electron-builder itself loads and validates it, the targets per OS, and the file list
// its `files` globs select from the built tree (needs `npm run build`). electron-builder has no public API that
// resolves files without packaging, so the globs are applied here with the matcher it uses (minimatch, dot files
// included, `!` patterns exclude). Also: `npm run dist` without any Electron build to package says what is
// missing in one sentence and exits non-zero.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Resolve app-builder-lib and its matcher from electron-builder, so they are the versions that package the app.
const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder/package.json'));
const fromLib = createRequire(fromBuilder.resolve('app-builder-lib/package.json'));
const { getConfig, validateConfiguration } = fromBuilder('app-builder-lib/out/util/config/config.js') as {
  getConfig(projectDir: string, configPath: string | null, options: unknown): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, logger: unknown): Promise<void>;
};
const { DebugLogger } = fromLib('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
const { minimatch } = fromLib('minimatch') as { minimatch(path: string, pattern: string, opts: { dot: boolean }): boolean };

type TargetEntry = string | { target: string };
interface BuilderConfig {
  appId?: string;
  productName?: string;
  /** Validation turns a list of globs into file sets: `{ filter: [...] }` (no from/to: relative to the app dir). */
  files?: (string | { from?: string; to?: string; filter?: string | string[] })[];
  asar?: boolean;
  asarUnpack?: string[];
  npmRebuild?: boolean;
  linux?: { target?: TargetEntry[] };
  mac?: { target?: TargetEntry[] };
  win?: { target?: TargetEntry[] };
}

async function loadConfig(): Promise<BuilderConfig> {
  const config = await getConfig(ROOT, join(ROOT, 'electron-builder.yml'), null);
  // Throws on an unknown key or a wrong type, as `npm run dist` would.
  await validateConfiguration(config, new DebugLogger(false));
  return config;
}

const targets = (list: TargetEntry[] | undefined) => (list ?? []).map((t) => (typeof t === 'string' ? t : t.target));

/** Every file of the checkout (POSIX paths relative to the root), without what is never app source. */
function repoFiles(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    const rel = relative(ROOT, full).split(sep).join('/');
    if (['node_modules', '.git', 'dist'].includes(rel)) return [];
    return statSync(full).isDirectory() ? repoFiles(full) : [rel];
  });
}

/** The files electron-builder's `files` patterns select: matched by a pattern, not excluded by a later `!pattern`. */
function packedFiles(patterns: string[]): string[] {
  return repoFiles().filter((file) => {
    let included = false;
    for (const p of patterns) {
      if (p.startsWith('!')) {
        if (minimatch(file, p.slice(1), { dot: true })) included = false;
      } else if (minimatch(file, p, { dot: true })) included = true;
    }
    return included;
  });
}

test('electron-builder loads and validates the config: app id, product name, installers per OS', async () => {
  const config = await loadConfig();
  assert.match(config.appId ?? '', /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/);
  assert.equal(config.productName, 'Salita');
  assert.deepEqual(targets(config.linux?.target).sort(), ['AppImage', 'deb']);
  assert.deepEqual(targets(config.mac?.target), ['dmg']);
  assert.deepEqual(targets(config.win?.target), ['nsis']);
});

test('the native module is rebuilt for Electron and kept out of the asar', async () => {
  const config = await loadConfig();
  assert.notEqual(config.asar, false);
  assert.notEqual(config.npmRebuild, false);
  assert.ok(
    config.asarUnpack?.some((p) => minimatch('node_modules/better-sqlite3/build/Release/better_sqlite3.node', p, { dot: true })),
    'better-sqlite3 is unpacked',
  );
  // electron-builder packs production dependencies only: the database driver must be one.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.ok(pkg.dependencies['better-sqlite3']);
});

test('the packaged files hold the build, the migrations and package.json, and no sources, tests or benches', async () => {
  assert.ok(
    existsSync(join(ROOT, 'out', 'main', 'index.js')) && existsSync(join(ROOT, 'out', 'renderer', 'phone.html')),
    'run `npm run build` first',
  );
  const config = await loadConfig();
  const patterns = (config.files ?? []).flatMap((set) => {
    if (typeof set === 'string') return [set];
    assert.ok(set.from === undefined && set.to === undefined, 'files are taken from the app dir as they are');
    return set.filter === undefined ? [] : [set.filter].flat();
  });
  const files = packedFiles(patterns);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; main: string };
  // The app finds its root by walking up to a package.json named "salita", and starts from its "main".
  assert.equal(pkg.name, 'salita');
  for (const f of [
    'package.json',
    pkg.main,
    'out/main/index.js',
    'out/main/headless.js',
    'out/preload/index.cjs',
    'out/renderer/index.html',
    'out/renderer/phone.html',
    'migrations/meta/_journal.json',
  ]) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  const sql = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
  assert.ok(sql.length > 0);
  for (const f of sql) assert.ok(files.includes(`migrations/${f}`), `migrations/${f} is packed`);
  assert.ok(
    files.some((f) => f.startsWith('out/renderer/assets/')),
    'the renderer assets are packed',
  );
  for (const dir of ['src/', 'tests/', 'bench/', 'docs/', 'scripts/', 'migrations-cloud/']) {
    assert.deepEqual(
      files.filter((f) => f.startsWith(dir)),
      [],
      `nothing from ${dir}`,
    );
  }
  assert.ok(!files.some((f) => f.startsWith('out/cloud/')), 'the reference cloud is not in the desktop app');
});

test('npm run dist without an Electron build to package says what is missing and how to provide it', () => {
  assert.ok(existsSync(join(ROOT, 'out', 'main', 'index.js')), 'run `npm run build` first');
  const home = mkdtempSync(join(tmpdir(), 'salita-dist-'));
  try {
    // No Electron cache (fresh HOME) and a download host that never resolves (.invalid, RFC 6761).
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CACHE_HOME: join(home, '.cache'),
      ELECTRON_MIRROR: 'https://electron-mirror.invalid/',
    };
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'dist.mjs')], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 1, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', /^npm run dist: no Electron .* electron-mirror\.invalid, .*ELECTRON_OVERRIDE_DIST_PATH/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');

    const missing = spawnSync(process.execPath, [join(ROOT, 'scripts', 'dist.mjs')], {
      cwd: ROOT,
      env: { ...env, ELECTRON_OVERRIDE_DIST_PATH: join(home, 'no-electron') },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr.trim(), /^npm run dist: ELECTRON_OVERRIDE_DIST_PATH is set to .*no-electron, which does not exist/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
