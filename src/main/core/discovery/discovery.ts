// The slice of an mDNS module the node uses (discovery/mdns-discovery.ts implements it; tests pass fakes).

/** What the mDNS module reports about itself (diagnostics). */
export interface DiscoveryStatus {
  running: boolean;
  instance_name?: string;
  advertised_addresses: string[];
  discovered: number;
  last_error?: string;
}

/**
 * The optional members are used when the module has them: the addresses to advertise, its status, and what it
 * hears about paired nodes.
 */
export interface Discovery {
  start(): Promise<void>;
  stop(): Promise<void>;
  peers(): { node_id: string; name: string; fingerprint: string; host: string; port: number; addresses: string[]; version: string }[];
  rename(name: string): Promise<void>;
  setAddresses?(addresses: string[]): unknown;
  status?(): DiscoveryStatus;
  on(event: 'change', fn: () => void): unknown;
  on(event: 'peer-addresses', fn: (nodeId: string, addresses: string[]) => void): unknown;
  on(event: 'goodbye', fn: (nodeId: string) => void): unknown;
  on(event: 'interfaces', fn: () => void): unknown;
}
