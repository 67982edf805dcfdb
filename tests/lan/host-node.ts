// One desktop node of the LAN test bed, run INSIDE a host namespace:
//   ip netns exec <ns> node --import tsx tests/lan/host-node.ts --data-dir D --port 6969 --name "Desktop A"
//     [--heartbeat-ms N] [--offline-ms N] [--no-mdns] [--host 0.0.0.0]
// It starts the real node (startNode, mDNS on, all interfaces), prints one ready line (port, admin token,
// node_id, fingerprint) and then runs commands from stdin (line-protocol.ts). Admin calls are made from here
// because the admin API only answers loopback peers with a loopback Host header, i.e. from inside this namespace.
import { networkInterfaces } from 'node:os';
import { loadOrCreateIdentity } from '../../src/main/core/identity/identity-store.js';
import { startNode } from '../../src/main/core/node.js';
import { type Command, emit, parseFlags, serveCommands } from './line-protocol.js';

const flags = parseFlags(process.argv.slice(2));
const dataDir = flags.get('data-dir');
if (!dataDir) throw new Error('--data-dir is required');
const name = flags.get('name');
// The namespaces share the machine's hostname; give each node its own name before it first advertises.
// That identity comes before any database: say so, or the start refuses a data dir whose database is missing.
const namedHere = name ? loadOrCreateIdentity(dataDir, name).created : false;

const timings: { heartbeatIntervalMs?: number; offlineAfterMs?: number } = {};
if (flags.has('heartbeat-ms')) timings.heartbeatIntervalMs = Number(flags.get('heartbeat-ms'));
if (flags.has('offline-ms')) timings.offlineAfterMs = Number(flags.get('offline-ms'));

const node = await startNode({
  dataDir,
  port: Number(flags.get('port') ?? 6969),
  strictPort: true,
  host: flags.get('host') ?? '0.0.0.0',
  mdns: !flags.has('no-mdns'),
  timings,
  allowNewDatabase: namedHere,
});
const base = `http://127.0.0.1:${node.port}`;

async function call(url: string, init: RequestInit, timeoutMs = 30_000): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: return the text */
  }
  return { status: res.status, body };
}

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case 'admin': {
      // As the desktop UI on this machine calls it: loopback, admin token.
      const body = cmd.body;
      return call(base + String(cmd.path), {
        method: typeof cmd.method === 'string' ? cmd.method : body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Admin ${node.adminToken}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    }
    case 'get':
      // A plain GET from this namespace (another host's public API, or this node through a LAN address).
      return call(String(cmd.url), { method: 'GET' }, typeof cmd.timeout_ms === 'number' ? cmd.timeout_ms : undefined);
    case 'interfaces':
      return networkInterfaces();
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

emit({
  ready: {
    port: node.port,
    admin_token: node.adminToken,
    node_id: node.identity.node_id,
    fingerprint: node.identity.fingerprint,
    name: node.identity.name,
    public_key: node.identity.public_key,
    pid: process.pid,
  },
});
serveCommands(handle, () => node.stop());
