// The device side of messaging: seal text to a device from the directory, hand the envelope to our
// node, read our inbox and open what arrives. Runs in the browser (phone page, desktop UI) and in Node (tests,
// bench): crypto is src/shared/e2ee (@noble). The node only ever sees the envelope. Given this device's
// sessions (DeviceSessions), it seals envelope v2 on forward-secret sessions and keeps its prekeys published;
// v1 envelopes still open, and a device that has published no prekeys is still reached with v1 (docs/e2ee.md
// "Choosing the envelope version").

import type { DeviceSessions, PeerDevice, PersonView } from '../device-keys/device-sessions.js';
import { isDeviceKeysError } from '../device-keys/errors.js';
import { isE2eeError } from '../e2ee/errors.js';
import { FileManifest } from '../e2ee/file-manifest.js';
import { type Envelope, open, type SenderKeys, seal } from '../e2ee/index.js';
import { fromBase64Url, utf8 } from '../encoding.js';
import { isGroupError } from '../groups/errors.js';
import type { GroupPayload, GroupState } from '../groups/group.js';
import { isPersonError } from '../people/errors.js';
import { isPersonPayload, type PersonPayload, type PersonRoster } from '../people/person.js';
import { isRatchetError } from '../ratchet/errors.js';
import { isPqxdhError } from '../ratchet/pqxdh-errors.js';
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../wire/prekeys.js';
import type { InboxItem, InboxPage, MessageStatusView, MessagingDirectory, MessagingDirectoryDevice, SendAccepted } from '../wire/relay.js';

/** What a text message carries inside the envelope (the node never sees it). */
export interface TextContent {
  t: 'text';
  body: string;
}
/**
 * Carried along with a text or a file by a device linked with others (docs/e2ee.md "Linked devices"): its
 * person's roster, so the recipient writes back to all of them; and, when the envelope also goes to the
 * sender's own other devices as a copy, the devices it was written to.
 */
export interface PersonFields {
  from_person?: PersonRoster;
  to?: string[];
}
/** What a message carries inside the envelope: text, or a file's manifest (its key, name, type, size, digest). */
export type MessageContent = (TextContent | FileManifest) & PersonFields;
export const MAX_TEXT_CHARS = 4000;

/** DeviceClient (signed requests) and the desktop UI's admin fetch both fit this. */
export interface MessagingTransport {
  // biome-ignore lint/suspicious/noExplicitAny: the default is for tests that read untyped wire answers on purpose; typed callers pass T
  request<T = any>(method: string, pathWithQuery: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export class MessagingError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status?: number,
  ) {
    super(message);
    this.name = 'MessagingError';
  }
}

export type OpenedMessage =
  /**
   * `file` is set for a file message (then `text` is its name, for previews and lists). `group_id` is set for a
   * message sent in a group; `group_update` for a group's change or sender key (applied here, nothing to show).
   * `person_update`: an offer, answer or roster of linked devices (applied here, nothing to show);
   * `people_changed`: the message brought a newer roster of its sender's person. `copy_to`: a copy of what one
   * of our own linked devices sent to these devices (shown as sent).
   */
  | {
      ok: true;
      seq: number;
      id: string;
      from_device: string;
      sent_at: string;
      text: string;
      file?: FileManifest;
      group_id?: string;
      group_update?: true;
      person_update?: true;
      people_changed?: true;
      copy_to?: string[];
    }
  /**
   * Could not be opened (tampered, unknown sender key, not for us): shown as such, never as text. With
   * `group_update`: a group change or key that was refused (nothing a person wrote).
   */
  | {
      ok: false;
      seq: number;
      id: string;
      from_device: string;
      sent_at: string;
      error: string;
      group_update?: true;
      person_update?: true;
    };

/** The code of a refusal by the crypto layers (envelope, ratchet, PQXDH, session store), else undefined. */
function cryptoErrorCode(err: unknown): string | undefined {
  return isE2eeError(err) || isRatchetError(err) || isPqxdhError(err) || isDeviceKeysError(err) || isGroupError(err) || isPersonError(err)
    ? err.code
    : undefined;
}

