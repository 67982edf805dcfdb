// A private LAN made of network namespaces, for the LAN test bed. Nothing here touches the machine's
// real interfaces or the root namespace's addresses and routes:
//   - the bridge lives in its own namespace (`<prefix>-br`);
//   - every veth pair is created INSIDE that bridge namespace, its far end moved straight into a host namespace
//     (`ip -n <br> link add <port> type veth peer name lanN netns <host>`), so no interface ever exists in the
//     root namespace, not even for a moment;
//   - every host gets an address on a private /24 (10.77.<rand>.0/24) and a multicast route via its own veth.
// The far ends are called lan0, lan1, ... rather than veth*: the node classifies veth* as a container interface
// and would not advertise it (docs/operations.md, the `listen` and interface settings), while on this bed they stand for a home LAN's Wi-Fi/Ethernet.
//
// Namespace names: `salita-lan-<pid>-<rand>-<role>`. The pid is the test process's, so a later run can tell a
// namespace left behind by a crashed run (its pid is gone) from one of a run still going, and removes only the former.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NS_PREFIX = 'salita-lan-';
const STALE_RE = /^salita-lan-(\d+)-[0-9a-f]+-[a-z0-9]+$/;
const STALE_DIR_RE = /^salita-lan-(\d+)-[0-9a-f]+$/;

export interface IpResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Runs `ip ...args` (never through a shell). */
export function ip(args: string[]): IpResult {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ok: false, stdout: '', stderr: r.error.message, status: null };
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').trim(), status: r.status };
}

/** Like ip() but throws with the command and its stderr. */
export function ipOrThrow(args: string[]): string {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || `exit ${r.status}`}`);
  return r.stdout;
}

/** Runs a command inside a namespace (`ip netns exec <ns> ...`), e.g. sysctl. */
export function nsExec(ns: string, cmd: string[]): IpResult {
  return ip(['netns', 'exec', ns, ...cmd]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function listNamespaces(): string[] {
  const r = ip(['netns', 'list']);
  if (!r.ok) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Kills what still runs in a namespace (processes this test bed started there), then deletes it. */
export function destroyNamespace(ns: string): void {
  const pids = ip(['netns', 'pids', ns]);
  if (pids.ok) {
    for (const p of pids.stdout
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  ip(['netns', 'del', ns]);
}

/**
 * Removes `salita-lan-<pid>-*` namespaces whose test process is gone (a run that crashed before its teardown).
 * Namespaces of a run still alive, and every other `salita-*` name, are left alone. Returns what it removed.
 */
export function cleanStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = STALE_RE.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    destroyNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

/**
 * Removes `<tmpdir>/salita-lan-<pid>-<rand>` data dirs whose test process is gone (same rule as the namespaces).
 */
export function cleanStaleTempDirs(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = STALE_DIR_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Why this machine cannot host the bed, or undefined if it can. Probes exactly what the bed needs: a named
 * namespace, a bridge and a veth pair inside it (needs root / CAP_SYS_ADMIN + CAP_NET_ADMIN, and the kernel's
 * veth and bridge support). Leaves nothing behind.
 */
export function whyNoLanBed(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces exist only on Linux (this is ${process.platform})`;
  const version = ip(['-V']);
  if (version.status === null) return `cannot run \`ip\` (${version.stderr})`;
  const probe = `${NS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-probe`;
  const add = ip(['netns', 'add', probe]);
  if (!add.ok) {
    const who = typeof process.getuid === 'function' && process.getuid() !== 0 ? ' (not root: needs CAP_SYS_ADMIN)' : '';
    return `\`ip netns add\` is not permitted here${who}: ${add.stderr || `exit ${add.status}`}`;
  }
  try {
    const steps: string[][] = [
      ['-n', probe, 'link', 'add', 'pbr', 'type', 'bridge'],
      ['-n', probe, 'link', 'add', 'pv0', 'type', 'veth', 'peer', 'name', 'pv1'],
      ['-n', probe, 'link', 'set', 'pv0', 'master', 'pbr'],
    ];
    for (const s of steps) {
      const r = ip(s);
      if (!r.ok)
        return `cannot build a private bridge + veth inside a namespace (\`ip ${s.join(' ')}\`: ${r.stderr || `exit ${r.status}`})`;
    }
    // The nodes run through `ip netns exec`, which remounts /sys for the namespace: refused in some containers.
    const exec = nsExec(probe, [process.execPath, '-e', '']);
    if (!exec.ok) return `cannot run a process inside a namespace (\`ip netns exec\`: ${exec.stderr || `exit ${exec.status}`})`;
    return undefined;
  } finally {
    ip(['netns', 'del', probe]);
  }
}

