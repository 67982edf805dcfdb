import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { type CiaoService, getResponder, type Protocol, type Responder } from '@homebridge/ciao';
import { Bonjour, type Browser, type Service } from 'bonjour-service';
import type { Logger } from 'pino';
import { normalizeFingerprint } from '../../../shared/fingerprint.js';
import { isLinkLocal, LocalAddresses } from '../net/lan-addresses.js';
import type { DiscoveryStatus } from './discovery.js';
import { instanceNameFor } from './instance-name.js';

/** DNS-SD service type every Salita node advertises and browses for. */
export const SALITA_SERVICE_TYPE = 'salita';
/** TXT schema version; bump when the TXT keys change meaning. */
export const TXT_VERSION = '1';

/** How often the default interface source is read again (only when the owner gives none). */
const DEFAULT_POLL_MS = 3000;
/** One extra query this long after start: catches services whose answer to the first query was lost. */
const REQUERY_AFTER_START_MS = 1500;
/**
 * How long a peer's goodbye waits for the same node to come back under a new name or with new addresses.
 * Re-publishing (rename, address change) says goodbye for the old records before the new ones have been probed
 * and announced; without this wait every peer would show the node offline for that moment.
 */
const GOODBYE_GRACE_MS = 4000;

export interface DiscoverySelf {
  node_id: string;
  name: string;
  fingerprint: string;
  port: number;
  version: string;
}

export interface DiscoveredPeer {
  node_id: string;
  name: string;
  fingerprint: string;
  host: string;
  port: number;
  addresses: string[];
  version: string;
}

/** What the module reports about itself: the seam's status (discovery.ts). */
export type MdnsStatus = DiscoveryStatus;

/** One interface address as LocalAddresses.all() reports it. */
export interface InterfaceAddressEntry {
  interface: string;
  address: string;
  /** Whether the node offers this address to other devices (the person's interface selection). */
  advertised: boolean;
  internal?: boolean;
}

export interface MdnsDiscoveryOptions {
  self: DiscoverySelf;
  logger: Logger;
  /** Passed to bonjour-service's querier (e.g. `{ interface: '127.0.0.1' }`); defaults suit a normal LAN. */
  multicast?: Record<string, unknown>;
  /**
   * This machine's interface addresses with the node's choice of which to offer (LocalAddresses.all()). The
   * responder listens and answers only on the interfaces of the advertised addresses and advertises only those
   * addresses. When given, the owner runs the poller and calls setAddresses() (or interfacesChanged()) when the
   * list changes; this module does not poll. Omitted = a LocalAddresses with the automatic selection, read
   * every pollIntervalMs.
   */
  interfaces?: () => readonly InterfaceAddressEntry[];
  /** Addresses to advertise, overriding the `advertised` flags (see setAddresses()). */
  addresses?: string[];
  /** Poll period in ms for the default interface source (default 3000). */
  pollIntervalMs?: number;
}

/** What the tracker knows about a found peer beyond the public view. */
interface PeerState {
  fqdn: string;
  /** Set while a goodbye for this peer waits to see whether the node comes back. */
  leaving?: NodeJS.Timeout;
}

/** What is published right now: compared with the wanted state to decide whether to re-publish. */
interface Published {
  key: string;
  service: CiaoService;
}

/**
 * Advertises this node as `_salita._tcp` with TXT `{id, name, fp, v}` and keeps the list of other Salita nodes
 * seen on the LAN. What it learns is only a hint: pairing still checks the fingerprint against the node's real
 * static key, so a spoofed advertisement can at worst show a wrong entry, never get a key trusted.
 *
 * Events:
 * - `change` (): the list returned by peers() changed, or this node's own advertised name changed.
 * - `peer-addresses` (node_id, addresses[]): a peer's address list changed (also when it is first found).
 * - `goodbye` (node_id): a peer withdrew its advertisement (mDNS goodbye, e.g. on shutdown) and did not come
 *   back within a few seconds under another name (a rename or an address change re-publishes).
 * - `interfaces` (): the default interface source saw a change (only without the `interfaces` option).
 * - `name` (instance): this node's advertised instance name changed (a conflict with another host renamed it).
 *
 * Publishing is @homebridge/ciao's responder (it passes Apple's Bonjour Conformance Test): probing with the
 * records in the Authority section and simultaneous-probe tie-breaking (RFC 6762 §8.1/§8.2), conflict
 * detection after the name is claimed and renaming (§9), answers to legacy unicast queries (§6.7), known-answer
 * suppression (§7.1), the cache-flush bit on unique records (§10.2), and mDNS over IPv6 (ff02::fb). It runs
 * under its own host name `salita-<node id hex>.local` rather than os.hostname(), which the OS's own
 * Avahi/mDNSResponder already owns. Browsing is bonjour-service's public Browser.
 */
