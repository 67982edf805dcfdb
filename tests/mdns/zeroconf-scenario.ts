// Runs INSIDE a private network namespace made by zeroconf-interop.test.ts, so every mDNS packet stays on this
// machine. One case per run (argv[2]); the other side is python-zeroconf (zeroconf-partner.py), an
// independent implementation, so the node is checked against more than its own browser. Prints one RESULT line.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type InterfaceAddressEntry, MdnsDiscovery } from '../../src/main/core/discovery/mdns-discovery.js';
import { createLogger } from '../../src/main/core/log.js';
import { eventually } from '../helpers/test-node.js';

const PARTNER = fileURLToPath(new URL('./zeroconf-partner.py', import.meta.url));
export const PYTHON = process.env.SALITA_PYTHON ?? '/usr/bin/python3';
const SUFFIX = '._salita._tcp.local.';
const LO = '127.0.0.1';
/** How long the zeroconf browser listens before reporting: a generous window, not a speed assertion. */
const BROWSE_SECONDS = '8';

interface Partner {
  lines: Record<string, any>[];
  next(what: string): Promise<Record<string, any>>;
  close(): Promise<void>;
}

function partner(...args: string[]): Partner {
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [PARTNER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Record<string, any>[] = [];
  let buf = '';
  let err = '';
  let exited = false;
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  let taken = 0;
  return {
    lines,
    next: (what) =>
      eventually(
        () => {
          if (lines.length > taken) return lines[taken++];
          if (exited) throw new Error(`zeroconf partner exited before ${what}: ${err}`);
          return undefined;
        },
        `zeroconf partner: ${what}`,
        60_000,
      ) as Promise<Record<string, any>>,
    close: async () => {
      child.stdin.end();
      await exit;
    },
  };
}

const run = async (...args: string[]) => {
  const p = partner(...args);
  const line = await p.next(args[0]!);
  await p.close();
  return line;
};

function node(name: string, idTail?: string, interfaces?: () => InterfaceAddressEntry[]): MdnsDiscovery {
  const id = `node-${idTail ? randomUUID().slice(0, -8) + idTail : randomUUID()}`;
  return new MdnsDiscovery({
    self: { node_id: id, name, fingerprint: 'AAAABBBBCCCCDDDD', port: 4100, version: 'test' },
    logger: createLogger(`mdns-${name}`),
    ...(interfaces ? { interfaces } : {}),
  });
}

const until = <T>(what: string, check: () => T | undefined | false): Promise<T> => eventually(check, `mDNS: ${what}`, 60_000) as Promise<T>;

const which = process.argv[2];
const result: Record<string, unknown> = { case: which };
const nodes: MdnsDiscovery[] = [];
const partners: Partner[] = [];
try {
  if (which === 'same-name') {
    // zeroconf claims the name first; the node starts while zeroconf's announcements are still going out.
    const tail = randomUUID().slice(-8);
    const base = `Laptop [${tail}]`;
    const zc = partner('register', base, '4200', 'probe', LO);
    partners.push(zc);
    result.zeroconf_name = (await zc.next('register')).registered;
    const n = node('Laptop', tail);
    nodes.push(n);
    await n.start();
    result.base = base;
    result.node_instance = n.status().instance_name;
    result.browse = (await run('browse', BROWSE_SECONDS, LO)).found;
  } else if (which === 'late-conflict') {
    const tail = randomUUID().slice(-8);
    const base = `Desk [${tail}]`;
    const n = node('Desk', tail);
    nodes.push(n);
    const renamed: string[] = [];
    n.on('name', (name: string) => renamed.push(name));
    await n.start();
    result.base = base;
    result.node_instance_before = n.status().instance_name;
    // Another host starts announcing the same name without probing (RFC 6762 §9: a conflict after claiming).
    const zc = partner('register', base, '4200', 'force', LO);
    partners.push(zc);
    await zc.next('register');
    result.node_instance_after = await until(
      'the node to rename after the late conflict',
      () => n.status().instance_name !== base && n.status().instance_name,
    );
    result.name_events = renamed;
    result.browse = (await run('browse', BROWSE_SECONDS, LO)).found;
  } else if (which === 'long-name') {
    const name = 'Рабочий компьютер в большой комнате дома';
    result.name_chars = name.length;
    const n = node(name);
    nodes.push(n);
    await n.start();
    result.status = n.status();
    result.instance_bytes = Buffer.byteLength(n.status().instance_name ?? '', 'utf8');
    result.browse = (await run('browse', BROWSE_SECONDS, LO)).found;
  } else if (which === 'legacy-unicast' || which === 'cache-flush' || which === 'known-answer') {
    const n = node('Query');
    nodes.push(n);
    await n.start();
    const fqdn = `${n.status().instance_name}${SUFFIX}`;
    result.fqdn = fqdn;
    if (which === 'legacy-unicast') result.reply = await run('legacy', fqdn, LO);
    if (which === 'cache-flush') result.reply = await run('records', fqdn, LO);
    if (which === 'known-answer') result.reply = await run('known', '_salita._tcp.local.', fqdn, LO);
  } else if (which === 'ipv6') {
    // z0 is the node's interface; the zeroconf side sends from its veth peer z1, so packets cross the link.
    const n = node('Six', undefined, () => [{ interface: 'z0', address: '10.96.0.1', advertised: true }]);
    nodes.push(n);
    await n.start();
    const fqdn = `${n.status().instance_name}${SUFFIX}`;
    result.fqdn = fqdn;
    result.reply = await run('ipv6', 'z1', fqdn);
  } else {
    throw new Error(`unknown case ${which}`);
  }
} catch (err) {
  result.error = (err as Error).stack ?? (err as Error).message;
} finally {
  for (const p of partners) await p.close().catch(() => undefined);
  for (const n of nodes) await n.stop().catch(() => undefined);
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
