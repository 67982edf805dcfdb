// What the Messages section knows and does, without any DOM: the directory, the conversations, the inbox and
// outbox kept current by pushes, sending (with the retry of what could not reach the node), and whether the
// node and the cloud can be reached. One Store holds what the components render; the phone page and the
// desktop UI each make one session and hand it the pushes they hear.
import { isUnreachable, type MessagingClient, MessagingError, type OpenedMessage } from '../../../../shared/client/messaging-client.js';
import type { PersonView } from '../../../../shared/device-keys/device-sessions.js';
import type { Envelope } from '../../../../shared/e2ee/schema.js';
import type { GroupState } from '../../../../shared/groups/group.js';
import type { CloudLinkStatus, MessagingDirectory } from '../../../../shared/wire/relay.js';
import { type Conversations, groupIdOf, groupPeer, personIdOf, personPeer } from '../conversation.js';
import type { FileTransfers } from '../files/file-transfers.js';
import { isMessageStatus, isRoute, messagingErrorText } from '../message-words.js';
import { Channel, Store } from '../store.js';
import { directoryIdentities, trustBlocksConversation } from '../trust/directory-identities.js';
import { TrustBook } from '../trust/trust-book.js';
import { isPageAttended } from './page-attention.js';

/** Pushes that say the directory changed (a device paired or renamed, a desktop of the home came or went). */
const DIRECTORY_PUSHES = new Set(['directory', 'directory_changed']);

export interface SessionState {
  /** The directory as last loaded, with the cloud status the page was last told of (undefined before the first). */
  dir: MessagingDirectory | undefined;
  /** The open conversation's device. */
  selected: string | undefined;
  /** Bumped on every change of the conversations (they are kept outside the store, in Conversations). */
  version: number;
  /** The error line under the form (one at a time). */
  error: string | undefined;
  /** The page's link to its node is up and its last request was answered. */
  nodeReachable: boolean;
  sending: boolean;
  /** The groups this device is a member of (its session store's). */
  groups: readonly GroupState[];
  /** The people this device knows: its own linked devices, offers to link, contacts' rosters. */
  people: readonly PersonView[];
}

/** A contact with several linked devices: written to (and heard from) as one conversation. */
export function isContactPerson(p: PersonView): boolean {
  return !p.own && p.roster.devices.length > 1;
}

export function errorText(err: unknown): string {
  if (err instanceof MessagingError) return messagingErrorText(err.code, err.message);
  if (isUnreachable(err)) return messagingErrorText('network');
  return err instanceof Error ? err.message : String(err);
}

export class MessagingSession {
  readonly store = new Store<SessionState>({
    dir: undefined,
    selected: undefined,
    version: 0,
    error: undefined,
    nodeReachable: true,
    sending: false,
    groups: [],
    people: [],
  });
  /** A message that arrived now (not one loaded from this device's memory): the notifier listens. */
  readonly arrived = new Channel<OpenedMessage>();
  /** The person picked a device themselves: incoming messages then no longer switch the conversation. */
  private chosen = false;
  private inboxRun: Promise<void> | undefined;
  private inboxAgain = false;
  private directoryRun: Promise<void> | undefined;
  private directoryAgain = false;
  /** Sealed, shown as queued, but the node could not be reached: sent again on the next refresh. */
  private readonly unsent = new Map<string, Envelope>();
  private linkUp = true;
  private answering = true;
  /** The cloud link as pushed to the page (the desktop's store); it wins over the directory's older word. */
  private cloudStatus: CloudLinkStatus | undefined;
  /** Files go one after another: several at once would only share the same link, each slower. */
  private fileQueue: Promise<void> = Promise.resolve();

  /**
   * @param files where this page's files go and come from (absent: the page cannot send or fetch files).
   * @param trust the identity keys this device trusts (safety numbers); in memory only when not given.
   */
  constructor(
    readonly client: MessagingClient,
    readonly conv: Conversations,
    readonly files?: FileTransfers,
    readonly trust: TrustBook = new TrustBook(),
  ) {
    const latest = conv.latestPeer();
    if (latest) this.store.set({ selected: latest });
    // A session started again under another key: the directory has that key now, and the trust book notes it.
    client.onIdentityChanged(() => void this.refreshDirectory());
    // A group's or a link's own envelopes are in the node's outbox too: never listed as messages.
    client.onControlEnvelopes((ids) => conv.hide(ids));
  }

  /** Loads the directory, the statuses of what this device sent, and its inbox; keeps the prekeys published. */
  async refreshAll(): Promise<void> {
    await Promise.all([this.refreshDirectory(), this.refreshOutbox(), this.refreshGroups(), this.refreshPeople()]);
    await Promise.all([this.refreshInbox(), this.resendUnsent(), this.publishPrekeys()]);
  }