export class MdnsDiscovery extends EventEmitter {
  private bonjour: Bonjour | undefined;
  private browser: Browser | undefined;
  private responder: Responder | undefined;
  private responderKey = '';
  private published: Published | undefined;
  private readonly found = new Map<string, DiscoveredPeer>();
  private readonly state = new Map<string, PeerState>();
  private self: DiscoverySelf;
  /** Host label without `.local` (ciao appends the domain). */
  private readonly host: string;
  private explicit: string[] | undefined;
  private readonly source: () => readonly InterfaceAddressEntry[];
  private advertised: string[] = [];
  private instance: string | undefined;
  private instanceCut = false;
  private running = false;
  private lastError: string | undefined;
  private sourceKey = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private pollTimer: NodeJS.Timeout | undefined;
  /** Publishing steps (first publish, rename, new addresses, network change) run one at a time. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: MdnsDiscoveryOptions) {
    super();
    this.self = { ...opts.self };
    this.host = `salita-${opts.self.node_id
      .replace(/^node-/, '')
      .replace(/[^0-9a-zA-Z]/g, '')
      .slice(0, 40)}`;
    this.explicit = opts.addresses ? [...opts.addresses] : undefined;
    if (opts.interfaces) this.source = opts.interfaces;
    else {
      // Read fresh each time (not the shared 2 s cache): a change must show in the poll that notices it.
      const local = new LocalAddresses(
        () => null,
        () => networkInterfaces(),
      );
      this.source = () => local.all();
    }
  }

  async start(): Promise<void> {
    if (this.bonjour) return;
    this.running = true;
    this.lastError = undefined;
    // Without an error callback bonjour-service throws from a socket event, which would take the whole node down
    // for a LAN hiccup (e.g. an interface disappearing). Log it instead; HTTP pairing keeps working.
    const bonjour = new Bonjour(this.opts.multicast ?? {}, (err: Error) => this.fail('mDNS socket error', err));
    this.bonjour = bonjour;
    this.browser = bonjour.find({ type: SALITA_SERVICE_TYPE, protocol: 'tcp' });
    this.browser.on('up', (s: Service) => this.onUp(s));
    this.browser.on('txt-update', (s: Service) => this.onUp(s));
    this.browser.on('srv-update', (s: Service) => this.onUp(s));
    this.browser.on('down', (s: Service) => this.onDown(s));

    this.sourceKey = this.readSourceKey();
    if (!this.opts.interfaces) {
      this.pollTimer = setInterval(() => this.safely('interface poll', () => this.poll()), this.opts.pollIntervalMs ?? DEFAULT_POLL_MS);
      this.pollTimer.unref();
    }
    // bonjour-service's issue list has "service published before the browser started is not found": the first
    // query can go out before the socket has joined the group, or its answer can be lost. Ask once more.
    this.later(REQUERY_AFTER_START_MS, () => this.browser?.update());
    await this.enqueue(() => this.publish());
  }

  peers(): DiscoveredPeer[] {
    return [...this.found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  status(): MdnsStatus {
    return {
      running: this.running,
      ...(this.instance !== undefined ? { instance_name: this.instance, instance_name_cut: this.instanceCut } : {}),
      advertised_addresses: [...this.advertised],
      discovered: this.found.size,
      ...(this.lastError !== undefined ? { last_error: this.lastError } : {}),
    };
  }

  /** Re-publishes under the new name (probing it first; the old instance says goodbye). */
  async rename(name: string): Promise<void> {
    this.self = { ...this.self, name };
    if (!this.running) return;
    await this.enqueue(() => this.publish());
  }

  /**
   * Restrict the advertised A/AAAA records to these addresses (the person chose which interfaces Salita uses).
   * Only addresses this machine currently has are advertised, and only on their own interfaces. `null` goes
   * back to the `advertised` flags of the interface source; `[]` (or nothing present) advertises on the
   * loopback interface only, so nodes on this machine still find each other but the LAN does not.
   * Also re-reads the interface source: the owner's interface poller calls this when the list changed.
   */
  async setAddresses(addresses: string[] | null): Promise<void> {
    this.explicit = addresses ? [...addresses] : undefined;
    if (!this.running) return;
    await this.enqueue(() => this.publish());
  }

  /** The owner's interface poller saw a change: re-read the source and re-publish if what is advertised changed. */
  async interfacesChanged(): Promise<void> {
    if (!this.running) return;
    await this.enqueue(async () => {
      await this.publish();
      // Nodes on a network we just joined have not heard our first query.
      this.browser?.update();
    });
  }

