// The headless node's default data dir: SALITA_DATA_DIR, else the OS's own data dir (env-paths), except that a
// node which already keeps its data in the old place (~/.local/share/salita on every OS) stays there.

import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dataDirPlaces, defaultDataDir } from '../../src/main/core/config.js';

const HOME = homedir();
const LEGACY = join(HOME, '.local', 'share', 'salita');
const MAC = join(HOME, 'Library', 'Application Support', 'salita');
// env-paths read LOCALAPPDATA when it was loaded; this machine (Linux) has none.
const WINDOWS = join(process.env.LOCALAPPDATA || join(HOME, 'AppData', 'Local'), 'salita', 'Data');
const NO_XDG = { HOME } as NodeJS.ProcessEnv;

/** The data dir chosen as if on `platform` (env-paths reads process.platform on every call), with a file system that holds only `present`. */
function choose(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, present: string[] = []): string {
  const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...real, value: platform });
  try {
    return defaultDataDir(env, { ...dataDirPlaces(env), exists: (dir) => present.includes(dir) });
  } finally {
    Object.defineProperty(process, 'platform', real);
  }
}

test('SALITA_DATA_DIR wins on every OS', () => {
  for (const os of ['linux', 'darwin', 'win32'] as const)
    assert.equal(choose(os, { ...NO_XDG, SALITA_DATA_DIR: '/srv/salita' }, [LEGACY]), '/srv/salita');
});

test('macOS: ~/Library/Application Support/salita, not ~/.local/share', () => {
  assert.equal(choose('darwin', NO_XDG), MAC);
});

test('Windows: the local app data dir, not ~/.local/share', () => {
  assert.equal(choose('win32', NO_XDG), WINDOWS);
});

test('macOS and Windows: a node with data in the old ~/.local/share/salita keeps it there', () => {
  assert.equal(choose('darwin', NO_XDG, [LEGACY]), LEGACY);
  assert.equal(choose('win32', NO_XDG, [LEGACY]), LEGACY);
});

test('macOS and Windows: once the OS data dir exists it is used, even if the old dir is still there', () => {
  assert.equal(choose('darwin', NO_XDG, [LEGACY, MAC]), MAC);
  assert.equal(choose('win32', NO_XDG, [LEGACY, WINDOWS]), WINDOWS);
});

test('Linux: env-paths gives the same dir as before ($XDG_DATA_HOME/salita or ~/.local/share/salita)', () => {
  // env-paths took XDG_DATA_HOME from the environment when it was loaded, so compare against that one.
  const xdg = process.env.XDG_DATA_HOME;
  const expected = xdg?.startsWith('/') ? join(xdg, 'salita') : LEGACY;
  const env = { ...process.env };
  delete env.SALITA_DATA_DIR;
  assert.equal(dataDirPlaces(env).osDataDir, dataDirPlaces(env).legacyDataDir);
  assert.equal(choose('linux', env), expected);
  assert.equal(choose('linux', env, [expected]), expected);
});

test('a relative XDG_DATA_HOME is ignored, as the XDG spec says', () => {
  assert.equal(
    defaultDataDir({ XDG_DATA_HOME: 'data' }, { osDataDir: join('data', 'salita'), legacyDataDir: LEGACY, exists: () => false }),
    LEGACY,
  );
});