  /** The groups as this device's store holds them (a change applied, a group made or left). */
  async refreshGroups(): Promise<void> {
    try {
      this.store.set({ groups: await this.client.groups() });
    } catch (err) {
      if (!(err instanceof MessagingError && err.code === 'groups_unavailable')) console.warn('could not read the groups', err);
    }
  }

  /** The people as this device's store holds them (an offer, a link, a contact's newer roster). */
  async refreshPeople(): Promise<void> {
    try {
      this.store.set({ people: await this.client.people() });
    } catch (err) {
      console.warn('could not read the linked devices', err);
    }
  }

  /**
   * The conversation a device's messages belong to: its person's when it is one of a contact's linked devices
   * (our own linked devices keep their own conversations), else its own.
   */
  conversationOf(deviceId: string): string {
    const p = this.store.get().people.find((x) => isContactPerson(x) && x.roster.devices.some((d) => d.device_id === deviceId));
    return p ? personPeer(p.person_id) : deviceId;
  }

  /**
   * One step the person asked for on groups or linked devices: what it changed is read again after it (`reread`),
   * a refusal is shown as "<what>: <why>". Resolves whether it went.
   */
  private async userStep(what: string, run: () => Promise<void>, reread: () => Promise<void>): Promise<boolean> {
    try {
      await run();
      this.store.set({ error: undefined });
      return true;
    } catch (err) {
      this.showError(`${what}: ${errorText(err)}.`);
      return false;
    } finally {
      await reread();
    }
  }

  private linkStep(what: string, run: () => Promise<void>): Promise<boolean> {
    return this.userStep(what, run, () => this.refreshPeople());
  }

  /** Offers `deviceId` to link with this device as one person, `name`. */
  offerLink(deviceId: string, name: string): Promise<boolean> {
    return this.linkStep('The offer to link was not sent', () => this.client.offerLink(deviceId, name));
  }

  /** Accepts or declines the offer to link from a device of `personId`. */
  answerLinkOffer(personId: string, accept: boolean): Promise<boolean> {
    return this.linkStep('The answer was not sent', () => this.client.answerLinkOffer(personId, accept));
  }

  /** Takes `deviceId` out of this device's linked devices. */
  unlink(deviceId: string): Promise<boolean> {
    return this.linkStep('The device was not unlinked', () => this.client.unlink(deviceId));
  }

  /** Makes a group of this device and `deviceIds`, and opens its conversation. Resolves whether it was made. */
  async createGroup(name: string, deviceIds: readonly string[]): Promise<boolean> {
    let made: string | undefined;
    const run = async () => {
      made = (await this.client.createGroup(name, deviceIds)).group_id;
    };
    const ok = await this.userStep('The group was not made', run, () => this.refreshGroups());
    if (made !== undefined) this.select(groupPeer(made));
    return ok;
  }

  /** Renames the open group and/or sets its other members. Resolves whether it was changed. */
  changeGroup(groupId: string, name: string, deviceIds: readonly string[]): Promise<boolean> {
    return this.userStep(
      'The group was not changed',
      () => this.client.changeGroup(groupId, { name, deviceIds }),
      () => this.refreshGroups(),
    );
  }

  /**
   * Others start sessions with this device from its prekeys at the node. A failure is not the person's to
   * act on (their messages still go): it is logged and tried again with the next refresh.
   */
  private async publishPrekeys(): Promise<void> {
    try {
      await this.client.publishPrekeys();
    } catch (err) {
      if (!this.failed(err)) console.warn('could not publish prekeys', err);
    }
  }

  /**
   * Asks for the directory again every `everyMs` while the page is visible, and when it becomes visible: not
   * every change reaches a page as a push (a device of another home appears when the node next reads the
   * cloud's directory). Returns a function that stops it.
   */
  keepDirectoryFresh(everyMs: number, active: () => boolean = () => true): () => void {
    const tick = () => {
      if (document.visibilityState === 'visible' && active()) void this.refreshDirectory();
    };
    const timer = setInterval(tick, everyMs);
    document.addEventListener('visibilitychange', tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', tick);
    };
  }

  /** The page's event socket to its node went up or down: the "offline" banner follows it. */
  setLinkUp(up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.publishReach();
  }

