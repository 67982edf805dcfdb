// `npm run headless`: the node without Electron (servers, CI, machines without a display). Prints the
// desktop UI's admin URL and a first pairing QR + PIN in the terminal; stops cleanly on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { DEFAULT_PORT, DEFAULT_TIMINGS, defaultDataDir, type NodeTimings } from './core/config.js';
import { type SalitaNode, startNode } from './core/node.js';

const USAGE = `Usage: salita-headless [options]
  --data-dir <dir>     where identity and database live (env SALITA_DATA_DIR; default: the OS data dir,
                       see docs/operations.md)
  --port <n>           HTTP port (default ${DEFAULT_PORT}; 0 = any free port)
  --strict-port        fail if the port is taken instead of using the next free one
  --host <addr>        listen address (default ::, IPv6 and IPv4; 0.0.0.0 for IPv4 only)
  --no-mdns            do not advertise or browse with mDNS
  --no-pair            do not print a pairing code at start
  --reset-secrets      the storage key was lost: revoke every device session, peer link and the cloud token
                       sealed with it (devices must pair again) instead of refusing to start
  --new-database       the database was lost: start this node on an empty one (devices must pair again)
  --limits <json>      raise or lower caps, e.g. '{"maxSocketsPerSession":200}' (benches; see NodeLimits)
  --timings <json>     shorter or longer waits, e.g. '{"homeFallbackMs":2000}' (tests; see NodeTimings)
  --help`;

function parseCli() {
  try {
    return parseArgs({
      options: {
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        'strict-port': { type: 'boolean', default: false },
        host: { type: 'string' },
        'no-mdns': { type: 'boolean', default: false },
        'no-pair': { type: 'boolean', default: false },
        'reset-secrets': { type: 'boolean', default: false },
        'new-database': { type: 'boolean', default: false },
        limits: { type: 'string' },
        timings: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

async function printPairing(node: SalitaNode): Promise<void> {
  const p = node.core.pairing.start();
  const qr = await QRCode.toString(p.url, { type: 'terminal', small: true });
  process.stdout.write(
    `\nScan to pair a phone (expires ${p.expires_at}):\n${qr}\n` +
      `  URL:          ${p.url}\n  PIN:          ${p.pin}\n  Linking code: ${p.linking_code}\n` +
      (p.candidate_urls.length > 1 ? `  Other URLs:   ${p.candidate_urls.slice(1).join('\n                ')}\n` : '') +
      `  A new code any time: "Connect device" in the desktop UI.\n\n`,
  );
}

async function main(): Promise<void> {
  const args = parseCli();
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const port = args.port === undefined ? DEFAULT_PORT : Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a whole number from 0 to 65535, not "${args.port}"`);
    process.exit(2);
  }
  let limits: Record<string, number> | undefined;
  if (args.limits !== undefined) {
    try {
      const parsed: unknown = JSON.parse(args.limits);
      if (!parsed || typeof parsed !== 'object' || Object.values(parsed).some((v) => typeof v !== 'number' || !(v > 0)))
        throw new Error('not an object of positive numbers');
      limits = parsed as Record<string, number>;
    } catch (err) {
      console.error(`--limits must be a JSON object of positive numbers: ${(err as Error).message}`);
      process.exit(2);
    }
  }
  let timings: Partial<NodeTimings> | undefined;
  if (args.timings !== undefined) {
    try {
      const parsed: unknown = JSON.parse(args.timings);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      for (const [k, v] of Object.entries(parsed)) {
        // A misspelt key would silently leave the default in place: a test would then wait for the wrong thing.
        if (!(k in DEFAULT_TIMINGS)) throw new Error(`unknown timing "${k}" (known: ${Object.keys(DEFAULT_TIMINGS).join(', ')})`);
        if (typeof v !== 'number' || !(v > 0)) throw new Error(`${k} must be a positive number`);
      }
      timings = parsed as Partial<NodeTimings>;
    } catch (err) {
      console.error(`--timings must be a JSON object of positive numbers: ${(err as Error).message}`);
      process.exit(2);
    }
  }
  let node: SalitaNode;
  try {
    node = await startNode({
      dataDir: args['data-dir'] ?? defaultDataDir(),
      port,
      strictPort: args['strict-port'],
      ...(args.host ? { host: args.host } : {}),
      mdns: !args['no-mdns'],
      resetSecrets: args['reset-secrets'],
      allowNewDatabase: args['new-database'],
      ...(limits ? { limits } : {}),
      ...(timings ? { timings } : {}),
    });
  } catch (err) {
    console.error(`Salita could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(
    `Salita node "${node.identity.name}" (${node.identity.node_id})\n` +
      `  Fingerprint:  ${node.identity.fingerprint}\n  Data dir:     ${node.dataDir}\n` +
      `  Listening on: port ${node.port}${port !== 0 && node.port !== port ? ` (port ${port} was taken)` : ''}\n` +
      `  Desktop UI:   ${node.adminUrl}\n`,
  );
  if (node.secretsReset) {
    const r = node.secretsReset;
    process.stdout.write(
      `\n--reset-secrets: revoked ${r.sessions} device session(s) (those phones and desktops must pair again), ` +
        `dropped ${r.peerLinks} peer link secret(s) (pair those desktops again) and ${r.cloudToken ? 'the cloud token (log in to the cloud again)' : 'no cloud token'}.\n`,
    );
  }
  if (!args['no-pair']) await printPairing(node);
  process.stdout.write(`READY ${JSON.stringify({ port: node.port, node_id: node.identity.node_id })}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping Salita...\n`);
    node.stop().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`error while stopping: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
