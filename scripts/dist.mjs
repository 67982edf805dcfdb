#!/usr/bin/env node
// `npm run dist` (after `npm run build`): the installers for this OS through electron-builder
// (electron-builder.yml), e.g. `npm run dist -- --linux deb`. electron-builder rebuilds better-sqlite3 for
// Electron's ABI inside node_modules; the tests run that same node_modules under plain Node, so the Node build
// is set aside first and put back afterwards, whatever happens.
//
// electron-builder needs an Electron build for the target. Without one it would try to download it and fail with
// a stack trace; this script says what is missing first. Provide one with ELECTRON_OVERRIDE_DIST_PATH (an
// unpacked Electron build, the same variable `npm start` uses) or SALITA_ELECTRON_DIST (an electron-v…zip or a
// folder holding it), or let it download (github.com, or ELECTRON_MIRROR). The same goes for Electron's headers,
// which compiling better-sqlite3 needs (www.electronjs.org, or ~/.electron-gyp/<version>).
import { spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function fail(sentence) {
  console.error(`npm run dist: ${sentence}`);
  process.exit(1);
}

if (!existsSync(join(root, 'out', 'main', 'index.js')) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) {
  fail('the app is not built; run `npm run build` first (or use `npm run dist`, which builds).');
}

const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
// The usual case: an installer for the OS we run on. Cross-building (--win on Linux, …) picks its own zip.
const zipName = `electron-v${electronVersion}-${process.platform}-${process.arch}.zip`;

/** Where @electron/get and electron-builder keep downloaded Electron zips. */
function electronCacheDirs() {
  const dirs = [process.env.ELECTRON_CACHE, process.env.electron_config_cache];
  if (process.platform === 'darwin') dirs.push(join(homedir(), 'Library', 'Caches', 'electron'));
  else if (process.platform === 'win32')
    dirs.push(join(process.env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local'), 'electron', 'Cache'));
  else dirs.push(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'electron'));
  return dirs.filter(Boolean);
}

function cachedZip() {
  for (const dir of electronCacheDirs()) {
    if (!existsSync(dir)) continue;
    if (existsSync(join(dir, zipName))) return join(dir, zipName);
    // @electron/get keeps each zip in a folder named after a hash of its URL.
    for (const sub of readdirSync(dir, { withFileTypes: true })) {
      if (sub.isDirectory() && existsSync(join(dir, sub.name, zipName))) return join(dir, sub.name, zipName);
    }
  }
  return undefined;
}

async function reachable(host) {
  try {
    await lookup(host);
    return true;
  } catch {
    return false;
  }
}

/** The electronDist to hand to electron-builder, or undefined to let it download (or use its cache). */
async function electronDist() {
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH || process.env.SALITA_ELECTRON_DIST;
  if (override) {
    if (!existsSync(override))
      fail(
        `${process.env.ELECTRON_OVERRIDE_DIST_PATH ? 'ELECTRON_OVERRIDE_DIST_PATH' : 'SALITA_ELECTRON_DIST'} is set to ${override}, which does not exist; point it at an unpacked Electron ${electronVersion} build, an ${zipName} or a folder holding that zip.`,
      );
    return override;
  }
  if (cachedZip()) return undefined;
  const mirror = process.env.ELECTRON_MIRROR || process.env.npm_config_electron_mirror;
  const host = mirror ? new URL(mirror).hostname : 'github.com';
  if (!(await reachable(host))) {
    fail(
      `no Electron ${electronVersion} build to package (${zipName}) is on this machine and its download needs ${host}, which this machine cannot reach; set ELECTRON_OVERRIDE_DIST_PATH to an unpacked Electron ${electronVersion} build or SALITA_ELECTRON_DIST to a folder holding ${zipName} (or ELECTRON_MIRROR to a reachable mirror), then run npm run dist again.`,
    );
  }
  return undefined;
}

/**
 * better-sqlite3 is compiled against Electron's headers, which node-gyp keeps in ~/.electron-gyp/<version> and
 * otherwise downloads from www.electronjs.org.
 */
async function checkElectronHeaders() {
  const devDir = join(homedir(), '.electron-gyp', electronVersion);
  if (existsSync(join(devDir, 'installVersion')) && existsSync(join(devDir, 'include', 'node', 'common.gypi'))) return;
  if (await reachable('www.electronjs.org')) return;
  const gyp = join('node_modules', '@electron', 'node-gyp', 'bin', 'node-gyp.js');
  fail(
    `better-sqlite3 must be compiled for Electron ${electronVersion}, whose headers are not in ${devDir} and come from www.electronjs.org, which this machine cannot reach; get node-v${electronVersion}-headers.tar.gz (https://www.electronjs.org/headers/v${electronVersion}/) and install it with \`node ${gyp} install --target=${electronVersion} --tarball=<that file> --devdir=${join(homedir(), '.electron-gyp')}\`, then run npm run dist again.`,
  );
}

const dist = await electronDist();
await checkElectronHeaders();

// Set the Node build of better-sqlite3 aside while electron-builder rebuilds it for Electron.
const nativeBuild = join(root, 'node_modules', 'better-sqlite3', 'build');
const setAside = join(tmpdir(), `salita-dist-better-sqlite3-${process.pid}`);
const haveNodeBuild = existsSync(nativeBuild);
if (haveNodeBuild) cpSync(nativeBuild, setAside, { recursive: true });
// Ctrl-C reaches electron-builder too (same process group); stay alive until it has stopped, so the Node
// build is put back below instead of leaving an Electron build in node_modules.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
let status = 1;
try {
  // Build only; publishing is a separate, deliberate step (electron-builder would try it on CI by itself).
  const publish = args.some((a) => a === '-p' || a.startsWith('--publish')) ? [] : ['--publish', 'never'];
  const builderArgs = ['--config', 'electron-builder.yml', ...publish, ...(dist ? [`-c.electronDist=${dist}`] : []), ...args];
  const cli = join(root, 'node_modules', 'electron-builder', 'cli.js');
  const result = spawnSync(process.execPath, [cli, ...builderArgs], { cwd: root, stdio: 'inherit' });
  status = result.status ?? 1;
} finally {
  if (haveNodeBuild) {
    rmSync(nativeBuild, { recursive: true, force: true });
    cpSync(setAside, nativeBuild, { recursive: true });
    rmSync(setAside, { recursive: true, force: true });
  }
}
if (status === 0) console.log(`npm run dist: installers are in ${join(root, 'dist')}`);
process.exit(status);
