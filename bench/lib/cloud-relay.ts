// The relay through the reference cloud for the message benches (relay.ts, cloud-scale.ts): the built cloud
// (a private copy of out/cloud, see snapshotBuild) in its own process — on SQLite in its data dir, or with
// `database` on PostgreSQL and `bus` between instances — and the phone-to-phone Path through it: two headless
// nodes, a paired phone each, each node linked to its own instance of the cloud (the same one, or two instances
// of one cloud) the way the desktop UI does it, its one-time code read from that instance's log.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Phone } from '../../tests/helpers/test-node.js';
import type { Path } from './load.js';
import { type NodeProc, pairBenchPhone, phoneToPhonePath, startNodeProc, until } from './node-proc.js';
import { type Child, spawnNode, tempDir } from './procs.js';

export interface CloudProc {
  c: Child;
  url: string;
  dataDir: string;
}

export interface CloudProcOptions {
  /** Node's own flags, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** `--database postgres://…` (default: SQLite in the data dir). */
  database?: string;
  /** `--bus nats://…`, between instances on one database. */
  bus?: string;
  /** SALITA_CLOUD_INSTANCE (the `instance` label of its metrics). */
  instance?: string;
  /** Another instance of the same cloud: its cloud.key is copied into this one's data dir (one cloud, one key). */
  keyOf?: CloudProc;
}

export async function startCloudProc(build: string, name: string, opts: CloudProcOptions = {}): Promise<CloudProc> {
  const dataDir = tempDir();
  if (opts.keyOf) copyFileSync(join(opts.keyOf.dataDir, 'cloud.key'), join(dataDir, 'cloud.key'));
  const args = [
    ...(opts.nodeArgs ?? []),
    join(build, 'out/cloud/server.mjs'),
    'serve',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
  ];
  if (opts.database) args.push('--database', opts.database);
  if (opts.bus) args.push('--bus', opts.bus);
  const c = spawnNode(name, args, { cwd: build, ...(opts.instance ? { env: { SALITA_CLOUD_INSTANCE: opts.instance } } : {}) });
  const url = (await c.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
  return { c, url, dataDir };
}

/**
 * Links a node to one cloud instance as the desktop UI does: its URL and an account's email, then the code that
 * instance logged. Both nodes of a bench use one account (one household), so their phones see each other.
 */
export async function linkNodeToCloud(n: NodeProc, cloud: CloudProc, email = 'bench@salita.test'): Promise<void> {
  const codeLine = cloud.c.waitFor(new RegExp(`one-time code for device ${n.cloudDeviceId.replace(/-/g, '\\-')}: (\\d{6})`), 30_000);
  codeLine.catch(() => {}); // awaited below; a failed login must not leave it an unhandled rejection
  const login = await n.admin('/api/admin/cloud/login', { url: cloud.url, email });
  if (login.status !== 200) throw new Error(`cloud login: HTTP ${login.status} ${JSON.stringify(login.body)}`);
  const code = (await codeLine)[1]!;
  const r = await n.admin('/api/admin/cloud/code', { code });
  if (r.status !== 200) throw new Error(`cloud code: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/**
 * A-phone -> A-node -> cloud -> B-node -> B-phone, node A linked to `clouds[0]` and node B to `clouds[1]` (the same
 * process, or two instances of one cloud). The Path's middle is node A, the cloud process(es), node B, in that
 * order; closing it stops the nodes, then the clouds.
 */
export async function cloudRelayPath(
  build: string,
  name: string,
  phoneA: Phone,
  phoneB: Phone,
  clouds: readonly [CloudProc, CloudProc],
  opts: { nodeArgs?: string[]; undici?: boolean } = {},
): Promise<Path> {
  const nodeOpts = opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {};
  const [A, B] = await Promise.all([startNodeProc(build, 'node-A', nodeOpts), startNodeProc(build, 'node-B', nodeOpts)]);
  const a = await pairBenchPhone(A, phoneA, opts.undici);
  const b = await pairBenchPhone(B, phoneB, opts.undici);
  await linkNodeToCloud(A, clouds[0]);
  await linkNodeToCloud(B, clouds[1]);
  for (const [n, label] of [
    [A, 'A'],
    [B, 'B'],
  ] as const)
    await until(`node ${label} connected to the cloud`, async () => (await n.admin('/api/admin/cloud')).body?.status === 'connected');
  await until("B-phone in A-phone's directory", async () => {
    const r = await a.request<{ devices: { device_id: string }[] }>('GET', '/api/messages/directory');
    if (r.status !== 200) throw new Error(`directory: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.devices.some((d) => d.device_id === phoneB.identity.node_id);
  });
  const cloudProcs = [...new Set(clouds.map((c) => c.c))];
  return phoneToPhonePath(name, [A.c, ...cloudProcs, B.c], a, b, async () => {
    await Promise.all([A.c.stop(), B.c.stop()]);
    for (const c of cloudProcs) await c.stop();
  });
}
