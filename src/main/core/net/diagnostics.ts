// GET /api/node/diagnostics: what the "Network" panel shows. Interfaces and what is advertised, the port and
// whether this machine can reach itself on its own LAN addresses (a firewall in front of the port shows up
// here), the mDNS state, and for each peer the addresses the last heartbeat round tried and why each failed.
import type { DiagnosticsResponse } from '../../../shared/wire/schemas.js';
import { describeFetchError } from './fetch-error.js';
import { hostForUrl, type InterfaceAddress } from './lan-addresses.js';

export const REACHABILITY_TIMEOUT_MS = 1_500;

export type ReachabilityResult = DiagnosticsResponse['reachability'][number];

/** Calls GET /api/node/identity on each address (in parallel, short timeout); ok only if it is this node that answers. */
export async function checkReachability(
  addresses: readonly string[],
  port: number,
  selfNodeId: string,
  timeoutMs = REACHABILITY_TIMEOUT_MS,
): Promise<ReachabilityResult[]> {
  return Promise.all(
    addresses.map(async (address): Promise<ReachabilityResult> => {
      const url = `http://${hostForUrl(address)}:${port}/api/node/identity`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (res.status !== 200) return { address, url, ok: false, error: `HTTP ${res.status}` };
        const body = (await res.json().catch(() => undefined)) as { node_id?: unknown } | undefined;
        if (body?.node_id !== selfNodeId) return { address, url, ok: false, error: 'another program answered on this address and port' };
        return { address, url, ok: true };
      } catch (err) {
        return { address, url, ok: false, error: describeFetchError(err, timeoutMs) };
      }
    }),
  );
}

/** The addresses a server bound to `host` accepts connections on. */
export function listenAddresses(host: string, interfaces: readonly InterfaceAddress[]): string[] {
  if (host === '0.0.0.0') return interfaces.filter((a) => a.family === 'IPv4').map((a) => a.address);
  if (host === '::' || host === '') return interfaces.map((a) => a.address);
  return [host];
}

export function firewallHints(port: number): DiagnosticsResponse['firewall_hints'] {
  return [
    {
      os: 'linux',
      text:
        `If other devices cannot reach this node, allow TCP port ${port} from your LAN, and UDP port 5353 for mDNS. ` +
        `ufw: "sudo ufw allow ${port}/tcp" and "sudo ufw allow 5353/udp". ` +
        `firewalld: "sudo firewall-cmd --permanent --add-port=${port}/tcp --add-service=mdns && sudo firewall-cmd --reload".`,
    },
    {
      os: 'macos',
      text:
        `System Settings > Network > Firewall > Options: allow incoming connections for Salita (or turn off "Block all incoming connections"). ` +
        `macOS asks the first time Salita listens on port ${port}; if you clicked "Deny", remove Salita from the list and start it again.`,
    },
    {
      os: 'windows',
      text:
        `Windows Defender Firewall asks the first time Salita listens; allow it on Private networks, and make sure your home network is set to "Private", not "Public". ` +
        `Or, in an administrator PowerShell: New-NetFirewallRule -DisplayName "Salita" -Direction Inbound -Protocol TCP -LocalPort ${port} -Action Allow -Profile Private`,
    },
  ];
}
