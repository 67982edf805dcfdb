// "Connect a device": a pairing code as a QR code, PIN and link, renewed by itself when it expires, closed when
// a device used it ("Paired with <name>." next to the button).
import { useEffect, useState } from 'preact/hooks';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { PairStartResponse } from '../../../../shared/wire/schemas.js';
import { groupDigits } from '../../common/dom.js';
import { useDesktop } from '../desktop-context.js';

function secondsLeft(p: PairStartResponse, now: number): number {
  return Math.max(0, Math.ceil((Date.parse(p.expires_at) - now) / 1000));
}

export function ConnectDevice() {
  const desktop = useDesktop();
  const [pairing, setPairing] = useState<PairStartResponse | undefined>();
  const [starting, setStarting] = useState(false);
  /** The LAN address the person chose for the QR (a machine may have Wi-Fi and Ethernet); kept for new codes. */
  const [address, setAddress] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());

  const start = async (chosen = address) => {
    if (starting) return;
    setStarting(true);
    try {
      const p = await desktop.client.call(NODE_ENDPOINTS.pairStart, { body: chosen ? { address: chosen } : {} });
      setPairing(p);
      setNow(Date.now());
      setDone(undefined);
      desktop.clearError();
    } catch (err) {
      // No retry loop on a failing node: the expired code goes away and the person can press the button again.
      setPairing((p) => (p && secondsLeft(p, Date.now()) > 0 ? p : undefined));
      desktop.showError(err);
    } finally {
      setStarting(false);
    }
  };

  // The countdown, and a fresh code when it runs out (without the person asking).
  useEffect(() => {
    if (!pairing) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [pairing]);
  const left = pairing ? secondsLeft(pairing, now) : 0;
  useEffect(() => {
    if (pairing && left === 0) void start();
  }, [pairing, left === 0]);

  // The code shown was single-use: once a device spent it, hide it rather than show a dead code.
  useEffect(
    () =>
      desktop.events.on((e) => {
        if (e.type !== 'pairing_completed') return;
        setDone(`Paired with ${e.name}.`);
        setPairing((p) => (p && p.code === e.code ? undefined : p));
      }),
    [desktop],
  );

  const m = Math.floor(left / 60);
  const s = left % 60;
  const others = pairing ? pairing.candidate_urls.filter((u) => u !== pairing.url) : [];
  return (
    <section aria-labelledby="connect-heading" class="card">
      <h2 id="connect-heading">Connect a device</h2>
      <p class="hint">
        Scan the QR code with your phone's camera, then type the PIN shown here. To pair another desktop, press Pair next to it under “Other
        Salita desktops nearby”.
      </p>
      <button type="button" data-testid="connect-device" class="primary" onClick={() => void start()}>
        {pairing ? 'New code' : 'Connect device'}
      </button>
      {pairing && (
        <div class="pair-panel">
          <img
            data-testid="pair-qr"
            class="qr"
            alt="QR code with this node's pairing link"
            width={240}
            height={240}
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(pairing.qr_svg)}`}
          />
          <dl class="pair-facts">
            <dt>PIN</dt>
            <dd>
              {/* Read digit by digit to a screen reader; shown in groups of three. */}
              <strong data-testid="pair-pin" class="pin" aria-hidden="true">
                {groupDigits(pairing.pin)}
              </strong>
              <span class="sr-only">{`PIN ${pairing.pin.split('').join(' ')}`}</span>{' '}
              <span id="pin-hint" class="hint">
                Type this on the device.
              </span>
            </dd>
            <dt>Link</dt>
            <dd>
              <a data-testid="pair-url" class="url" rel="noreferrer" target="_blank" href={pairing.url}>
                {pairing.url}
              </a>
              {others.length > 0 && (
                <details>
                  <summary>Other addresses</summary>
                  <ul>
                    {others.map((u) => (
                      <li key={u}>
                        <code>{u}</code>{' '}
                        <button
                          type="button"
                          class="link"
                          data-testid="use-address"
                          onClick={() => {
                            const host = new URL(u).hostname.replace(/^\[|\]$/g, '');
                            setAddress(host);
                            void start(host);
                          }}
                        >
                          Use for the QR
                        </button>
                      </li>
                    ))}
                  </ul>
                </details>
              )}
            </dd>
            <dt>Expires</dt>
            <dd>
              <span data-testid="pair-countdown" aria-hidden="true">
                {`${m}:${String(s).padStart(2, '0')}`}
              </span>
              <span class="sr-only">{`expires in ${m} minutes ${s} seconds`}</span>{' '}
              <span class="hint">A new code appears automatically.</span>
            </dd>
          </dl>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setPairing(undefined)}>
              Close
            </button>
          </div>
        </div>
      )}
      {done && (
        <p data-testid="pair-done" class="banner ok" role="status">
          {done}
        </p>
      )}
    </section>
  );
}