/** Claim answers that mean "no bundle to be had now" (not "this bundle is bad"). */
const NO_BUNDLE_NOW = new Set(['no_prekeys', 'peer_unreachable', 'cloud_unreachable']);

/** The request never reached the node (fetch failed; the typed client says status 0). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof Error && (err as Error & { status?: unknown }).status === 0);
}

function noBundleNow(err: unknown): boolean {
  return err instanceof MessagingError ? NO_BUNDLE_NOW.has(err.code) : isUnreachable(err);
}

/** The code a refused step answers with: the crypto layers' or the node's, else 'unreadable'. */
function refusalCode(err: unknown): string {
  return cryptoErrorCode(err) ?? (err instanceof MessagingError ? err.code : 'unreadable');
}

/** A refusal of the crypto layers as a MessagingError with its code; anything else as it is. */
function asMessagingError(err: unknown): unknown {
  const code = cryptoErrorCode(err);
  return code ? new MessagingError(code, (err as Error).message) : err;
}

/** A text as the content of a message, refused when empty or too long. */
function textContent(text: string): MessageContent {
  if (text.length === 0 || text.length > MAX_TEXT_CHARS)
    throw new MessagingError('invalid_text', `A message is 1 to ${MAX_TEXT_CHARS} characters.`);
  return { t: 'text', body: text };
}

export class MessagingClient {
  private dir: MessagingDirectory | undefined;
  private readonly identityListeners = new Set<(deviceIds: string[]) => void>();

  /**
   * @param basePath '/api/messages' for a paired device, '/api/admin/messages' for the desktop UI.
   * @param me this device's id and static X25519 key pair (the phone's pairing key; the desktop UI's own key).
   * @param sessions this device's forward-secret sessions under that same key, or their opening (absent:
   *   envelope v1 only).
   */
  constructor(
    private readonly transport: MessagingTransport,
    private readonly me: SenderKeys,
    private readonly basePath = '/api/messages',
    sessions?: DeviceSessions | Promise<DeviceSessions>,
  ) {
    this.sessionsReady = sessions === undefined ? undefined : Promise.resolve(sessions);
  }

  /** This device's sessions once its store is open (a page opens IndexedDB while it starts). */
  private readonly sessionsReady: Promise<DeviceSessions> | undefined;

  /** Sessions were started again with these devices under another identity key: "safety number changed". */
  onIdentityChanged(fn: (deviceIds: string[]) => void): () => void {
    this.identityListeners.add(fn);
    return () => this.identityListeners.delete(fn);
  }

  /**
   * Envelopes this device sends for a group or a link (a change, a sender key, an offer, an answer): nothing a
   * person wrote. Told before they go, so a page never lists them as messages (the node's outbox has them too).
   */
  onControlEnvelopes(fn: (envelopeIds: string[]) => void): () => void {
    this.controlListeners.add(fn);
    return () => this.controlListeners.delete(fn);
  }

  private readonly controlListeners = new Set<(envelopeIds: string[]) => void>();

  private identityChanged(deviceIds: string[]): void {
    if (deviceIds.length) for (const fn of this.identityListeners) fn(deviceIds);
  }

  /** This device's id and public identity key (for its safety numbers). */
  identity(): { device_id: string; publicKey: Uint8Array } {
    return { device_id: this.me.device_id, publicKey: this.me.publicKey };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.transport.request<T & { error?: string; message?: string }>(method, this.basePath + path, body);
    if (r.status >= 400) {
      const b = r.body as { error?: string; message?: string } | string;
      const code = typeof b === 'object' && b?.error ? b.error : `http_${r.status}`;
      const msg = typeof b === 'object' && b?.message ? b.message : `HTTP ${r.status}`;
      throw new MessagingError(code, msg, r.status);
    }
    return r.body;
  }