  /** Sends goodbye packets, then closes every socket so nothing is left listening. */
  async stop(): Promise<void> {
    const bonjour = this.bonjour;
    if (!bonjour) return;
    this.running = false;
    this.bonjour = undefined;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    await this.chain.catch(() => undefined);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.state.values()) if (s.leaving) clearTimeout(s.leaving);
    this.browser?.stop();
    this.browser = undefined;
    await this.unpublish();
    await this.closeResponder();
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
    this.instance = undefined;
    this.found.clear();
    this.state.clear();
  }

  // ---- publishing ----

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => (this.running ? step() : undefined));
    this.chain = run.catch((err: Error) => this.fail('mDNS publish failed', err));
    return this.chain;
  }

  /** The addresses to advertise, each with its interface; only addresses this machine has right now. */
  private chosen(entries: readonly InterfaceAddressEntry[]): { interface: string; address: string }[] {
    const seen = new Set<string>();
    const out: { interface: string; address: string }[] = [];
    // A scoped IPv6 ("fe80::1%eth0") is matched without its zone: the zone means nothing to the receiver.
    const wanted = this.explicit ? new Set(this.explicit.map((a) => a.split('%')[0]!)) : undefined;
    for (const e of entries) {
      const address = e.address.split('%')[0]!;
      if (!isIP(address) || seen.has(address)) continue;
      if (wanted ? !wanted.has(address) : !e.advertised) continue;
      seen.add(address);
      out.push({ interface: e.interface, address });
    }
    return out;
  }

  /** (Re)publishes when the name, TXT, port or advertised addresses differ from what is on the wire. */
  private async publish(): Promise<void> {
    if (!this.running) return;
    const entries = this.source();
    const chosen = this.chosen(entries);
    const loopback = entries.find((e) => e.internal)?.interface ?? 'lo';
    const interfaces = chosen.length ? [...new Set(chosen.map((c) => c.interface))] : [loopback];
    const { instance, cut } = instanceNameFor(this.self.name, this.self.node_id);
    const txt = { id: this.self.node_id, name: this.self.name, fp: this.self.fingerprint, v: TXT_VERSION };
    const addresses = chosen.map((c) => c.address);
    const key = JSON.stringify({ instance, txt, port: this.self.port, interfaces, addresses });
    if (this.published?.key === key) return;

    if (cut)
      this.opts.logger.warn(
        { name: this.self.name, instance },
        'display name is longer than one DNS label allows; mDNS advertises it shortened',
      );
    if (!sameList(addresses, this.advertised)) this.opts.logger.info({ addresses }, 'mDNS advertised addresses changed');
    this.advertised = addresses;

    // The old records go first: the responder would see our own old instance as a conflict for the new one.
    await this.unpublish();
    const responder = await this.responderFor(interfaces);
    if (!this.running) return;
    const service = responder.createService({
      name: instance,
      type: SALITA_SERVICE_TYPE,
      protocol: 'tcp' as Protocol,
      port: this.self.port,
      hostname: this.host,
      txt,
      // No restrictedAddresses: the responder's interface list already limits where it answers, and ciao
      // never answers IPv6 queries for a service restricted by address (it looks up "eth0/6" in that map).
    });
    this.published = { key, service };
    this.instance = instance;
    this.instanceCut = cut;
    // Fires after probing found the name held elsewhere, and again when a conflict arises after it was claimed.
    service.on('name-change', (next: string) => {
      if (this.published?.service !== service) return;
      this.opts.logger.warn(
        { wanted: instance, advertised: next },
        'mDNS instance name is held by another host; advertising under a new name',
      );
      this.instance = next;
      this.emit('name', next);
      this.emit('change');
    });
    service.on('hostname-change', (next: string) => {
      this.opts.logger.warn({ wanted: this.host, advertised: next }, 'mDNS host name is held by another host; using a new one');
    });
    try {
      await service.advertise();
    } catch (err) {
      // Forget it so the next trigger (rename, address change, interface poll) tries again.
      if (this.published?.service === service) await this.unpublish();
      throw err;
    }
  }

  private async unpublish(): Promise<void> {
    const old = this.published;
    this.published = undefined;
    if (!old) return;
    // destroy() sends the goodbye packets (TTL 0) for every record it announced.
    await old.service.destroy().catch((err: Error) => this.fail('mDNS goodbye failed', err));
  }

  /** ciao's responder binds its sockets for a fixed interface list, so a new list needs a new responder. */
  private async responderFor(interfaces: string[]): Promise<Responder> {
    const options = { interface: interfaces, advertiseIpv6: true };
    const key = JSON.stringify(options);
    if (this.responder && this.responderKey === key) return this.responder;
    await this.closeResponder();
    this.responder = getResponder(options);
    this.responderKey = key;
    return this.responder;
  }

  private async closeResponder(): Promise<void> {
    const responder = this.responder;
    this.responder = undefined;
    this.responderKey = '';
    // Responders are shared per option set within a process; shutdown() only closes the last reference.
    if (responder) await responder.shutdown().catch((err: Error) => this.fail('mDNS responder shutdown failed', err));
  }

  // ---- network changes (default source only) ----

  private readSourceKey(): string {
    return this.source()
      .map((e) => `${e.interface}/${e.address}/${e.advertised}`)
      .sort()
      .join(',');
  }

  private poll(): void {
    if (!this.running) return;
    const key = this.readSourceKey();
    if (key === this.sourceKey) return;
    this.sourceKey = key;
    this.opts.logger.info('network interfaces changed; re-publishing and re-querying mDNS');
    this.emit('interfaces');
    void this.interfacesChanged();
  }

  /**
   * Runs a timer's work so that a throw cannot take the process down (os.networkInterfaces() throws EMFILE when
   * the process is out of file descriptors): one warning per run of failures, and the next tick tries again.
   */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
      this.timerFailing = false;
    } catch (err) {
      if (!this.timerFailing) this.opts.logger.warn({ err: (err as Error).message }, `mDNS ${what} failed; retrying on the next tick`);
      this.timerFailing = true;
    }
  }
  private timerFailing = false;

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) this.safely('timer', fn);
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  private fail(what: string, err: Error): void {
    this.lastError = `${what}: ${err.message}`;
    this.opts.logger.warn({ err: err.message }, what);
  }

  // ---- browsing ----

  private onUp(service: Service): void {
    const peer = toPeer(service);
    if (!peer || peer.node_id === this.self.node_id) return;
    const prev = this.state.get(peer.node_id);
    if (prev?.leaving) clearTimeout(prev.leaving);
    this.state.set(peer.node_id, { fqdn: service.fqdn });
    this.setPeer(peer);
  }

  private onDown(service: Service): void {
    const id = txtValue(service, 'id');
    if (!id) return;
    const state = this.state.get(id);
    // A goodbye for an instance the node no longer uses (it already came back under a new name) changes nothing.
    if (!state || !dnsEqual(state.fqdn, service.fqdn) || state.leaving) return;
    state.leaving = setTimeout(() => {
      if (this.state.get(id) !== state) return;
      this.state.delete(id);
      if (this.found.delete(id)) {
        this.opts.logger.debug({ node_id: id }, 'node said goodbye');
        this.emit('goodbye', id);
        this.emit('change');
      }
    }, GOODBYE_GRACE_MS);
    state.leaving.unref();
  }

  private setPeer(peer: DiscoveredPeer): void {
    const before = this.found.get(peer.node_id);
    if (JSON.stringify(before) === JSON.stringify(peer)) return;
    this.found.set(peer.node_id, peer);
    this.opts.logger.debug({ node_id: peer.node_id, addresses: peer.addresses }, 'discovered node');
    if (!before || !sameList(before.addresses, peer.addresses)) this.emit('peer-addresses', peer.node_id, [...peer.addresses]);
    this.emit('change');
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dnsEqual(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function txtValue(service: Service, key: string): string | undefined {
  const txt = service.txt as Record<string, unknown> | undefined;
  const value = txt?.[key];
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** Accepts only well-formed advertisements; anything else on `_salita._tcp` is ignored, not trusted. */
function toPeer(service: Service): DiscoveredPeer | undefined {
  const id = txtValue(service, 'id');
  const name = txtValue(service, 'name');
  // TXT carries the compact form; the UI shows the grouped one, as for every other fingerprint.
  const fp = normalizeFingerprint(txtValue(service, 'fp') ?? '')
    ?.match(/.{4}/g)
    ?.join('-');
  const v = txtValue(service, 'v') ?? '';
  if (!id || !/^node-[0-9a-f-]{36}$/.test(id) || !name || !fp) return undefined;
  if (!Number.isInteger(service.port) || service.port <= 0 || service.port > 65535) return undefined;
  // An IPv6 link-local address is useless without its zone (which means nothing to the receiver) and a URL
  // cannot carry one portably: the node never offers those itself, so it does not collect them either.
  const addresses = [...new Set([...(service.addresses ?? []), ...(service.referer ? [service.referer.address] : [])])].filter(
    (a) => !(isIP(a.split('%')[0]!) === 6 && isLinkLocal(a)),
  );
  return { node_id: id, name: name.slice(0, 64), fingerprint: fp, host: service.host, port: service.port, addresses, version: v };
}
