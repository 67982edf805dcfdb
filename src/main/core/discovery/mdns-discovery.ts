import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Bonjour, Service, type Browser } from 'bonjour-service';
import type { Logger } from 'pino';
import { normalizeFingerprint } from '../../../shared/fingerprint.js';

/** DNS-SD service type every Salita node advertises and browses for. */
export const SALITA_SERVICE_TYPE = 'salita';
/** TXT schema version; bump when the TXT keys change meaning. */
export const TXT_VERSION = '1';

const SERVICE_SUFFIX = `._${SALITA_SERVICE_TYPE}._tcp.local`;
/** How often the interface list is compared with the last one seen (a change re-announces and re-queries). */
const DEFAULT_POLL_MS = 3000;
/** One extra query this long after start: catches services whose answer to the first query was lost. */
const REQUERY_AFTER_START_MS = 1500;
/** Probe spacing and count before claiming an instance name (RFC 6762 §8.1: three probes, 250 ms apart). */
const PROBE_INTERVAL_MS = 250;
const PROBE_COUNT = 3;
/** Announcements after (re)publishing, relative to the first (RFC 6762 §8.3: at least two, one second apart). */
const ANNOUNCE_REPEAT_MS = [1000, 3000];
const MAX_NAME_SUFFIX = 32;

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

export interface MdnsStatus {
  running: boolean;
  instance_name?: string;
  advertised_addresses: string[];
  discovered: number;
  last_error?: string;
}

export interface MdnsDiscoveryOptions {
  self: DiscoverySelf;
  logger: Logger;
  /** Passed to multicast-dns (e.g. `{ interface: '127.0.0.1' }`); defaults suit a normal LAN. */
  multicast?: Record<string, unknown>;
  /**
   * Addresses to advertise in A/AAAA records. Omitted = automatic: every non-internal interface address
   * (what bonjour-service itself would advertise). See setAddresses().
   */
  addresses?: string[];
  /** Interface poll period in ms (default 3000). */
  pollIntervalMs?: number;
}

/** One DNS resource record as multicast-dns encodes it (bonjour-service does not export its own type). */
interface ServiceRecord {
  name: string;
  type: 'PTR' | 'SRV' | 'TXT' | 'A' | 'AAAA';
  ttl: number;
  data: unknown;
}
interface MdnsPacket {
  answers: ServiceRecord[];
  additionals: ServiceRecord[];
}
interface MdnsSocket extends EventEmitter {
  query(name: string, type: string, cb?: (err?: Error) => void): void;
  respond(res: { answers: ServiceRecord[]; additionals?: ServiceRecord[] }, cb?: (err?: Error) => void): void;
  update(): void;
}
/** bonjour-service keeps its responder private; we need it to probe, announce and read raw answers. */
interface BonjourServer {
  mdns: MdnsSocket;
  register(records: ServiceRecord[]): void;
  unregister(records: ServiceRecord[]): void;
}

/** What the tracker knows about a found peer beyond the public view. */
interface PeerState {
  fqdn: string;
  /** A/AAAA data from the peer's latest announcement that carried any. */
  advertised: string[];
  /** Source address of the latest packet that carried its SRV. */
  referer?: string;
}

/**
 * Advertises this node as `_salita._tcp` with TXT `{id, name, fp, v}` and keeps the list of other Salita nodes
 * seen on the LAN. What it learns is only a hint: pairing still checks the fingerprint against the node's real
 * static key, so a spoofed advertisement can at worst show a wrong entry, never get a key trusted.
 *
 * Events:
 * - `change` (): the list returned by peers() changed.
 * - `peer-addresses` (node_id, addresses[]): a peer's address list changed (also when it is first found).
 * - `goodbye` (node_id): a peer withdrew its current advertisement (mDNS goodbye, e.g. on shutdown). A rename's
 *   goodbye for the old instance name does not count: the new name is announced first.
 * - `interfaces` (): this machine's interface addresses changed (the owner may want to call setAddresses again).
 *
 * Publishing is done here rather than by bonjour-service's Registry, for three reasons: its Service builds
 * A/AAAA records from os.networkInterfaces() at publish time (no way to restrict them to the interfaces the
 * person chose), its host name is os.hostname() (the same name the OS's own Avahi/mDNSResponder already owns,
 * so our restricted address list would contradict the system's), and on a probe conflict it sends a goodbye
 * for the contested name, which makes every browser drop the *other* host's service. So this class probes,
 * announces, answers (through bonjour's responder, which answers queries from its record table) and says
 * goodbye itself, under its own host name `salita-<node id hex>.local`. Browsing still uses bonjour's Browser.
 */