  async directory(refresh = true): Promise<MessagingDirectory> {
    if (refresh || !this.dir) this.dir = await this.call<MessagingDirectory>('GET', '/directory');
    return this.dir;
  }

  private async entryOf(deviceId: string): Promise<MessagingDirectoryDevice> {
    let entry = (await this.directory(false)).devices.find((d) => d.device_id === deviceId);
    if (!entry) entry = (await this.directory(true)).devices.find((d) => d.device_id === deviceId);
    if (!entry) throw new MessagingError('unknown_recipient', `${deviceId} is not in the key directory.`);
    return entry;
  }

  /**
   * Publishes this device's prekeys at its node when they are missing, low or due for rotation (no-op without
   * sessions). Call it when the page starts and now and then after: others start sessions from them.
   */
  async publishPrekeys(): Promise<PrekeyStatus | undefined> {
    const sessions = await this.sessionsReady;
    if (!sessions) return undefined;
    return sessions.ensurePrekeysPublished({
      status: () => this.call<PrekeyStatus>('GET', '/prekeys'),
      publish: (req: PublishPrekeysRequest) => this.call<PrekeyStatus>('PUT', '/prekeys', req),
    });
  }

  private readonly claim = (deviceId: string): Promise<PrekeyBundle> =>
    this.call<PrekeyBundle>('POST', `/prekeys/${encodeURIComponent(deviceId)}/claim`, {});

  /**
   * Seals content to one device: on its session (v2) when this device has sessions, else to its static key
   * (v1). With no session yet, v1 is also what a message gets when no bundle can be had now: the device
   * published no prekeys, or the directory that holds them (our node, a home desktop, the cloud) cannot be
   * reached; that one message then has no forward secrecy, rather than not going at all (docs/e2ee.md
   * "Choosing the envelope version"). A device once reached on a session is never sealed to with v1 again, so
   * a directory that stops answering claims cannot take forward secrecy away from a conversation that had it;
   * and a bundle that is refused (not under the directory's key, a bad signature) is an error, never v1.
   * When this device is linked with others, the same envelope carries a copy to each of them (v2 only), unless
   * `copies` is false.
   */
  private async sealContent(toDeviceId: string, content: MessageContent, copies = true): Promise<Envelope> {
    const entry = await this.entryOf(toDeviceId);
    const sessions = await this.sessionsReady;
    if (sessions) {
      try {
        return await this.sealFanOut(sessions, [{ device_id: toDeviceId, identity_key: entry.public_key }], content, true, copies);
      } catch (err) {
        if (!noBundleNow(err) || (await sessions.peerIdentityKey(toDeviceId)) !== undefined) throw asMessagingError(err);
      }
    }
    const plaintext = utf8.encode(JSON.stringify(content));
    return seal(plaintext, { from: this.me, to: [{ device_id: toDeviceId, publicKey: fromBase64Url(entry.public_key) }] });
  }

  /**
   * One envelope v2 to `recipients` and, as copies, to our own other linked devices (Sesame: one ratchet
   * message per device). A device that has no session and no bundle to be had now is left out, unless it is a
   * recipient and `allRequired`; at least one recipient must remain.
   */
  private async sealFanOut(
    sessions: DeviceSessions,
    recipients: readonly PeerDevice[],
    content: MessageContent,
    allRequired: boolean,
    withCopies = true,
  ): Promise<Envelope> {
    const own = await sessions.ownRoster();
    const linked = own && own.devices.length > 1 ? own : undefined;
    const copies = await this.listedDevices(
      withCopies ? (linked?.devices ?? []).filter((d) => !recipients.some((r) => r.device_id === d.device_id)) : [],
    );
    // Our roster goes along even when it lists us alone again: a contact learns that way that we unlinked.
    const full: MessageContent = {
      ...content,
      ...(own ? { from_person: own } : {}),
      ...(copies.length ? { to: recipients.map((r) => r.device_id) } : {}),
    };
    const plaintext = utf8.encode(JSON.stringify(full));
    const attempt = async (to: readonly PeerDevice[]) => {
      const r = await sessions.seal(to, plaintext, this.claim);
      this.identityChanged(r.identityChanged);
      return r.envelope;
    };
    try {
      return await attempt([...recipients, ...copies]);
    } catch (err) {
      if (!noBundleNow(err) || recipients.length + copies.length < 2) throw err;
      // Someone's prekeys cannot be had now: those already on a session still get it.
      const held: PeerDevice[] = [];
      for (const d of [...recipients, ...copies]) if ((await sessions.peerIdentityKey(d.device_id)) !== undefined) held.push(d);
      const reached = recipients.filter((r) => held.includes(r));
      if (reached.length === 0 || (allRequired && reached.length < recipients.length)) throw err;
      return attempt(held);
    }
  }

