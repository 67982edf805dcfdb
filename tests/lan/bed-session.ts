// What every test file on the LAN bed does around its scenarios: make the bed (after clearing what a crashed run
// left), tear it down however the run ends, start desktops (host-node.ts) in their namespaces, and call their
// admin API. One bed per file; its namespaces and data dirs are gone after the file, and that is asserted.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { killAllNow, LanProcess } from './child.js';
import { cleanStaleNamespaces, cleanStaleTempDirs, LanBed } from './netns.js';

/** What host-node.ts prints once its node listens. */
export interface NodeReady {
  port: number;
  admin_token: string;
  node_id: string;
  fingerprint: string;
  name: string;
  public_key: string;
  pid: number;
}
export type HostProc = LanProcess<NodeReady>;

/**
 * A bed whose namespaces are removed however the process ends: after() is the normal path; the exit and signal
 * handlers catch a run that ends any other way (uncaught error, Ctrl-C, the runner's SIGTERM).
 */
export function lanBed(usable: boolean): LanBed {
  const bed = new LanBed();
  if (!usable) return bed;
  const emergencyTeardown = (): void => {
    killAllNow();
    bed.teardown();
  };
  process.once('exit', emergencyTeardown);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      emergencyTeardown();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  return bed;
}

/** Clears what an earlier, crashed run left, makes the bridge, and plugs in one host per [role, last octet]. */
export function createBed(bed: LanBed, hosts: [role: string, octet: number][]): void {
  const stale = [...cleanStaleNamespaces(), ...cleanStaleTempDirs()];
  if (stale.length) console.log(`# LAN bed: removed what an earlier, crashed run left: ${stale.join(', ')}`);
  bed.create();
  for (const [role, octet] of hosts) bed.addHost(role, octet);
}

/** Stops every process (killing what does not stop), tears the bed down and checks nothing is left. */
export async function destroyBed(bed: LanBed, procs: Pick<LanProcess, 'stop' | 'kill'>[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop().catch(() => p.kill())));
  bed.teardown();
  const left = bed.leftovers();
  assert.deepEqual(left, [], `namespaces left after teardown: ${left.join(', ')}`);
  assert.equal(existsSync(bed.tempRoot), false, `data dirs left after teardown: ${bed.tempRoot}`);
}

/** A desktop node in `role`'s namespace, its data under the bed's temp root (teardown removes it). */
export function startDesktop(bed: LanBed, role: string, name: string, opts: { heartbeatMs: number; offlineMs: number }): Promise<HostProc> {
  return LanProcess.start<NodeReady>(`desktop ${role}`, bed.host(role).ns, './host-node.ts', [
    '--data-dir',
    mkdtempSync(join(bed.tempRoot, `${role}-`)),
    '--port',
    '6969',
    '--name',
    name,
    '--heartbeat-ms',
    String(opts.heartbeatMs),
    '--offline-ms',
    String(opts.offlineMs),
  ]);
}

export function admin(p: HostProc, path: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> {
  return p.send('admin', { path, ...(body !== undefined ? { body } : {}), ...(method ? { method } : {}) });
}

/** An admin call that must answer 200; its body. */
export async function adminOk(p: HostProc, path: string, body?: unknown, method?: string): Promise<any> {
  const r = await admin(p, path, body, method);
  assert.equal(
    r.status,
    200,
    `${p.label} ${method ?? (body === undefined ? 'GET' : 'POST')} ${path} -> ${r.status} ${JSON.stringify(r.body)}`,
  );
  return r.body;
}

/**
 * Polls `check` every 250 ms until it gives a truthy value; past `limitMs` fails saying what it waited for and
 * what it last saw. With `retryErrors`, a check that throws (a peer that is down on purpose) counts as "not yet".
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<{ value: T | undefined | false | null; seen?: unknown }>,
  opts: { limitMs: number; retryErrors: boolean },
): Promise<T> {
  const until = Date.now() + opts.limitMs;
  let last: unknown;
  for (;;) {
    const r = opts.retryErrors ? await check().catch((err: Error) => ({ value: undefined, seen: err.message })) : await check();
    if (r.value) return r.value;
    last = r.seen;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}\nlast seen: ${JSON.stringify(last, null, 1)?.slice(0, 3000)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}
