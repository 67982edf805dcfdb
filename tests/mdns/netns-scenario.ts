// Runs INSIDE a private network namespace made by discovery-netns.test.ts (only `lo`, multicast routed to it),
// so every mDNS packet stays on this machine. Two real nodes discover each other, see a rename, and see a
// node leave. It never calls process.exit: if mDNS left a socket or timer open, this process would not end
// and the parent test would report the leak.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SalitaNode, startNode } from '../../src/main/core/node.js';
import { eventually } from '../helpers/test-node.js';

type Seen = ReturnType<SalitaNode['core']['adminState']>['discovered'][number];

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'salita-mdns-'));
  dirs.push(d);
  return d;
};

/** A generous safety net so a broken build fails instead of hanging; not a speed assertion. */
const until = <T>(what: string, check: () => T | undefined | false): Promise<T> => eventually(check, `mDNS: ${what}`, 60_000) as Promise<T>;

const seenBy = (node: SalitaNode, id: string): Seen | undefined => node.core.adminState().discovered.find((d) => d.node_id === id);

const a = await startNode({ dataDir: dir(), port: 0, host: '127.0.0.1', mdns: true });
const b = await startNode({ dataDir: dir(), port: 0, host: '127.0.0.1', mdns: true });
const result: Record<string, unknown> = {
  a: { node_id: a.identity.node_id, fingerprint: a.identity.fingerprint, port: a.port },
  b: { node_id: b.identity.node_id, fingerprint: b.identity.fingerprint, port: b.port },
};
try {
  result.a_sees_b = await until('A to discover B', () => seenBy(a, b.identity.node_id));
  result.b_sees_a = await until('B to discover A', () => seenBy(b, a.identity.node_id));
  result.a_sees_self = a.core.adminState().discovered.some((d) => d.node_id === a.identity.node_id);
  b.core.rename('Renamed B');
  result.a_sees_rename = await until('A to see B renamed', () => {
    const s = seenBy(a, b.identity.node_id);
    return s?.name === 'Renamed B' ? s : undefined;
  });
  await b.stop();
  result.b_gone_from_a = await until('A to drop B after its goodbye', () => !seenBy(a, b.identity.node_id));
} catch (err) {
  result.error = (err as Error).message;
  await b.stop().catch(() => undefined);
} finally {
  await a.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
