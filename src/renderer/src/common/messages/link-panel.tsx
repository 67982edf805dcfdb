// Linked devices in the Messages section (docs/e2ee.md "Linked devices"): offers to link waiting for an answer
// (Link / Not mine), and for the open conversation: with another device, "This is my device too" (a name for
// the person, then the offer) or, once linked, "Unlink"; with a contact's devices, which devices that is.
import { useEffect, useState } from 'preact/hooks';
import type { PersonView } from '../../../../shared/device-keys/device-sessions.js';
import { personIdOf } from '../conversation.js';

/** Offers to link that came to this device and are not answered yet. */
export function LinkOffers({
  people,
  nameOf,
  onAnswer,
}: {
  people: readonly PersonView[];
  nameOf: (id: string) => string;
  onAnswer: (personId: string, accept: boolean) => Promise<boolean>;
}) {
  const [busy, setBusy] = useState(false);
  const offers = people.filter((p) => p.offer_from && !p.accepted && !p.own);
  if (offers.length === 0) return null;
  const answer = async (id: string, accept: boolean) => {
    setBusy(true);
    await onAnswer(id, accept);
    setBusy(false);
  };
  return (
    <div class="stack link-offers" role="status" aria-live="polite">
      {offers.map((p) => (
        <div key={p.person_id} class="banner notice" data-testid="link-offer" data-person-id={p.person_id}>
          <p class="link-offer-text">
            {nameOf(p.offer_from!)} asks to link this device with it, as one person: <strong>{p.roster.name}</strong>. What one of them
            sends is then copied to the other, and others write to both. Link only a device that is yours.
          </p>
          <span class="actions">
            <button type="button" class="primary" data-testid="link-accept" disabled={busy} onClick={() => answer(p.person_id, true)}>
              Link
            </button>
            <button type="button" data-testid="link-decline" disabled={busy} onClick={() => answer(p.person_id, false)}>
              Not mine
            </button>
          </span>
        </div>
      ))}
    </div>
  );
}

/** The open conversation's link: offer it, see it waiting, unlink it; or a contact's linked devices. */
export function LinkPanel({
  peer,
  me,
  people,
  nameOf,
  canLink,
  onOffer,
  onUnlink,
}: {
  peer: string;
  me: string;
  people: readonly PersonView[];
  nameOf: (id: string) => string;
  /** The open conversation is with one device this device can link with (not a group). */
  canLink: boolean;
  onOffer: (name: string) => Promise<boolean>;
  onUnlink: () => Promise<boolean>;
}) {
  const own = people.find((p) => p.own);
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState(own?.roster.name ?? '');
  const [busy, setBusy] = useState(false);
  useEffect(() => setNaming(false), [peer]);
  useEffect(() => setName(own?.roster.name ?? ''), [own?.roster.name]);

  const personId = personIdOf(peer);
  if (personId !== undefined) {
    const p = people.find((x) => x.person_id === personId);
    if (!p) return null;
    const devices = p.roster.devices.filter((d) => d.device_id !== me).map((d) => nameOf(d.device_id));
    return (
      <p class="hint" data-testid="person-devices">
        {p.roster.name} on {devices.length === 1 ? 'one device' : `${devices.length} devices`}: {devices.join(', ')}. Each gets what you
        write here.
      </p>
    );
  }
  if (!canLink) return null;
  const run = async (fn: () => Promise<boolean>) => {
    setBusy(true);
    const ok = await fn();
    setBusy(false);
    return ok;
  };
  if (own?.roster.devices.some((d) => d.device_id === peer)) {
    return (
      <p class="hint" data-testid="link-status" data-linked="true">
        Linked with this device as {own.roster.name}: what either sends is copied to the other.{' '}
        <button type="button" data-testid="link-unlink" disabled={busy} onClick={() => run(onUnlink)}>
          Unlink
        </button>
      </p>
    );
  }
  if (people.some((p) => p.offer_from === peer && p.accepted && !p.own)) {
    return (
      <p class="hint" data-testid="link-status" data-linked="joining">
        Linking with {nameOf(peer)}: waiting for it to confirm.
      </p>
    );
  }
  if (own?.offered_to?.includes(peer)) {
    return (
      <p class="hint" data-testid="link-status" data-linked="waiting">
        Waiting for {nameOf(peer)} to accept the link.
      </p>
    );
  }
  if (!naming) {
    return (
      <p class="hint">
        <button type="button" data-testid="link-device" onClick={() => setNaming(true)}>
          This is my device too
        </button>
      </p>
    );
  }
  const ready = name.trim().length > 0 && !busy;
  return (
    <form
      class="stack link-form"
      data-testid="link-form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        if (ready && (await run(() => onOffer(name.trim())))) setNaming(false);
      }}
    >
      <label>
        Your name, as others see it for all your devices
        <input data-testid="link-name" value={name} maxLength={64} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <span class="actions">
        <button type="submit" class="primary" data-testid="link-submit" disabled={!ready}>
          Ask {nameOf(peer)} to link
        </button>
        <button type="button" onClick={() => setNaming(false)}>
          Cancel
        </button>
      </span>
    </form>
  );
}
