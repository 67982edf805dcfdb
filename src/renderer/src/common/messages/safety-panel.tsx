// The open conversation's trust: a "Verified" mark, the loud "safety number changed" banner (with Accept), and
// the safety-number panel to compare with the other person: the 60 digits, a QR of this side's number, a field
// to paste or type theirs, and the verified mark to set. The same for the device's home as a whole when it is
// another desktop's. Safety numbers take some 10 ms each (5200 SHA-512 rounds): computed only when shown.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { fromBase64Url, toBase64Url } from '../../../../shared/encoding.js';
import { compareDigits, compareScannable, type SafetyNumber } from '../../../../shared/ratchet/safety-number.js';
import type { MessagingDirectory } from '../../../../shared/wire/relay.js';
import { deviceSafetyNumber, homeOf, homeSafetyNumber, type Me } from '../trust/directory-identities.js';
import { type PeerTrust, sendingBlocked, type TrustBook } from '../trust/trust-book.js';

/** What our QR says: a prefix (so a stray QR is told apart), then the scannable payload as base64url. */
const QR_PREFIX = 'salita-safety:';

function matches(ours: SafetyNumber, typed: string): boolean | undefined {
  const t = typed.trim();
  if (!t) return undefined;
  if (t.startsWith(QR_PREFIX)) {
    try {
      return compareScannable(ours, fromBase64Url(t.slice(QR_PREFIX.length)));
    } catch {
      return false;
    }
  }
  return compareDigits(ours, t);
}

function QrOf({ text }: { text: string }) {
  const [svg, setSvg] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    // Loaded on demand: the page does not carry the QR encoder until someone compares a number.
    void import('qrcode')
      .then((q) => q.default.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 }))
      .then((s) => {
        if (live) setSvg(s);
      });
    return () => {
      live = false;
    };
  }, [text]);
  // The SVG is the encoder's own drawing of our digits' payload: no text from the network goes in it.
  return svg ? <div class="safety-qr" data-testid="safety-qr" dangerouslySetInnerHTML={{ __html: svg }} /> : null;
}

export function NumberCompare({
  label,
  testid,
  number,
  trust,
  onVerify,
}: {
  label: string;
  testid: string;
  number: SafetyNumber;
  trust: PeerTrust | undefined;
  onVerify: (verified: boolean) => void;
}) {
  const [typed, setTyped] = useState('');
  const match = matches(number, typed);
  return (
    <section class="stack safety-number" data-testid={testid}>
      <h3>{label}</h3>
      <p class="safety-digits" data-testid={`${testid}-digits`}>
        {number.display}
      </p>
      <QrOf text={QR_PREFIX + toBase64Url(number.scannable)} />
      <label>
        Their number (type it, or paste the text of their QR)
        <input
          data-testid={`${testid}-compare`}
          value={typed}
          autocomplete="off"
          onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      {match === undefined ? null : (
        <p class={`banner ${match ? 'ok' : 'error'}`} data-testid={`${testid}-match`} data-match={match ? 'yes' : 'no'} role="status">
          {match ? 'The numbers match.' : 'The numbers do not match: do not mark it verified.'}
        </p>
      )}
      {trust?.verified && !trust.changed ? (
        <button type="button" data-testid={`${testid}-unverify`} onClick={() => onVerify(false)}>
          Clear the verified mark
        </button>
      ) : (
        <button type="button" class="primary" data-testid={`${testid}-verify`} onClick={() => onVerify(true)}>
          Mark as verified
        </button>
      )}
    </section>
  );
}

export interface SafetyProps {
  dir: MessagingDirectory;
  me: Me;
  trust: TrustBook;
  /** The open conversation's device. */
  peer: string;
  nameOf: (id: string) => string;
  /** The book changed: the session bumps its version so every view re-reads it. */
  onChange: () => void;
}

/** The change banners of the open conversation (device and home), loud, each with its Accept. */
export function SafetyBanners({ dir, trust, peer, nameOf, onChange }: Omit<SafetyProps, 'me'>) {
  const home = homeOf(dir, peer);
  const items: { id: string; who: string; t: PeerTrust }[] = [];
  const dt = trust.of(peer);
  if (dt?.changed) items.push({ id: peer, who: nameOf(peer), t: dt });
  const ht = home ? trust.of(home.id) : undefined;
  if (home && ht?.changed) items.push({ id: home.id, who: `the home of ${nameOf(peer)}`, t: ht });
  return (
    <>
      {items.map(({ id, who, t }) => (
        <div
          key={id}
          class="banner warning"
          role="alert"
          data-testid="safety-changed"
          data-id={id}
          data-blocking={sendingBlocked(t) ? 'true' : undefined}
        >
          <strong>The safety number with {who} changed.</strong> It was re-paired or reinstalled, or someone is in between. Compare the new
          number with them before you trust it.
          {sendingBlocked(t) ? ' You had verified it: nothing is sent until you accept the new one.' : ''}{' '}
          <button
            type="button"
            data-testid="safety-accept"
            onClick={() => {
              trust.accept(id);
              onChange();
            }}
          >
            Accept the new number
          </button>
        </div>
      ))}
    </>
  );
}

/** The verified mark and the button that opens the comparison. */
export function SafetyPanel({ dir, me, trust, peer, nameOf, onChange }: SafetyProps) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [peer]);
  const device = dir.devices.find((d) => d.device_id === peer);
  const home = homeOf(dir, peer);
  const t = trust.of(peer);
  const number = useMemo(() => (open && device ? deviceSafetyNumber(me, device) : undefined), [open, device?.public_key, me]);
  const homeNumber = useMemo(() => (open && home ? homeSafetyNumber(dir, me, home) : undefined), [open, home?.trustKey, me]);
  if (!device) return null;
  const verified = t?.verified === true && !t.changed;
  const verify = (id: string, key: string) => (v: boolean) => {
    trust.setVerified(id, key, v);
    onChange();
  };
  return (
    <div class="safety" data-testid="safety">
      <p class="safety-mark" data-testid="safety-mark" data-verified={verified ? 'true' : 'false'}>
        {verified
          ? `✓ Verified: you compared safety numbers with ${nameOf(peer)}.`
          : `Not verified: compare safety numbers with ${nameOf(peer)}.`}{' '}
        <button type="button" data-testid="safety-open" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide the safety number' : 'Safety number'}
        </button>
      </p>
      {open && number ? (
        <div class="stack" data-testid="safety-details">
          <NumberCompare
            label={`Your safety number with ${nameOf(peer)}`}
            testid="safety-device"
            number={number}
            trust={t}
            onVerify={verify(peer, device.public_key)}
          />
          {home && homeNumber ? (
            <NumberCompare
              label={`Your home's safety number with the home of ${nameOf(peer)}`}
              testid="safety-home"
              number={homeNumber}
              trust={trust.of(home.id)}
              onVerify={verify(home.id, home.trustKey)}
            />
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
