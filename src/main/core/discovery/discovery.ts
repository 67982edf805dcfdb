// The slice of an mDNS module the node uses (discovery/mdns-discovery.ts implements it; tests pass fakes).

/** What the mDNS module reports about itself (diagnostics). */
export interface DiscoveryStatus {
  running: boolean;
  instance_name?: string;
  /** The name was cut to fit one DNS label (63 bytes, with room for a conflict suffix). */
  instance_name_cut?: boolean;
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
  /** The interface table changed: read it again (re-announce on new interfaces, goodbye on gone ones). */
  interfacesChanged?(): Promise<void>;
  status?(): DiscoveryStatus;
  on(event: 'change', fn: () => void): unknown;
  on(event: 'peer-addresses', fn: (nodeId: string, addresses: string[]) => void): unknown;
  on(event: 'goodbye', fn: (nodeId: string) => void): unknown;
  on(event: 'interfaces', fn: () => void): unknown;
  /** The advertised instance name changed (a conflict on the network renamed it). */
  on(event: 'name', fn: (instance: string) => void): unknown;
}