export class MdnsDiscovery extends EventEmitter {
  private bonjour: Bonjour | undefined;
  private server: BonjourServer | undefined;
  private browser: Browser | undefined;
  private readonly found = new Map<string, DiscoveredPeer>();
  private readonly state = new Map<string, PeerState>();
  private self: DiscoverySelf;
  private readonly host: string;
  private explicit: string[] | undefined;
  private advertised: string[] = [];
  private instance: string | undefined;
  /** Records currently registered with the responder and announced. */
  private records: ServiceRecord[] = [];
  private running = false;
  private lastError: string | undefined;
  private interfacesKey = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private pollTimer: NodeJS.Timeout | undefined;
  /** Publishing steps (first publish, rename, new addresses, network change) run one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private readonly onResponse = (packet: MdnsPacket, rinfo?: { address: string }) => this.trackAddresses(packet, rinfo);

  constructor(private readonly opts: MdnsDiscoveryOptions) {
    super();
    this.self = { ...opts.self };
    this.host = `salita-${opts.self.node_id.replace(/^node-/, '').replace(/[^0-9a-zA-Z]/g, '').slice(0, 40)}.local`;
    this.explicit = opts.addresses ? [...opts.addresses] : undefined;
  }

  async start(): Promise<void> {
    if (this.bonjour) return;
    this.running = true;
    this.lastError = undefined;
    // Without an error callback bonjour-service throws from a socket event, which would take the whole node down
    // for a LAN hiccup (e.g. an interface disappearing). Log it instead; HTTP pairing keeps working.
    const bonjour = new Bonjour(this.opts.multicast ?? {}, (err: Error) => this.fail('mDNS socket error', err));
    this.bonjour = bonjour;
    this.server = (bonjour as unknown as { server: BonjourServer }).server;
    const mdns = this.server.mdns;
    // multicast-dns emits 'error' when it cannot bind 5353 (EACCES/EADDRINUSE); unhandled, that would throw.
    mdns.on('error', (err: Error) => this.fail('mDNS socket could not be opened', err));
    mdns.on('response', this.onResponse);
    this.browser = bonjour.find({ type: SALITA_SERVICE_TYPE, protocol: 'tcp' });
    this.browser.on('up', (s: Service) => this.onUp(s));
    this.browser.on('txt-update', (s: Service) => this.onUp(s));
    this.browser.on('srv-update', (s: Service) => this.onUp(s));
    this.browser.on('down', (s: Service) => this.onDown(s));

    this.interfacesKey = interfacesKey();
    this.advertised = this.computeAddresses();
    this.pollTimer = setInterval(() => this.safely('interface poll', () => this.poll()), this.opts.pollIntervalMs ?? DEFAULT_POLL_MS);
    this.pollTimer.unref();
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
      ...(this.instance !== undefined ? { instance_name: this.instance } : {}),
      advertised_addresses: [...this.advertised],
      discovered: this.found.size,
      ...(this.lastError !== undefined ? { last_error: this.lastError } : {}),
    };
  }

  /** Re-announce under the new name: the new instance first, then a goodbye for the old one. */
  async rename(name: string): Promise<void> {
    this.self = { ...this.self, name };
    if (!this.running) return;
    await this.enqueue(() => this.publish());
  }

  /**
   * Restrict the advertised A/AAAA records to these addresses (the person chose which interfaces Salita uses).
   * Only addresses this machine currently has are advertised; call again when the interfaces change (the
   * `interfaces` event says when). Peers see the new list from the re-announcement. `null` goes back to the
   * automatic list (every non-internal address); `[]` advertises no address record (peers still see the
   * packets' source address).
   */
  async setAddresses(addresses: string[] | null): Promise<void> {
    this.explicit = addresses ? [...addresses] : undefined;
    if (!this.running) return;
    await this.enqueue(async () => {
      const next = this.computeAddresses();
      if (sameList(next, this.advertised)) return;
      this.opts.logger.info({ addresses: next }, 'mDNS advertised addresses changed');
      this.advertised = next;
      await this.publish();
    });
  }

