// Where the app's shipped files (migrations/, out/renderer/) live, for both servers (the node and the cloud). The same code runs from src/ (tsx in tests),
// from out/main/ (built, headless or Electron) and from a packaged app, so we walk up from this module until we
// find our own package.json instead of hard-coding a relative depth.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function appRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'salita') {
          cached = dir;
          return dir;
        }
      } catch {
        // An unreadable package.json further down is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find the Salita app root (package.json named "salita") above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function appVersion(): string {
  return (JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