  /** Seals `text` to one device: only that device can open it. The envelope can be sent (and re-sent) as is. */
  async sealText(toDeviceId: string, text: string): Promise<Envelope> {
    return this.sealContent(toDeviceId, textContent(text));
  }

  /**
   * Hands an envelope to our node, which has it on disk when this resolves. Sending the same envelope again
   * (after a timeout or a lost answer) is safe: the node and the cloud keep one copy per envelope id.
   */
  async sendEnvelope(envelope: Envelope): Promise<SendAccepted> {
    try {
      const r = await this.call<SendAccepted>('POST', '', { envelope });
      await this.sent(envelope);
      return r;
    } catch (err) {
      // Refused for good (not a network failure): it will never go, so it leaves the session outbox too.
      if (err instanceof MessagingError && err.code !== 'outbox_full') await this.sent(envelope);
      throw err;
    }
  }

  private async sent(envelope: Envelope): Promise<void> {
    const sessions = envelope.v !== 1 ? await this.sessionsReady : undefined;
    if (sessions) await sessions.acknowledge([envelope.id]);
  }

  /** Envelopes sealed on a session that the node has not taken yet (a reload or a lost link meanwhile). */
  async pendingEnvelopes(): Promise<Envelope[]> {
    const sessions = await this.sessionsReady;
    return sessions ? (await sessions.pendingOutbox()).map((e) => e.envelope) : [];
  }

  /** Which of those are a group's or a link's own traffic (onControlEnvelopes). */
  async pendingControlIds(): Promise<string[]> {
    const sessions = await this.sessionsReady;
    return sessions ? (await sessions.pendingOutbox()).filter((e) => e.control).map((e) => e.id) : [];
  }

  /**
   * Seals a file's manifest to one device: the key to its blob, its name and type, never seen by a node. No
   * copy goes to our other devices: the node serves the blob to the devices it was uploaded for only.
   */
  sealFile(toDeviceId: string, manifest: FileManifest): Promise<Envelope> {
    return this.sealContent(toDeviceId, FileManifest.parse(manifest), false);
  }

  async sendFile(toDeviceId: string, manifest: FileManifest): Promise<SendAccepted> {
    return this.sendEnvelope(await this.sealFile(toDeviceId, manifest));
  }

  async sendText(toDeviceId: string, text: string): Promise<SendAccepted> {
    return this.sendEnvelope(await this.sealText(toDeviceId, text));
  }

  inbox(after = 0, limit = 100): Promise<InboxPage> {
    return this.call<InboxPage>('GET', `/inbox?after=${after}&limit=${limit}`);
  }

  ack(upToSeq: number): Promise<{ ok: true; removed: number }> {
    return this.call('POST', '/inbox/ack', { up_to_seq: upToSeq });
  }

  async outbox(): Promise<MessageStatusView[]> {
    return (await this.call<{ messages: MessageStatusView[] }>('GET', '/outbox')).messages;
  }