  /** The cloud link's status as the page was told (desktop: pushed); the banners and hint follow it at once. */
  setCloudStatus(status: CloudLinkStatus | undefined): void {
    if (this.cloudStatus === status) return;
    this.cloudStatus = status;
    const dir = this.store.get().dir;
    if (dir && status) this.store.set({ dir: { ...dir, cloud: { status } } });
    // Routes of devices at other homes change with it: ask the node for the new ones.
    void this.refreshDirectory();
  }

  /** A push from the node (device WebSocket or admin events); anything else is ignored. */
  onPush(e: { type?: unknown; id?: unknown; status?: unknown; route?: unknown; error?: unknown }): void {
    if (e.type === 'envelope') void this.refreshInbox();
    else if (e.type === 'message_status' && typeof e.id === 'string' && isMessageStatus(e.status)) {
      const error = typeof e.error === 'string' ? e.error : undefined;
      if (this.conv.applyStatus(e.id, e.status, error, isRoute(e.route) ? e.route : undefined)) this.changed();
      else if (!this.conv.known(e.id)) void this.refreshOutbox();
    } else if (typeof e.type === 'string' && DIRECTORY_PUSHES.has(e.type)) void this.refreshDirectory();
  }

  /** Opens the conversation with `peer` (the person chose it). */
  select(peer: string | undefined): void {
    this.chosen = true;
    this.store.set({ selected: peer, error: undefined });
    this.markSeen();
  }

  /** The open conversation is in front of the person: its incoming messages are read. */
  markSeen(): void {
    const peer = this.store.get().selected;
    if (peer && isPageAttended() && this.conv.markRead(peer)) this.changed();
  }

  /** One load at a time; a call during a load asks for one more after it (the answer may be stale already). */
  refreshDirectory(): Promise<void> {
    if (this.directoryRun) {
      this.directoryAgain = true;
      return this.directoryRun;
    }
    this.directoryRun = (async () => {
      do {
        this.directoryAgain = false;
        await this.loadDirectory();
      } while (this.directoryAgain);
    })().finally(() => {
      this.directoryRun = undefined;
    });
    return this.directoryRun;
  }

  private async loadDirectory(): Promise<void> {
    try {
      const dir = await this.client.directory(true);
      this.reached(true);
      const shown = this.cloudStatus ? { ...dir, cloud: { status: this.cloudStatus } } : dir;
      const s = this.store.get();
      const selected = s.selected ?? this.conv.latestPeer() ?? dir.devices.find((d) => d.device_id !== dir.me)?.device_id;
      // A device re-paired or reinstalled shows a new identity key here: the trust book notes the change.
      const trustChanged = this.trust.observe(directoryIdentities(dir));
      this.store.set((st) => ({ dir: shown, selected, version: trustChanged ? st.version + 1 : st.version }));
    } catch (err) {
      if (this.failed(err)) return;
      this.showError(`Could not load the devices: ${errorText(err)}.`);
    }
  }

  async refreshOutbox(): Promise<void> {
    try {
      const views = await this.client.outbox();
      this.reached(true);
      if (this.conv.mergeOutbox(views)) this.changed();
    } catch (err) {
      if (this.failed(err)) return;
      this.showError(`Could not load the status of sent messages: ${errorText(err)}.`);
    }
  }

  /** Reads, opens and acks everything waiting; one run at a time (a push during a run asks for another). */
  refreshInbox(): Promise<void> {
    if (this.inboxRun) {
      this.inboxAgain = true;
      return this.inboxRun;
    }
    this.inboxRun = (async () => {
      do {
        this.inboxAgain = false;
        await this.drainInbox();
      } while (this.inboxAgain);
    })()
      .catch((err) => {
        if (!this.failed(err)) this.showError(`Could not fetch new messages: ${errorText(err)}.`);
      })
      .finally(() => {
        this.inboxRun = undefined;
      });
    return this.inboxRun;
  }

