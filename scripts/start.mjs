#!/usr/bin/env node
// `npm start` (after `npm run build`): the Electron app when an Electron binary and a display exist, else the
// headless node with the same data and the arguments passed through. Signals and the exit code are forwarded.
// Usage: node scripts/start.mjs [args for the node, e.g. --port 7000 --data-dir /tmp/x]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron, hasDisplay } from './find-electron.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

/** Electron takes Chromium-style switches (--port=7000); accept the headless spelling (--port 7000) too. */
function electronArgs(list) {
  const out = [];
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if ((a === '--port' || a === '--data-dir') && list[i + 1] !== undefined) out.push(`${a}=${list[++i]}`);
    else out.push(a);
  }
  return out;
}

function run(cmd, cmdArgs, env = process.env) {
  const child = spawn(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
  const forward = (signal) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, forward(s));
  child.on('error', (err) => {
    console.error(`salita: could not start ${cmd}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Exit the way the child did, so callers see the same signal.
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

if (!existsSync(join(root, 'out', 'main', 'index.js')) || !existsSync(join(root, 'out', 'main', 'headless.js'))) {
  console.error('salita: the app is not built; run `npm run build` first (or use `npm start`, which builds).');
  process.exit(1);
}

const electron = findElectron();
const why = electron.path ? (hasDisplay() ? undefined : 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)') : electron.why;
if (why === undefined) {
  // ELECTRON_RUN_AS_NODE would make the binary a plain Node and ignore the app; never pass it on.
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron.path, [root, ...electronArgs(args)], env);
} else {
  console.log(`salita: not using Electron: ${why}. Starting the headless node instead (desktop UI at the printed URL).`);
  run(process.execPath, [join(root, 'out', 'main', 'headless.js'), ...args]);
}