  /**
   * Opens one inbox item with the sender's key from the directory (v1), or on the session with the sender under
   * that key (v2). Never throws for a bad envelope. A v2 envelope opened before is served again as it was.
   */
  async openItem(item: InboxItem): Promise<OpenedMessage> {
    const e = item.envelope;
    const base = { seq: item.seq, id: e.id, from_device: e.from_device, sent_at: e.sent_at };
    let senderKey: Uint8Array;
    try {
      senderKey = fromBase64Url((await this.entryOf(e.from_device)).public_key);
    } catch {
      return { ...base, ok: false, error: 'unknown_sender' };
    }
    let plain: Uint8Array;
    let groupId: string | undefined;
    const sessions = e.v === 1 ? undefined : await this.sessionsReady;
    try {
      if (e.v === 1) {
        plain = open(e, { me: this.me, senderPublicKey: senderKey });
      } else {
        if (!sessions) return { ...base, ok: false, error: 'version_unsupported' };
        const r = await sessions.open(e, senderKey);
        if (r.started?.identityChanged) this.identityChanged([e.from_device]);
        plain = r.plaintext;
        groupId = r.group_id;
      }
    } catch (err) {
      return { ...base, ok: false, error: cryptoErrorCode(err) ?? 'unreadable' };
    }
    const parsed = parseJson(plain);
    if (groupId === undefined && sessions && isGroupPayload(parsed))
      return { ...base, ...(await this.applyGroupUpdate(sessions, e.from_device, senderKey, parsed)) };
    if (groupId === undefined && sessions && isPersonPayload(parsed))
      return { ...base, ...(await this.applyPersonUpdate(sessions, e.from_device, senderKey, parsed)) };
    const content = readContent(parsed);
    if (!content.ok) return { ...base, ...content };
    if (groupId !== undefined) return { ...base, ...content, group_id: groupId };
    return {
      ...base,
      ...content,
      ...(sessions && e.v !== 1 ? await this.personFields(sessions, e.from_device, parsed as PersonFields) : {}),
    };
  }

  // ---- linked devices (docs/e2ee.md "Linked devices") ----------------------------------------------------

  /**
   * What a message says of its sender's person: a newer roster is kept (a bad one is ignored: the message is
   * still shown); a message from one of our own linked devices that lists recipients other than us is a copy.
   */
  private async personFields(
    sessions: DeviceSessions,
    from: string,
    c: PersonFields,
  ): Promise<{ people_changed?: true; copy_to?: string[] }> {
    let changed = false;
    if (c.from_person !== undefined) {
      try {
        changed = await sessions.acceptRoster(from, c.from_person);
      } catch (err) {
        console.warn(`a roster from ${from} was refused`, err);
      }
    }
    const own = await sessions.ownRoster();
    const fromOwn = own !== undefined && own.devices.length > 1 && own.devices.some((d) => d.device_id === from);
    const to = Array.isArray(c.to) && c.to.every((x) => typeof x === 'string') ? c.to : undefined;
    const copy = fromOwn && to !== undefined && to.length > 0 && !to.includes(this.me.device_id);
    return { ...(changed ? { people_changed: true as const } : {}), ...(copy ? { copy_to: to } : {}) };
  }

  private async applyPersonUpdate(
    sessions: DeviceSessions,
    from: string,
    fromKey: Uint8Array,
    payload: PersonPayload,
  ): Promise<{ ok: true; text: string; person_update: true } | { ok: false; error: string; person_update: true }> {
    try {
      await this.controlStep(() => sessions.applyPersonPayload(from, fromKey, payload, this.claim));
      return { ok: true, text: '', person_update: true };
    } catch (err) {
      return { ok: false, error: refusalCode(err), person_update: true };
    }
  }

  /**
   * Those of a roster's devices (ours left out) that the directory lists under the key the roster names for
   * them. One missing is looked for once more in a fresh directory (linked since it was read, paired just now).
   */
  private async listedDevices(devices: readonly PeerDevice[]): Promise<PeerDevice[]> {
    const wanted = devices.filter((d) => d.device_id !== this.me.device_id);
    const listed = (dir: MessagingDirectory) =>
      wanted.filter((d) => dir.devices.some((x) => x.device_id === d.device_id && x.public_key === d.identity_key));
    const found = listed(await this.directory(false));
    return found.length < wanted.length ? listed(await this.directory(true)) : found;
  }