  /** Sends goodbye packets, then closes the multicast socket so nothing is left listening. */
  async stop(): Promise<void> {
    const bonjour = this.bonjour;
    const server = this.server;
    if (!bonjour || !server) return;
    this.running = false;
    this.bonjour = undefined;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    await this.chain.catch(() => undefined);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.browser?.stop();
    this.browser = undefined;
    server.mdns.removeListener('response', this.onResponse);
    const records = this.records;
    this.records = [];
    if (records.length) {
      server.unregister(records);
      await this.send(server, records.map((r) => ({ ...r, ttl: 0 })));
    }
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
    this.server = undefined;
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

  /** (Re)publishes the current name, addresses and TXT; probes first when the instance name changes. */
  private async publish(): Promise<void> {
    const server = this.server;
    if (!server || !this.running) return;
    const base = `${this.self.name.slice(0, 40)} (${this.self.node_id.slice(-8)})`.split('.').join('-');
    let instance = base;
    // Keep a suffix we already won; only look for a new one when the base name changes.
    if (this.instance && (this.instance === base || this.instance.startsWith(`${base} (`))) instance = this.instance;
    else {
      for (let n = 2; await this.nameTaken(instance); n++) {
        if (!this.running) return;
        if (n > MAX_NAME_SUFFIX) throw new Error(`no free mDNS instance name for "${base}"`);
        const next = `${base} (${n})`;
        this.opts.logger.warn({ taken: instance, next }, 'mDNS instance name is used by another host; trying the next one');
        instance = next;
      }
      if (!this.running) return;
    }
    const next = this.buildRecords(instance);
    const old = this.records;
    // bonjour's responder forgets records by name (all PTRs for `_salita._tcp.local` at once), so drop the old
    // set entirely and register the new one; it then answers queries with exactly what we announce.
    if (old.length) server.unregister(old);
    server.register(next);
    this.records = next;
    this.instance = instance;
    this.announce(server, next);
    // Goodbye only for what is gone (old instance name, old addresses), after the new records went out, so a
    // browser sees the new instance before the old one leaves and never reports the node as gone.
    const gone = old.filter((r) => !next.some((n) => sameRecord(n, r)) && !(r.type === 'PTR' && r.name.startsWith('_services.')));
    if (gone.length) await this.send(server, gone.map((r) => ({ ...r, ttl: 0 })));
  }

  private buildRecords(instance: string): ServiceRecord[] {
    const txt = { id: this.self.node_id, name: this.self.name, fp: this.self.fingerprint, v: TXT_VERSION };
    // bonjour's Service builds PTR/SRV/TXT and the TXT encoding; its A/AAAA (from every interface) are replaced.
    const noop = () => undefined;
    const service = new Service({ name: instance, type: SALITA_SERVICE_TYPE, protocol: 'tcp', port: this.self.port, host: this.host, txt }, noop, noop);
    const records = service.records().filter((r) => r.type !== 'A' && r.type !== 'AAAA');
    for (const address of this.advertised) {
      records.push({ name: this.host, type: isIP(address) === 4 ? 'A' : 'AAAA', ttl: 120, data: address });
    }
    return records;
  }

  private announce(server: BonjourServer, records: ServiceRecord[]): void {
    void this.send(server, records);
    for (const delay of ANNOUNCE_REPEAT_MS) {
      this.later(delay, () => { if (this.records === records) void this.send(server, records); });
    }
  }

  private send(server: BonjourServer, answers: ServiceRecord[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (err?: Error | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) this.fail('mDNS send failed', err);
        resolve();
      };
      // The callback never fires if the socket is already gone, so do not wait forever.
      const timer = setTimeout(() => finish(), 1000);
      timer.unref();
      try {
        server.mdns.respond({ answers }, (err) => finish(err));
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  /** RFC 6762 §8.1 probe: ask for the name three times; any answer for it from elsewhere means it is taken. */
  private nameTaken(instance: string): Promise<boolean> {
    const server = this.server;
    if (!server) return Promise.resolve(false);
    const fqdn = `${instance}${SERVICE_SUFFIX}`;
    // Our own current records answer for our current name; that is not a conflict.
    if (this.records.some((r) => r.type === 'SRV' && dnsEqual(r.name, fqdn))) return Promise.resolve(false);
    const mdns = server.mdns;
    return new Promise<boolean>((resolve) => {
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const onResponse = (packet: MdnsPacket) => {
        if ([...packet.answers, ...packet.additionals].some((rr) => rr.ttl > 0 && dnsEqual(rr.name, fqdn))) finish(true);
      };
      const finish = (taken: boolean) => {
        clearTimeout(timer);
        mdns.removeListener('response', onResponse);
        resolve(taken);
      };
      // Its own timer (not later()): stop() waits for a running probe, which ends at the next tick once stopped.
      const send = () => {
        if (!this.running || sent++ >= PROBE_COUNT) return finish(false);
        mdns.query(fqdn, 'ANY');
        timer = setTimeout(send, PROBE_INTERVAL_MS);
        timer.unref();
      };
      mdns.on('response', onResponse);
      send();
    });
  }

  // ---- network changes ----

  private poll(): void {
    if (!this.running) return;
    const key = interfacesKey();
    if (key === this.interfacesKey) return;
    this.interfacesKey = key;
    this.opts.logger.info('network interfaces changed; re-announcing and re-querying mDNS');
    this.emit('interfaces');
    void this.enqueue(async () => {
      const server = this.server;
      if (!server) return;
      // Join the group on any new interface now rather than at multicast-dns's next 5 s tick.
      try { server.mdns.update(); } catch (err) { this.fail('mDNS interface update failed', err as Error); }
      const next = this.computeAddresses();
      if (!sameList(next, this.advertised)) {
        this.advertised = next;
        await this.publish();
      } else {
        this.announce(server, this.records);
      }
      // Nodes on a network we just joined have not heard our first query.
      this.browser?.update();
    });
  }

  private computeAddresses(): string[] {
    const present = new Map<string, { internal: boolean; mac: string }>();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) present.set(a.address, a);
    }
    // A scoped IPv6 ("fe80::1%eth0") is advertised without its zone: the zone means nothing to the receiver.
    if (this.explicit) return [...new Set(this.explicit.map((a) => a.split('%')[0]!))].filter((a) => isIP(a) && present.has(a));
    // Same rule as bonjour-service's own Service.records(): every non-loopback address.
    return [...present].filter(([, a]) => !a.internal && a.mac !== '00:00:00:00:00:00').map(([address]) => address);
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
    const t = setTimeout(() => { this.timers.delete(t); if (this.running) this.safely('timer', fn); }, ms);
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
    const advertised = service.addresses?.length ? [...service.addresses] : prev?.fqdn === service.fqdn ? prev.advertised : [];
    const state: PeerState = { fqdn: service.fqdn, advertised, referer: service.referer?.address ?? prev?.referer };
    this.state.set(peer.node_id, state);
    this.setPeer({ ...peer, addresses: addressesOf(state) });
  }

  private onDown(service: Service): void {
    const id = txtValue(service, 'id');
    if (!id) return;
    // A rename announces the new instance before the old one says goodbye: that goodbye is not the node leaving.
    const state = this.state.get(id);
    if (state && !dnsEqual(state.fqdn, service.fqdn)) return;
    this.state.delete(id);
    if (this.found.delete(id)) {
      this.opts.logger.debug({ node_id: id }, 'node said goodbye');
      this.emit('goodbye', id);
      this.emit('change');
    }
  }

  /**
   * bonjour's Browser only reports SRV/TXT changes, so a peer that re-announces with new A/AAAA records would
   * go unnoticed. Read the raw answers: a packet with A/AAAA for a known peer's host replaces its advertised
   * list (records with TTL 0 remove theirs), and a packet carrying its SRV refreshes the source address.
   */
  private trackAddresses(packet: MdnsPacket, rinfo?: { address: string }): void {
    if (!this.found.size) return;
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    for (const [id, state] of this.state) {
      const peer = this.found.get(id);
      if (!peer) continue;
      let next: PeerState = state;
      if (rinfo && records.some((r) => r.type === 'SRV' && r.ttl > 0 && dnsEqual(r.name, state.fqdn))) next = { ...next, referer: rinfo.address };
      const hostRecords = records.filter((r) => (r.type === 'A' || r.type === 'AAAA') && dnsEqual(r.name, peer.host));
      const live = hostRecords.filter((r) => r.ttl > 0).map((r) => String(r.data));
      const dead = new Set(hostRecords.filter((r) => r.ttl === 0).map((r) => String(r.data)));
      if (live.length) next = { ...next, advertised: live };
      else if (dead.size) next = { ...next, advertised: next.advertised.filter((a) => !dead.has(a)) };
      if (next === state) continue;
      this.state.set(id, next);
      this.setPeer({ ...peer, addresses: addressesOf(next) });
    }
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

function addressesOf(state: PeerState): string[] {
  return [...new Set([...state.advertised, ...(state.referer ? [state.referer] : [])])];
}

function interfacesKey(): string {
  return Object.entries(networkInterfaces())
    .flatMap(([name, list]) => (list ?? []).map((a) => `${name}/${a.address}`))
    .sort()
    .join(',');
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dnsEqual(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function sameRecord(a: ServiceRecord, b: ServiceRecord): boolean {
  return a.type === b.type && dnsEqual(a.name, b.name) && JSON.stringify(a.data) === JSON.stringify(b.data);
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
  const fp = normalizeFingerprint(txtValue(service, 'fp') ?? '')?.match(/.{4}/g)?.join('-');
  const v = txtValue(service, 'v') ?? '';
  if (!id || !/^node-[0-9a-f-]{36}$/.test(id) || !name || !fp) return undefined;
  if (!Number.isInteger(service.port) || service.port <= 0 || service.port > 65535) return undefined;
  const addresses = [...new Set([...(service.addresses ?? []), ...(service.referer ? [service.referer.address] : [])])];
  return { node_id: id, name: name.slice(0, 64), fingerprint: fp, host: service.host, port: service.port, addresses, version: v };
}