  private async drainInbox(): Promise<void> {
    const LIMIT = 100;
    let after = 0;
    let groupsChanged = false;
    let peopleChanged = false;
    for (;;) {
      let copied = false;
      const page = await this.client.inbox(after, LIMIT);
      this.reached(true);
      if (page.messages.length === 0) return;
      let last = after;
      const fresh: OpenedMessage[] = [];
      for (const item of page.messages) {
        last = Math.max(last, item.seq);
        if (this.conv.has(item.envelope.id)) continue;
        const opened = await this.client.openItem(item);
        // A group's change or a member's key: applied by the client; the group list is read again below.
        if (opened.group_update) {
          if (!opened.ok) console.warn(`a group update from ${opened.from_device} was refused: ${opened.error}`);
          groupsChanged = true;
          continue;
        }
        // Linking (an offer, an answer, a roster): applied by the client; the people are read again below.
        if (opened.person_update) {
          if (!opened.ok) console.warn(`a linking message from ${opened.from_device} was refused: ${opened.error}`);
          peopleChanged = true;
          continue;
        }
        // A roster that came with the message decides its conversation: read it first.
        if (opened.ok && opened.people_changed) await this.refreshPeople();
        let peer: string;
        if (opened.ok && opened.copy_to?.[0]) {
          peer = this.conversationOf(opened.copy_to[0]);
          if (!this.conv.addCopy(opened, peer)) continue;
          copied = true;
        } else {
          peer = opened.ok && opened.group_id !== undefined ? groupPeer(opened.group_id) : this.conversationOf(opened.from_device);
          if (!this.conv.addReceived(opened, true, peer)) continue;
          fresh.push(opened);
        }
        const selected = this.store.get().selected;
        if (!selected || (!this.chosen && this.conv.with(selected).length === 0)) this.store.set({ selected: peer });
      }
      if (peopleChanged) await this.refreshPeople();
      if (groupsChanged) await this.refreshGroups();
      // Kept on this device before the node is told it may forget them (the ack is also what says "seen").
      this.conv.save();
      if (fresh.length) {
        const dir = this.store.get().dir;
        if (fresh.some((m) => !dir?.devices.some((c) => c.device_id === m.from_device))) await this.refreshDirectory();
        this.changed();
        this.markSeen();
        for (const m of fresh) this.arrived.emit(m);
      } else if (copied) this.changed();
      await this.client.ack(last);
      if (page.messages.length < LIMIT) return;
      after = last;
    }
  }

  /** The person changed what the trust book holds (accepted a new key, set a verified mark). */
  trustChanged(): void {
    this.store.set((s) => ({ version: s.version + 1, error: undefined }));
  }

  /** A verified identity changed and the person has not accepted the new one: nothing goes to that device. */
  private refusedByTrust(to: string): boolean {
    if (!trustBlocksConversation(this.trust, this.store.get().dir, to, this.membersOf(to))) return false;
    this.showError(messagingErrorText('safety_number_changed'));
    return true;
  }

  /**
   * Seals `text` to the open conversation and hands it to the node. Resolves true once it is in the list (the
   * composer empties then); the node's answer comes after, and the composer waits for it before the next one.
   */
  async send(text: string): Promise<boolean> {
    const to = this.store.get().selected;
    const body = text.trim();
    if (!to) {
      this.showError('Choose a device to write to.');
      return false;
    }
    if (!body || this.refusedByTrust(to)) return false;
    this.store.set({ sending: true, error: undefined });
    const groupId = groupIdOf(to);
    let envelopes: Envelope[];
    try {
      // A group's message is one Sender Key message in one or more envelopes (its first one's status is shown);
      // a person's is one envelope to each of their devices.
      const personId = personIdOf(to);
      envelopes =
        groupId !== undefined
          ? await this.client.sealGroupText(groupId, body)
          : personId !== undefined
            ? [await this.client.sealPersonText(personId, body)]
            : [await this.client.sealText(to, body)];
    } catch (err) {
      this.showError(`Not sent: ${errorText(err)}.`);
      this.store.set({ sending: false });
      return false;
    }
    // Shown (and kept) from here on; its status follows the node's answer and pushes. A group message in several
    // envelopes is one message: the others are not listed on their own.
    const first = envelopes[0]!;
    this.conv.hide(envelopes.slice(1).map((e) => e.id));
    this.conv.addSent(first.id, to, body, first.sent_at, 'queued');
    this.changed();
    void (async () => {
      for (const envelope of envelopes) await this.deliver(envelope);
    })()
      .catch((err) => this.notDelivered(err))
      .finally(() => this.store.set({ sending: false }));
    return true;
  }

  /** A shown message the node did not take: said, unless the node is away (the banner says so, it goes later). */
  private notDelivered(err: unknown): void {
    if (!(isUnreachable(err) && this.unsent.size > 0)) this.showError(`Not sent: ${errorText(err)}.`);
  }

  /** The devices a group's or a person's conversation reaches (ours left out); undefined for a device's. */
  membersOf(peer: string): string[] | undefined {
    const me = this.client.identity().device_id;
    const person = personIdOf(peer);
    if (person !== undefined) {
      const p = this.store.get().people.find((x) => x.person_id === person);
      return (p?.roster.devices ?? []).map((d) => d.device_id).filter((id) => id !== me);
    }
    const id = groupIdOf(peer);
    if (id === undefined) return undefined;
    const g = this.store.get().groups.find((x) => x.group_id === id);
    return g ? g.members.filter((m) => m.device_id !== g.me).map((m) => m.device_id) : [];
  }