  /** The people this device knows: its own (linked devices), offers to link, contacts with several devices. */
  async people(): Promise<PersonView[]> {
    const sessions = await this.sessionsReady;
    return sessions ? sessions.people() : [];
  }

  /** Offers the device `deviceId` (of the directory) to link with this one as one person called `name`. */
  async offerLink(deviceId: string, name: string): Promise<void> {
    const sessions = await this.peopleSessions();
    const [peer] = await this.peersOf([deviceId]);
    await this.controlStep(() => sessions.offerLink(peer!, name, this.claim));
  }

  /** Accepts or declines an offer to link from a device of `personId`. */
  async answerLinkOffer(personId: string, accept: boolean): Promise<void> {
    const sessions = await this.peopleSessions();
    await this.controlStep(() => sessions.answerOffer(personId, accept, this.claim));
  }

  /** Unlinks one of our linked devices (our own id: this device leaves). */
  async unlink(deviceId: string): Promise<void> {
    const sessions = await this.peopleSessions();
    await this.controlStep(() => sessions.unlink(deviceId, this.claim));
  }

  /**
   * Seals `text` to every device of a person (one envelope, one ratchet message per device), our own linked
   * devices getting a copy. Devices the directory does not list under the roster's key are left out.
   */
  async sealPersonText(personId: string, text: string): Promise<Envelope> {
    const content = textContent(text);
    const sessions = await this.peopleSessions();
    const person = (await sessions.people()).find((p) => p.person_id === personId);
    if (!person) throw new MessagingError('unknown_recipient', `No person ${personId} here.`);
    const to = await this.listedDevices(person.roster.devices);
    if (to.length === 0) throw new MessagingError('unknown_recipient', `No device of ${person.roster.name} is in the directory now.`);
    return this.step(() => this.sealFanOut(sessions, to, content, false));
  }

  // ---- groups (docs/e2ee.md "Groups") ------------------------------------------------------------------------

  /** A group change or sender key from `from` on our session with it; what we answer goes out at once. */
  private async applyGroupUpdate(
    sessions: DeviceSessions,
    from: string,
    fromKey: Uint8Array,
    payload: GroupPayload,
  ): Promise<{ ok: true; text: string; group_id: string; group_update: true } | { ok: false; error: string; group_update: true }> {
    try {
      const step = await this.controlStep(() => sessions.applyGroupPayload(from, fromKey, payload, this.claim));
      return { ok: true, text: '', group_id: step.group_id, group_update: true };
    } catch (err) {
      return { ok: false, error: refusalCode(err), group_update: true };
    }
  }

  /** A step's own envelopes (control traffic: onControlEnvelopes is told first), handed to the node. */
  private async sendControl(envelopes: readonly Envelope[]): Promise<void> {
    if (envelopes.length) for (const fn of this.controlListeners) fn(envelopes.map((e) => e.id));
    await this.sendEach(envelopes);
  }

  /** Envelopes handed to the node one by one; one that cannot go now stays in the session outbox. */
  private async sendEach(envelopes: readonly Envelope[]): Promise<void> {
    for (const env of envelopes) {
      try {
        await this.sendEnvelope(env);
      } catch (err) {
        if (err instanceof MessagingError) throw err;
        // The node is away: pendingEnvelopes() gives it again later.
      }
    }
  }

  /** This device's sessions, or a refusal with `code` for a step that needs them (groups, links). */
  private async requireSessions(code: 'groups_unavailable' | 'people_unavailable', cannot: string): Promise<DeviceSessions> {
    const sessions = await this.sessionsReady;
    if (!sessions) throw new MessagingError(code, `This device has no forward-secret sessions: it cannot ${cannot}.`);
    return sessions;
  }

  private groupSessions(): Promise<DeviceSessions> {
    return this.requireSessions('groups_unavailable', 'be in a group');
  }

  private peopleSessions(): Promise<DeviceSessions> {
    return this.requireSessions('people_unavailable', 'be linked');
  }