export interface LanHost {
  role: string;
  ns: string;
  /** lan0, lan1, ... -> the address (without prefix length) each currently has on the bed's subnet. */
  interfaces: Map<string, string>;
}

/**
 * The bed: one bridge namespace and any number of host namespaces plugged into it. Every method throws on a
 * failed `ip` call (with its stderr); teardown() never throws and is safe to call more than once.
 */
export class LanBed {
  readonly prefix = `${NS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  /** Third octet of 10.77.<x>.0/24; random only so that two failures' logs are easy to tell apart. */
  readonly octet = 1 + (randomBytes(1)[0]! % 254);
  readonly bridgeNs = `${this.prefix}-br`;
  readonly hosts = new Map<string, LanHost>();
  /** Data dirs of the bed's nodes live under here (removed by teardown; a crashed run's by cleanStaleTempDirs). */
  readonly tempRoot = join(tmpdir(), this.prefix);
  private readonly namespaces: string[] = [];
  private portCount = 0;
  private torn = false;

  /** 10.77.<octet>.<n> */
  addr(n: number): string {
    return `10.77.${this.octet}.${n}`;
  }

  /** The subnet's addresses among a list (mDNS answers also carry IPv6 link-local ones, for instance). */
  onSubnet(addresses: readonly string[]): string[] {
    return addresses.filter((a) => a.startsWith(`10.77.${this.octet}.`));
  }

  create(): void {
    mkdirSync(this.tempRoot, { recursive: true, mode: 0o700 });
    this.addNamespace(this.bridgeNs);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'set', 'lo', 'up']);
    // No IGMP snooping: without a querier on the bed a snooping bridge may stop forwarding a group after a while.
    ipOrThrow(['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
  }

  host(role: string): LanHost {
    const h = this.hosts.get(role);
    if (!h) throw new Error(`no host ${role} on the bed`);
    return h;
  }

  /** A new host namespace with lan0 on the bridge at 10.77.<octet>.<n>/24, multicast routed via lan0. */
  addHost(role: string, n: number): LanHost {
    if (!/^[a-z0-9]+$/.test(role)) throw new Error(`role must be [a-z0-9]+: ${role}`);
    const ns = `${this.prefix}-${role}`;
    this.addNamespace(ns);
    ipOrThrow(['-n', ns, 'link', 'set', 'lo', 'up']);
    // An address change below must not take the remaining addresses with it (the kernel drops every
    // secondary address with the primary unless told to promote one).
    nsExec(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.promote_secondaries=1']);
    nsExec(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.default.promote_secondaries=1']);
    const host: LanHost = { role, ns, interfaces: new Map() };
    this.hosts.set(role, host);
    this.addInterface(role, 'lan0', this.addr(n), { multicastRoute: true });
    return host;
  }

  /** Plugs another veth from the bridge into a host (e.g. a second network card) with its own address. */
  addInterface(role: string, ifname: string, address: string, opts: { multicastRoute?: boolean } = {}): void {
    const host = this.host(role);
    const port = `p${this.portCount++}${role}`.slice(0, 15);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', host.ns]);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0']);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'set', port, 'up']);
    ipOrThrow(['-n', host.ns, 'link', 'set', ifname, 'multicast', 'on']);
    ipOrThrow(['-n', host.ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
    ipOrThrow(['-n', host.ns, 'link', 'set', ifname, 'up']);
    if (opts.multicastRoute) ipOrThrow(['-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', ifname]);
    host.interfaces.set(ifname, address);
  }

  /** Moves a host interface to a new address (new one first, then the old one goes), keeping the multicast route. */
  changeAddress(role: string, ifname: string, address: string): void {
    const host = this.host(role);
    const old = host.interfaces.get(ifname);
    ipOrThrow(['-n', host.ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
    if (old) ipOrThrow(['-n', host.ns, 'addr', 'del', `${old}/24`, 'dev', ifname]);
    host.interfaces.set(ifname, address);
    if (ifname === 'lan0') ipOrThrow(['-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', ifname]);
  }

  /**
   * Cuts a host off from multicast in both directions, as AP isolation or a VLAN boundary would for mDNS, while
   * unicast keeps working: the host has no multicast route and its interface no multicast flag (it cannot send
   * to 224.0.0.251) nor IPv6 (ff02::fb), and the bridge no longer floods multicast to its port (it hears
   * nobody's mDNS).
   */
  blockMulticast(role: string, ifname = 'lan0'): void {
    const host = this.host(role);
    ip(['-n', host.ns, 'route', 'del', '224.0.0.0/4']);
    ipOrThrow(['-n', host.ns, 'link', 'set', ifname, 'multicast', 'off']);
    // Neither stops a socket that names its multicast interface (IP_MULTICAST_IF, as mDNS responders do) from
    // sending: drop IPv4 multicast leaving the interface with a classic-BPF tc filter (needs no action module).
    // Program: EtherType IPv4 and destination in 224.0.0.0/4 -> TC_ACT_SHOT (2), else continue (-1).
    ipOrThrow(['netns', 'exec', host.ns, 'tc', 'qdisc', 'add', 'dev', ifname, 'clsact']);
    ipOrThrow([
      'netns',
      'exec',
      host.ns,
      'tc',
      'filter',
      'add',
      'dev',
      ifname,
      'egress',
      'bpf',
      'da',
      'bytecode',
      '7,40 0 0 12,21 0 4 2048,32 0 0 30,84 0 0 4026531840,21 0 1 3758096384,6 0 0 2,6 0 0 4294967295',
    ]);
    // IPv6 multicast (mDNS on ff02::fb) ignores all of the above and the bridge forwards groups a port joined
    // (MLD snooping), so the host loses IPv6 on that interface; the tests reach it over IPv4.
    ipOrThrow(['netns', 'exec', host.ns, 'sysctl', '-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    const port = this.bridgePortOf(role, ifname);
    ipOrThrow(['-n', this.bridgeNs, 'link', 'set', port, 'type', 'bridge_slave', 'mcast_flood', 'off', 'bcast_flood', 'on']);
  }

  /**
   * Takes a host's interface down (`ip link set <if> down` in its namespace), as a cable pulled or Wi-Fi lost:
   * its address stays configured, but nothing goes in or out. linkUp() undoes it.
   */
  linkDown(role: string, ifname = 'lan0'): void {
    ipOrThrow(['-n', this.host(role).ns, 'link', 'set', ifname, 'down']);
  }

  /** Brings a host's interface back up; the kernel dropped the routes through it while it was down. */
  linkUp(role: string, ifname = 'lan0'): void {
    const host = this.host(role);
    ipOrThrow(['-n', host.ns, 'link', 'set', ifname, 'up']);
    if (ifname === 'lan0') ipOrThrow(['-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', ifname]);
  }

  /** The bridge-side end of a host's interface, found through the veth peer index. */
  private bridgePortOf(role: string, ifname: string): string {
    const host = this.host(role);
    const link = ipOrThrow(['-n', host.ns, '-o', 'link', 'show', 'dev', ifname]);
    const m = /^\d+:\s+[^@:]+@if(\d+):/.exec(link.trim());
    if (!m) throw new Error(`cannot find the peer of ${ifname} in ${host.ns}: ${link}`);
    const ports = ipOrThrow(['-n', this.bridgeNs, '-o', 'link', 'show']);
    for (const line of ports.split('\n')) {
      const pm = /^(\d+):\s+([^@:]+)@/.exec(line.trim());
      if (pm && pm[1] === m[1]) return pm[2]!;
    }
    throw new Error(`no bridge port with index ${m[1]} in ${this.bridgeNs}`);
  }

  private addNamespace(ns: string): void {
    ipOrThrow(['netns', 'add', ns]);
    this.namespaces.push(ns);
  }

  /** Deletes every namespace of this bed (host namespaces first, killing anything left in them). Never throws. */
  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    for (const ns of [...this.namespaces].reverse()) {
      try {
        destroyNamespace(ns);
      } catch {
        /* best effort: keep going */
      }
    }
    rmSync(this.tempRoot, { recursive: true, force: true });
  }

  /** Namespaces of this bed that still exist (for the teardown check). */
  leftovers(): string[] {
    return listNamespaces().filter((n) => n.startsWith(this.prefix));
  }
}
