// The desktop UI: one component per panel, all rendering from the Desktop's store (fed by the admin socket).
import { useState } from 'preact/hooks';
import { useStore } from '../common/store.js';
import { DesktopContext } from './desktop-context.js';
import type { Desktop } from './desktop-store.js';
import { AddressesFooter } from './panels/addresses-footer.js';
import { CloudPanel } from './panels/cloud-panel.js';
import { ConnectDevice } from './panels/connect-device.js';
import { DesktopPairing } from './panels/desktop-pairing.js';
import { DeviceList } from './panels/device-list.js';
import { ErrorBanner } from './panels/error-banner.js';
import { IdentityHeader } from './panels/identity-header.js';
import { Locked } from './panels/locked.js';
import { MessagesPanel } from './panels/messages-panel.js';
import { NetworkPanel } from './panels/network-panel.js';
import { Notices } from './panels/notices.js';
import { PairingPrompts } from './panels/pairing-prompt.js';

export function App({ desktop }: { desktop: Desktop }) {
  const locked = useStore(desktop.store, (s) => s.locked);
  const admin = useStore(desktop.store, (s) => s.admin);
  const [networkOpen, setNetworkOpen] = useState(false);
  return (
    <DesktopContext.Provider value={desktop}>
      {locked ? (
        <Locked reason={locked} />
      ) : (
        <>
          <IdentityHeader networkOpen={networkOpen} onToggleNetwork={() => setNetworkOpen((o) => !o)} />
          <ErrorBanner />
          <Notices />
          <main id="app">
            {networkOpen && <NetworkPanel onClose={() => setNetworkOpen(false)} />}
            {admin && <PairingPrompts state={admin} client={desktop.client} />}
            <ConnectDevice />
            <DeviceList />
            <MessagesPanel />
            <CloudPanel />
            {admin && <DesktopPairing state={admin} client={desktop.client} />}
            <AddressesFooter />
          </main>
        </>
      )}
    </DesktopContext.Provider>
  );
}
