// Runs INSIDE a private network namespace made by discovery-netns.test.ts (only `lo`, multicast routed to
// it; the scenario adds veth pairs itself), so every mDNS packet stays on this
// machine. Drives MdnsDiscovery directly for the edge cases bonjour-service users hit: a service published
// before the browser started, an instance-name conflict, goodbye and address events, restricting the
// advertised addresses, and a new interface appearing. Like netns-scenario.ts it never calls process.exit:
// a leaked socket or timer keeps the process alive and the parent test reports it.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type DiscoveredPeer, MdnsDiscovery } from '../../src/main/core/discovery/mdns-discovery.js';
import { createLogger } from '../../src/main/core/log.js';
import { eventually } from '../helpers/test-node.js';

const FP = ['AAAABBBBCCCCDDDD', 'EEEEFFFFGGGGHHHH', 'IIIIJJJJKKKKLLLL'] as const;

interface Watched {
  d: MdnsDiscovery;
  id: string;
  goodbyes: string[];
  addressEvents: { node_id: string; addresses: string[] }[];
}

const all: Watched[] = [];
function make(name: string, id: string, fp: string, port: number, addresses?: string[]): Watched {
  const d = new MdnsDiscovery({
    self: { node_id: id, name, fingerprint: fp, port, version: 'test' },
    logger: createLogger(`mdns-${name}`),
    ...(addresses ? { addresses } : {}),
  });
  const w: Watched = { d, id, goodbyes: [], addressEvents: [] };
  d.on('goodbye', (nodeId: string) => w.goodbyes.push(nodeId));
  d.on('peer-addresses', (nodeId: string, list: string[]) => w.addressEvents.push({ node_id: nodeId, addresses: list }));
  all.push(w);
  return w;
}

/** A generous safety net so a broken build fails instead of hanging; not a speed assertion. */
const until = <T>(what: string, check: () => T | undefined | false): Promise<T> => eventually(check, `mDNS: ${what}`, 30_000) as Promise<T>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seen = (w: Watched, id: string): DiscoveredPeer | undefined => w.d.peers().find((p) => p.node_id === id);

const idX = `node-${randomUUID()}`;
// Same last 8 characters as X, so with the same display name both want the same instance name.
const idZ = `node-${randomUUID().slice(0, -8)}${idX.slice(-8)}`;
const idY = `node-${randomUUID()}`;

const result: Record<string, unknown> = {};
try {
  const x = make('Laptop', idX, FP[0], 4001);
  await x.d.start();
  result.x_status_started = x.d.status();
  // Let X's own announcements (0, 1 and 3 s) finish, so Y can only learn about X by asking.
  await sleep(3500);

  const y = make('Observer', idY, FP[1], 4002);
  await y.d.start();
  result.y_finds_earlier_x = !!(await until('Y to find X, published before Y started', () => seen(y, idX)));
  result.x_finds_y = !!(await until('X to find Y', () => seen(x, idY)));

  const z = make('Laptop', idZ, FP[2], 4003);
  await z.d.start();
  result.z_status = z.d.status();
  result.y_sees_x_and_z = !!(await until('Y to see both X and Z', () => seen(y, idX) && seen(y, idZ)));
  result.x_sees_z = !!(await until('X to see Z', () => seen(x, idZ)));

  // Restrict what X advertises to an address on a second interface: Y must see 10.97.0.1 from X's A record,
  // and X must drop an address this machine does not have. (The responder advertises one IPv4 per interface,
  // so the chosen address sits on its own interface.)
  execFileSync('sh', [
    '-c',
    'ip link add w0 type veth peer name w1 && ip addr add 10.97.0.1/24 dev w0 && ip link set w1 up && ip link set w0 up multicast on',
  ]);
  await x.d.setAddresses(['10.97.0.1', '192.0.2.99']);
  result.x_status_restricted = x.d.status();
  result.y_sees_x_restricted = (
    await until('Y to see X advertise 10.97.0.1', () => seen(y, idX)?.addresses.includes('10.97.0.1') && seen(y, idX))
  ).addresses;
  result.y_address_event = y.addressEvents.some((e) => e.node_id === idX && e.addresses.includes('10.97.0.1'));
  await x.d.setAddresses([]);
  result.y_sees_x_unrestricted = (
    await until('Y to see X withdraw 10.97.0.1', () => seen(y, idX) && !seen(y, idX)!.addresses.includes('10.97.0.1') && seen(y, idX))
  ).addresses;

  // The chosen interface goes away and a new one appears: Z (automatic addresses) notices within a poll and
  // re-publishes on the new one. (With two interfaces up, each answer carries the address of the interface
  // it went out on, so a browser that hears both could keep either.)
  execFileSync('sh', [
    '-c',
    'ip link del w0 && ip link add v0 type veth peer name v1 && ip addr add 10.99.0.1/24 dev v0 && ip link set v1 up && ip link set v0 up multicast on',
  ]);
  result.z_status_new_iface = (
    await until('Z to advertise the new interface address', () => z.d.status().advertised_addresses.includes('10.99.0.1') && z.d.status())
  ).advertised_addresses;
  result.y_sees_z_new_iface = (
    await until('Y to see Z on the new address', () => seen(y, idZ)?.addresses.includes('10.99.0.1') && seen(y, idZ))
  ).addresses;

  // A rename is not a goodbye; stopping is.
  const goodbyesBefore = y.goodbyes.length;
  await z.d.rename('Desk');
  await until('Y to see Z renamed', () => seen(y, idZ)?.name === 'Desk');
  // Longer than the grace a goodbye waits for the node to come back, so a wrongly reported one would show.
  await sleep(6000);
  result.rename_goodbyes = y.goodbyes.slice(goodbyesBefore).filter((g) => g === idZ).length;
  result.z_status_renamed = z.d.status();
  await x.d.stop();
  result.y_goodbye_x = await until('Y to hear X say goodbye', () => y.goodbyes.includes(idX));
  result.y_dropped_x = !seen(y, idX);
  result.x_status_stopped = x.d.status();
  result.y_discovered_after = y.d.status().discovered;
} catch (err) {
  result.error = (err as Error).stack ?? (err as Error).message;
} finally {
  for (const w of all) await w.d.stop().catch(() => undefined);
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
