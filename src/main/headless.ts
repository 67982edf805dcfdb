// `npm run headless`: the node without Electron (servers, CI, machines without a display). Prints the
// desktop UI's admin URL and a first pairing QR + PIN on stdout (logs go to stderr); stops cleanly on
// SIGINT/SIGTERM. `--admin-url` asks nothing of a node: it prints the address a running node left, 0600, in
// its data dir, after checking that the node still answers to it.
import { parseArgs } from 'node:util';
import { readAdminUrlFile } from './core/admin-url-file.js';
import { DEFAULT_PORT, DEFAULT_TIMINGS, defaultDataDir, type NodeTimings } from './core/config.js';
import { DEFAULT_FILE_LIMITS, type FileLimits } from './core/files/blob-store.js';
import { isLogFormat, LOG_FORMATS, setLogFormat } from './core/log.js';
import { type SalitaNode, startNode } from './core/node.js';
import { openInBrowser } from './open-browser.js';
import { printPairingCodes, type TerminalPairing } from './terminal-pairing.js';

const USAGE = `Usage: salita-headless [options]
  --data-dir <dir>     where identity and database live (env SALITA_DATA_DIR; default: the OS data dir,
                       see docs/operations.md)
  --port <n>           HTTP port (default ${DEFAULT_PORT}; 0 = any free port)
  --strict-port        fail if the port is taken instead of using the next free one
  --host <addr>        listen address (default ::, IPv6 and IPv4; 0.0.0.0 for IPv4 only)
  --no-mdns            do not advertise or browse with mDNS
  --no-pair            do not print a pairing code at start
  --open               also open the desktop UI in a browser (where this machine has one: $BROWSER, xdg-open)
  --admin-url          print the desktop UI address of the node already running on --data-dir, and exit
                       (every start makes a new address; with --open, open it too)
  --log-format <f>     ${LOG_FORMATS.join(' or ')}: how logs are written on stderr (default pretty; env SALITA_LOG_FORMAT)
  --reset-secrets      the storage key was lost: revoke every device session, peer link and the cloud token
                       sealed with it (devices must pair again) instead of refusing to start
  --new-database       the database was lost: start this node on an empty one (devices must pair again)
  --limits <json>      raise or lower caps, e.g. '{"maxSocketsPerSession":200}' (benches; see NodeLimits)
  --timings <json>     shorter or longer waits, e.g. '{"homeFallbackMs":2000}' (tests; see NodeTimings)
  --files <json>       file limits, e.g. '{"maxFileBytes":1073741824,"deviceQuotaBytes":8589934592}'
                       (maxFileBytes, deviceQuotaBytes, partialTtlMs, retentionMs, diskReserveBytes; docs/operations.md)
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
        open: { type: 'boolean', default: false },
        'admin-url': { type: 'boolean', default: false },
        'log-format': { type: 'string' },
        'reset-secrets': { type: 'boolean', default: false },
        'new-database': { type: 'boolean', default: false },
        limits: { type: 'string' },
        timings: { type: 'string' },
        files: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** `--admin-url`: the running node's address, or why there is none (exit 1). */
async function printRunningAdminUrl(dataDir: string, open: boolean): Promise<void> {
  const url = readAdminUrlFile(dataDir);
  const notRunning = `No Salita node is running with the data dir ${dataDir}. Start it (npm run headless, or the desktop app); it prints the desktop UI address.`;
  if (!url) {
    console.error(notRunning);
    process.exit(1);
  }
  const parsed = new URL(url);
  const token = new URLSearchParams(parsed.hash.slice(1)).get('admin') ?? '';
  // A node that crashed leaves its file behind: only an address the node still accepts is printed.
  const alive = await fetch(new URL('/api/admin/state', parsed.origin), { headers: { authorization: `Admin ${token}` } }).then(
    (r) => r.ok,
    () => false,
  );
  if (!alive) {
    console.error(notRunning);
    process.exit(1);
  }
  process.stdout.write(`Desktop UI:   ${url}\n`);
  if (open && !(await openInBrowser(url))) process.stdout.write('  (no browser to open here: copy the address into one on this machine)\n');
}

async function main(): Promise<void> {
  const args = parseCli();
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args['log-format'] !== undefined) {
    if (!isLogFormat(args['log-format'])) {
      console.error(`--log-format must be ${LOG_FORMATS.join(' or ')}, not "${args['log-format']}"`);
      process.exit(2);
    }
    setLogFormat(args['log-format']);
  }
  if (args['admin-url']) {
    await printRunningAdminUrl(args['data-dir'] ?? defaultDataDir(), args.open);
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
  let files: Partial<FileLimits> | undefined;
  if (args.files !== undefined) {
    try {
      const parsed: unknown = JSON.parse(args.files);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      for (const [k, v] of Object.entries(parsed)) {
        if (!(k in DEFAULT_FILE_LIMITS)) throw new Error(`unknown limit "${k}" (known: ${Object.keys(DEFAULT_FILE_LIMITS).join(', ')})`);
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new Error(`${k} must be a positive whole number`);
      }
      files = parsed as Partial<FileLimits>;
    } catch (err) {
      console.error(`--files must be a JSON object of positive whole numbers: ${(err as Error).message}`);
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
      ...(files ? { files } : {}),
    });
  } catch (err) {
    console.error(`Salita could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(
    `Salita node "${node.identity.name}" (${node.identity.node_id})\n` +
      `  Fingerprint:  ${node.identity.fingerprint}\n  Data dir:     ${node.dataDir}\n` +
      `  Listening on: port ${node.port}${port !== 0 && node.port !== port ? ` (port ${port} was taken)` : ''}\n` +
      `  Desktop UI:   ${node.adminUrl}\n` +
      `                (a new address at every start; print it again: npm run headless -- --admin-url --data-dir ${node.dataDir})\n`,
  );
  if (node.secretsReset) {
    const r = node.secretsReset;
    process.stdout.write(
      `\n--reset-secrets: revoked ${r.sessions} device session(s) (those phones and desktops must pair again), ` +
        `dropped ${r.peerLinks} peer link secret(s) (pair those desktops again) and ${r.cloudToken ? 'the cloud token (log in to the cloud again)' : 'no cloud token'}.\n`,
    );
  }
  if (args.open && !(await openInBrowser(node.adminUrl)))
    process.stdout.write('  (--open: no browser to open here: copy the Desktop UI address into one on this machine)\n');
  const pairing: TerminalPairing | undefined = args['no-pair'] ? undefined : await printPairingCodes(node, (t) => process.stdout.write(t));
  // A browser sign-in started from the Desktop UI (or the admin API): headless, nothing opens it, so its link is
  // printed for the person to open in a browser, on this machine or another.
  let shownSignIn = '';
  const unsubscribeSignIn = node.core.feed.subscribe((e) => {
    const x = e.type === 'cloud' ? e.cloud.external : null;
    if (x?.status !== 'pending' || x.verification_uri === shownSignIn) return;
    shownSignIn = x.verification_uri;
    const what = x.method === 'passkey_register' ? 'add a passkey' : 'sign in to the cloud';
    process.stdout.write(`Open this link in a browser to ${what}: ${x.verification_uri}\n`);
  });
  process.stdout.write(`READY ${JSON.stringify({ port: node.port, node_id: node.identity.node_id })}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    pairing?.stop();
    unsubscribeSignIn();
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
