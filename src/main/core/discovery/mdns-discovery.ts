import { EventEmitter } from 'node:events';
import { Bonjour, type Browser, type Service } from 'bonjour-service';
import type { Logger } from 'pino';
import { normalizeFingerprint } from '../../../shared/fingerprint.js';

/** DNS-SD service type every Salita node advertises and browses for. */
export const SALITA_SERVICE_TYPE = 'salita';
/** TXT schema version; bump when the TXT keys change meaning. */
export const TXT_VERSION = '1';

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

export interface MdnsDiscoveryOptions {
  self: DiscoverySelf;
  logger: Logger;
  /** Passed to multicast-dns (e.g. `{ interface: '127.0.0.1' }`); defaults suit a normal LAN. */
  multicast?: Record<string, unknown>;
}

/**
 * Advertises this node as `_salita._tcp` with TXT `{id, name, fp, v}` and keeps the list of other Salita nodes
 * seen on the LAN. What it learns is only a hint: pairing still checks the fingerprint against the node's real
 * static key, so a spoofed advertisement can at worst show a wrong entry, never get a key trusted.
 */
export class MdnsDiscovery extends EventEmitter {
  private bonjour: Bonjour | undefined;
  private browser: Browser | undefined;
  private service: Service | undefined;
  private readonly found = new Map<string, DiscoveredPeer>();
  private self: DiscoverySelf;

  constructor(private readonly opts: MdnsDiscoveryOptions) {
    super();
    this.self = { ...opts.self };
  }

  async start(): Promise<void> {
    if (this.bonjour) return;
    // Without an error callback bonjour-service throws from a socket event, which would take the whole node down
    // for a LAN hiccup (e.g. an interface disappearing). Log it instead; HTTP pairing keeps working.
    this.bonjour = new Bonjour(this.opts.multicast ?? {}, (err: Error) => {
      this.opts.logger.warn({ err: err.message }, 'mDNS socket error');
    });
    this.publish();
    this.browser = this.bonjour.find({ type: SALITA_SERVICE_TYPE, protocol: 'tcp' });
    this.browser.on('up', (s: Service) => this.onUp(s));
    this.browser.on('txt-update', (s: Service) => this.onUp(s));
    this.browser.on('srv-update', (s: Service) => this.onUp(s));
    this.browser.on('down', (s: Service) => this.onDown(s));
  }

  peers(): DiscoveredPeer[] {
    return [...this.found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Re-announce under the new name (goodbye for the old record first, so peers do not list both). */
  async rename(name: string): Promise<void> {
    this.self = { ...this.self, name };
    if (!this.bonjour) return;
    await this.unpublish();
    this.publish();
  }

  /** Sends goodbye packets, then closes the multicast socket so nothing is left listening. */
  async stop(): Promise<void> {
    const bonjour = this.bonjour;
    if (!bonjour) return;
    this.bonjour = undefined;
    this.browser?.stop();
    this.browser = undefined;
    await this.unpublish(bonjour);
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
    this.found.clear();
  }

  private publish(): void {
    if (!this.bonjour) return;
    // The instance name must be unique on the LAN; two desktops called "laptop" would otherwise fight over it.
    const instance = `${this.self.name.slice(0, 40)} (${this.self.node_id.slice(-8)})`;
    this.service = this.bonjour.publish({
      name: instance,
      type: SALITA_SERVICE_TYPE,
      protocol: 'tcp',
      port: this.self.port,
      txt: { id: this.self.node_id, name: this.self.name, fp: this.self.fingerprint, v: TXT_VERSION },
    });
    this.service.on('error', (err: Error) => this.opts.logger.warn({ err: err.message }, 'mDNS publish failed'));
  }

  private unpublish(bonjour = this.bonjour): Promise<void> {
    const service = this.service;
    this.service = undefined;
    if (!bonjour || !service) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => { if (!done) { done = true; resolve(); } };
      // stop() sends the goodbye; its callback never fires if the socket is already gone, so do not wait forever.
      const timer = setTimeout(finish, 1000);
      timer.unref();
      service.stop(() => { clearTimeout(timer); finish(); });
    });
  }

  private onUp(service: Service): void {
    const peer = toPeer(service);
    if (!peer || peer.node_id === this.self.node_id) return;
    const before = this.found.get(peer.node_id);
    this.found.set(peer.node_id, peer);
    if (JSON.stringify(before) !== JSON.stringify(peer)) {
      this.opts.logger.debug({ node_id: peer.node_id, addresses: peer.addresses }, 'discovered node');
      this.emit('change');
    }
  }

  private onDown(service: Service): void {
    const id = txtValue(service, 'id');
    if (id && this.found.delete(id)) this.emit('change');
  }
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