  private async peersOf(deviceIds: readonly string[]): Promise<{ device_id: string; identity_key: string }[]> {
    const out = [];
    for (const id of deviceIds) out.push({ device_id: id, identity_key: (await this.entryOf(id)).public_key });
    return out;
  }

  /** The groups this device is a member of. */
  async groups(): Promise<GroupState[]> {
    return (await this.groupSessions()).groups();
  }

  /** Makes a group of this device and these devices of the directory; they are told on their sessions. */
  async createGroup(name: string, deviceIds: readonly string[]): Promise<GroupState> {
    const sessions = await this.groupSessions();
    const step = await this.controlStep(() => this.peersOf(deviceIds).then((peers) => sessions.createGroup(name, peers, this.claim)));
    return (await sessions.groups()).find((g) => g.group_id === step.group_id)!;
  }

  /**
   * Renames the group and/or sets its other members: devices of the directory, or members it has already (under
   * the key the group lists for them, even when the directory does not show them now).
   */
  async changeGroup(groupId: string, next: { name?: string; deviceIds: readonly string[] }): Promise<void> {
    const sessions = await this.groupSessions();
    const current = (await sessions.groups()).find((g) => g.group_id === groupId);
    const known = new Map((current?.members ?? []).map((m) => [m.device_id, m.identity_key]));
    await this.controlStep(async () => {
      const members = [];
      for (const id of next.deviceIds)
        members.push(known.has(id) ? { device_id: id, identity_key: known.get(id)! } : (await this.peersOf([id]))[0]!);
      return sessions.changeGroup(groupId, { ...(next.name !== undefined ? { name: next.name } : {}), members }, this.claim);
    });
  }

  /**
   * Seals a text for every other member of the group (one Sender Key message, in envelopes v3), kept in the
   * session outbox until sent: hand each to sendEnvelope.
   */
  async sealGroupText(groupId: string, text: string): Promise<Envelope[]> {
    const content = textContent(text);
    const sessions = await this.groupSessions();
    return this.step(() => sessions.sendGroup(groupId, utf8.encode(JSON.stringify(content))));
  }

  /** Seals and sends a text to the group (what cannot go now stays in the session outbox). */
  async sendGroupText(groupId: string, text: string): Promise<Envelope[]> {
    const envelopes = await this.sealGroupText(groupId, text);
    await this.sendEach(envelopes);
    return envelopes;
  }

  /** A step of the session layer, its refusal as a MessagingError with its code. */
  private async step<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asMessagingError(err);
    }
  }

  /** A step that makes control envelopes (a group's or a link's own traffic): they go out once it is done. */
  private async controlStep<T extends { envelopes: readonly Envelope[] }>(fn: () => Promise<T>): Promise<T> {
    const done = await this.step(fn);
    await this.sendControl(done.envelopes);
    return done;
  }
}

/** The plaintext as JSON, or undefined when it is not JSON. */
function parseJson(plain: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(plain));
  } catch {
    return undefined;
  }
}

/** A group change or sender key (content `{t: 'group'}`). */
function isGroupPayload(c: unknown): c is GroupPayload {
  return (c as GroupPayload | undefined)?.t === 'group';
}

/** What the content holds, or why it is not shown: a bad name or key is never half shown. */
function readContent(content: unknown): { ok: true; text: string; file?: FileManifest } | { ok: false; error: string } {
  if (content === undefined) return { ok: false, error: 'unreadable' };
  const c = content as { t?: unknown; body?: unknown } | null;
  if (c?.t === 'file') {
    const { from_person: _p, to: _t, ...manifest } = c as Record<string, unknown>;
    const file = FileManifest.safeParse(manifest);
    return file.success ? { ok: true, text: file.data.name, file: file.data } : { ok: false, error: 'invalid_file' };
  }
  if (c?.t !== 'text' || typeof c.body !== 'string') return { ok: false, error: 'unsupported_content' };
  return { ok: true, text: c.body };
}
