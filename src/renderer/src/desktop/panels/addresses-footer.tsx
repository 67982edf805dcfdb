// The footer: the port and the addresses other devices are told about (only those, since only they can work).
import { useStore } from '../../common/store.js';
import { useDesktop } from '../desktop-context.js';

export function AddressesFooter() {
  const desktop = useDesktop();
  const admin = useStore(desktop.store, (s) => s.admin);
  if (!admin) return <footer class="foot" />;
  const offered = [...new Set(admin.lan_addresses.filter((a) => a.advertised !== false).map((a) => a.address))];
  return (
    <footer class="foot">
      <span id="lan-addresses" data-testid="lan-addresses">
        {offered.length
          ? `Port ${admin.port} · reachable on ${offered.join(', ')}`
          : admin.lan_addresses.length
            ? `Port ${admin.port} · no interface is advertised: phones can only pair by an address you give them (see Network).`
            : `Port ${admin.port} · no LAN address found: phones cannot reach this node right now.`}
      </span>
    </footer>
  );
}