  /**
   * Sends each file to the open conversation: uploaded to this device's node first (shown with its progress at
   * once), then its manifest sealed and sent like a message. Resolves when all of them went or stopped.
   */
  sendFiles(files: readonly File[]): Promise<void> {
    const to = this.store.get().selected;
    const transfers = this.files;
    if (!transfers) {
      this.showError('This page cannot send files.');
      return Promise.resolve();
    }
    if (!to) {
      this.showError('Choose a device to send to.');
      return Promise.resolve();
    }
    if (groupIdOf(to) !== undefined || personIdOf(to) !== undefined) {
      this.showError('Files go to one device at a time: choose the device to send them to.');
      return Promise.resolve();
    }
    if (files.length === 0 || this.refusedByTrust(to)) return Promise.resolve();
    this.showError(undefined);
    for (const file of files) {
      const key = transfers.queueUpload(file, to);
      this.fileQueue = this.fileQueue.then(() => this.sendQueuedFile(transfers, key, file, to));
    }
    return this.fileQueue;
  }

  private async sendQueuedFile(transfers: FileTransfers, key: string, file: File, to: string): Promise<void> {
    const manifest = await transfers.upload(key, file, [to]);
    if (!manifest) return;
    let envelope: Envelope;
    try {
      envelope = await this.client.sealFile(to, manifest);
    } catch (err) {
      transfers.notSent(key, err instanceof MessagingError ? err.code : 'seal_failed', errorText(err));
      return;
    }
    if (!transfers.get(key)) return; // cancelled meanwhile: the node dropped the file, nobody is told of it
    this.conv.addSent(envelope.id, to, manifest.name, envelope.sent_at, 'queued', manifest);
    transfers.sent(key, envelope.id);
    this.changed();
    try {
      await this.deliver(envelope);
    } catch (err) {
      // As for a text: shown on the message; an unreachable node gets it with the next refresh.
      this.notDelivered(err);
    }
  }

  /** Hands one envelope to the node; kept for a later try when the node cannot be reached. */
  private async deliver(envelope: Envelope): Promise<void> {
    try {
      const r = await this.client.sendEnvelope(envelope);
      this.reached(true);
      this.unsent.delete(envelope.id);
      this.conv.applyStatus(envelope.id, r.status, undefined, r.route);
    } catch (err) {
      if (err instanceof MessagingError && err.code === 'outbox_full') {
        // Nothing was queued, and it may go later: keep it for the next try, and say why it waits.
        this.unsent.set(envelope.id, envelope);
        this.showError(`Not sent yet: ${errorText(err)}.`);
      } else if (err instanceof MessagingError) {
        // Refused for good (e.g. a device at another home with no cloud): that message failed.
        this.unsent.delete(envelope.id);
        this.conv.applyStatus(envelope.id, 'failed', err.code);
      } else {
        this.failed(err);
        this.unsent.set(envelope.id, envelope); // the same envelope again on the next refresh: no duplicate
      }
      throw err;
    } finally {
      this.changed();
    }
  }

  private async resendUnsent(): Promise<void> {
    // Sealed on a session but not taken by the node before the page was closed: they go now, as they were.
    try {
      this.conv.hide(await this.client.pendingControlIds());
      for (const envelope of await this.client.pendingEnvelopes())
        if (!this.unsent.has(envelope.id)) this.unsent.set(envelope.id, envelope);
    } catch (err) {
      console.warn('could not read the session outbox', err);
    }
    for (const envelope of [...this.unsent.values()]) {
      try {
        await this.deliver(envelope);
      } catch {
        /* shown on the message; tried again on the next refresh */
      }
    }
  }

  /** Whether the node answered; a change shows or hides the "offline" banner. */
  private reached(ok: boolean): void {
    if (this.answering === ok) return;
    this.answering = ok;
    if (ok) this.showError(undefined);
    this.publishReach();
  }

  private publishReach(): void {
    const nodeReachable = this.linkUp && this.answering;
    if (this.store.get().nodeReachable !== nodeReachable) this.store.set({ nodeReachable });
  }

  /** Handles a failure that means "the node is not there" (banner, no error text). Returns whether it was one. */
  private failed(err: unknown): boolean {
    if (!isUnreachable(err)) {
      this.reached(true);
      return false;
    }
    this.reached(false);
    return true;
  }

  private changed(): void {
    this.conv.save();
    this.store.set((s) => ({ version: s.version + 1 }));
  }

  private showError(text: string | undefined): void {
    if (this.store.get().error !== text) this.store.set({ error: text });
  }
}
