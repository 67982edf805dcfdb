// Opens an address in the person's browser, where this machine has a way to: $BROWSER (the convention that
// xdg-open and Python's webbrowser follow), else the platform's opener. A server without one gets false and
// the caller only prints the address.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function opener(): { cmd: string; args: string[] } | undefined {
  const browser = process.env.BROWSER?.split(delimiter)[0]?.trim();
  if (browser) return { cmd: browser, args: [] };
  if (process.platform === 'darwin') return { cmd: 'open', args: [] };
  if (process.platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""'] };
  if (onPath('xdg-open') && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) return { cmd: 'xdg-open', args: [] };
  return undefined;
}

/** Resolves true once the opener started (not once the page loaded: the browser may be slow to appear). */
export function openInBrowser(url: string): Promise<boolean> {
  const how = opener();
  if (!how) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(how.cmd, [...how.args, url], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
