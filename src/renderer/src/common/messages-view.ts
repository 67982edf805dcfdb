// The "Messages" section, the same on the phone page and in the desktop UI: pick a device from the messaging
// directory (grouped by the desktop that serves it), type, send; the conversation with each message's status
// and route, kept current by the pushes the page hands to onPush(), and banners when this page's node or the
// recipient's desktop is offline. Crypto and the wire are MessagingClient's; what is remembered is
// Conversations'; the words are message-words', the grouping recipient-groups', the banners reach-banners'.
import { MAX_TEXT_CHARS, type MessagingClient, MessagingError } from '../../../shared/client/messaging-client.js';
import type { Envelope } from '../../../shared/e2ee/schema.js';
import type { MessagingDirectory } from '../../../shared/wire/relay.js';
import type { ConversationMessage, Conversations } from './conversation.js';
import { h, reconcile, relativeTime, setText } from './dom.js';
import { isMessageStatus, isRoute, messagingErrorText, routeText, statusText } from './message-words.js';
import { cloudHint, type ReachBanner, reachBanners } from './reach-banners.js';
import { GONE_GROUP_LABEL, groupRecipients, type ListPlace, type RecipientGroup, recipientLabel } from './recipient-groups.js';

type Contact = MessagingDirectory['devices'][number];

export { messagingErrorText } from './message-words.js';

/** Pushes that say the directory changed (a device paired or renamed, a desktop of the home came or went). */
const DIRECTORY_PUSHES = new Set(['directory', 'directory_changed']);

function cannotOpenText(code: string): string {
  return code === 'unknown_sender' ? 'Could not be decrypted: the sender is not in the key directory.' : 'Could not be decrypted.';
}

/** The request never reached the node (fetch failed; the admin API says status 0). */
function unreachable(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof Error && (err as Error & { status?: unknown }).status === 0);
}

function errorText(err: unknown): string {
  if (err instanceof MessagingError) return messagingErrorText(err.code, err.message);
  if (unreachable(err)) return messagingErrorText('network');
  return err instanceof Error ? err.message : String(err);
}

export interface MessagesViewOptions {
  client: MessagingClient;
  /** Remembers the conversations (localStorage key per device). */
  conversations: Conversations;
  /** The element to build the section in (it is emptied). */
  root: HTMLElement;
  /** The desktop UI names its own node "This desktop"; the phone page calls it by its name. */
  place: ListPlace;
}

export class MessagesView {
  private readonly client: MessagingClient;
  private readonly conv: Conversations;
  private readonly place: ListPlace;
  private dir: MessagingDirectory | undefined;
  private groups: RecipientGroup[] = [];
  private contacts: Contact[] = [];
  private selected: string | undefined;
  /** The person picked a device themselves: incoming messages then no longer switch the conversation. */
  private chosen = false;
  private inboxRun: Promise<void> | undefined;
  private inboxAgain = false;
  private directoryRun: Promise<void> | undefined;
  private directoryAgain = false;
  /** Sealed, shown as queued, but the node could not be reached: sent again on the next refresh. */
  private readonly unsent = new Map<string, Envelope>();
  /** The page's event socket to its node is up (told by the page; true until it says otherwise). */
  private linkUp = true;
  /** The last request to the node got an answer (any answer: a 4xx still means the node is there). */
  private answering = true;

  private readonly toLabel = h('label', { for: 'message-to' }, 'To');
  private readonly select = h('select', { id: 'message-to', 'data-testid': 'message-to', name: 'to' });
  private readonly text = h('input', {
    id: 'message-text',
    'data-testid': 'message-text',
    name: 'text',
    maxlength: MAX_TEXT_CHARS,
    autocomplete: 'off',
    placeholder: 'Write a message',
  });
  private readonly send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'message-send' }, 'Send');
  private readonly list = h('ol', {
    class: 'messages',
    'data-testid': 'message-list',
    'aria-live': 'polite',
    'aria-label': 'Conversation',
  });
  private readonly empty = h('p', { class: 'empty', 'data-testid': 'messages-empty' });
  private readonly error = h('p', { class: 'field-error', role: 'alert', 'data-testid': 'messages-error', hidden: true });
  private readonly cloudLine = h('p', { class: 'hint', 'data-testid': 'messages-cloud' });
  /** role=status: a banner that appears or changes is read out without moving the focus. */
  private readonly banners = h('div', {
    class: 'message-banners',
    'data-testid': 'messages-banners',
    role: 'status',
    'aria-live': 'polite',
  });

  constructor(opts: MessagesViewOptions) {
    this.client = opts.client;
    this.conv = opts.conversations;
    this.place = opts.place;
    const refresh = h('button', { type: 'button', class: 'link', 'data-testid': 'messages-refresh' }, 'Refresh');
    refresh.addEventListener('click', () => void this.refreshAll());
    const form = h(
      'form',
      { class: 'stack', 'data-testid': 'message-form', novalidate: true },
      this.toLabel,
      this.select,
      this.banners,
      this.list,
      this.empty,
      h('label', { for: 'message-text', class: 'sr-only' }, 'Message'),
      h('span', { class: 'inline-form' }, this.text, this.send),
      this.error,
    );
    opts.root.replaceChildren(
      h('div', { class: 'card-head' }, h('h2', {}, 'Messages'), refresh),
      h('p', { class: 'hint' }, 'End-to-end encrypted: only the device you write to can read a message.'),
      this.cloudLine,
      form,
    );
    this.select.addEventListener('change', () => {
      this.selected = this.select.value || undefined;
      this.chosen = true;
      this.render();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.sendNow();
    });
  }

  /** Loads the directory, the statuses of what this device sent, and its inbox. */
  async refreshAll(): Promise<void> {
    await Promise.all([this.refreshDirectory(), this.refreshOutbox()]);
    await Promise.all([this.refreshInbox(), this.resendUnsent()]);
  }

  /**
   * Asks for the directory again every `everyMs` while the page is visible, and when it becomes visible, on top
   * of the pushes: not every change reaches a page as a push (a phone hears of no directory change; a device of
   * another home appears when the node next reads the cloud's directory), yet the To list and the banners must
   * stay true without a Refresh. Returns a function that stops it.
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
    this.renderBanners();
  }

  /** A push from the node (device WebSocket or admin events); anything else is ignored. */
  onPush(e: { type?: unknown; id?: unknown; status?: unknown; route?: unknown; error?: unknown }): void {
    if (e.type === 'envelope') void this.refreshInbox();
    else if (e.type === 'message_status' && typeof e.id === 'string' && isMessageStatus(e.status)) {
      const error = typeof e.error === 'string' ? e.error : undefined;
      if (this.conv.applyStatus(e.id, e.status, error, isRoute(e.route) ? e.route : undefined)) this.changed();
      else if (!this.conv.has(e.id)) void this.refreshOutbox();
    } else if (typeof e.type === 'string' && DIRECTORY_PUSHES.has(e.type)) void this.refreshDirectory();
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
      this.dir = dir;
      this.groups = groupRecipients(dir, this.place);
      this.contacts = this.groups.flatMap((g) => g.devices);
      setText(this.cloudLine, cloudHint(dir));
      this.cloudLine.dataset.cloud = dir.cloud.status;
      this.render();
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
    for (;;) {
      const page = await this.client.inbox(after, LIMIT);
      this.reached(true);
      if (page.messages.length === 0) return;
      let last = after;
      let fresh = false;
      for (const item of page.messages) {
        last = Math.max(last, item.seq);
        if (this.conv.has(item.envelope.id)) continue;
        const opened = await this.client.openItem(item);
        fresh = this.conv.addReceived(opened, true) || fresh;
        if (!this.selected || (!this.chosen && this.conv.with(this.selected).length === 0)) this.selected = opened.from_device;
      }
      // Kept on this device before the node is told it may forget them (the ack is also what says "seen").
      this.conv.save();
      if (fresh) {
        if (page.messages.some((m) => !this.contacts.some((c) => c.device_id === m.envelope.from_device))) await this.refreshDirectory();
        this.render();
      }
      await this.client.ack(last);
      if (page.messages.length < LIMIT) return;
      after = last;
    }
  }

  private async sendNow(): Promise<void> {
    const to = this.selected;
    const text = this.text.value.trim();
    if (!to) return this.showError('Choose a device to write to.');
    if (!text) {
      this.text.focus();
      return;
    }
    this.send.disabled = true;
    this.showError(undefined);
    try {
      const envelope = await this.client.sealText(to, text);
      // Shown (and kept) from here on; its status follows the node's answer and pushes.
      this.conv.addSent(envelope.id, to, text, envelope.sent_at, 'queued');
      this.text.value = '';
      this.changed();
      await this.deliver(envelope);
    } catch (err) {
      // The node is away: the message waits here (the banner says so) and goes with the next refresh.
      if (!(unreachable(err) && this.unsent.size > 0)) this.showError(`Not sent: ${errorText(err)}.`);
    } finally {
      this.send.disabled = !this.selected;
      this.text.focus();
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
    this.renderBanners();
  }

  /** Handles a failure that means "the node is not there" (banner, no error text). Returns whether it was one. */
  private failed(err: unknown): boolean {
    if (!unreachable(err)) {
      this.reached(true);
      return false;
    }
    this.reached(false);
    return true;
  }

  private changed(): void {
    this.conv.save();
    this.render();
  }

  private showError(text: string | undefined): void {
    setText(this.error, text ?? '');
    this.error.hidden = !text;
  }

  private nameOf(deviceId: string): string {
    return this.contacts.find((c) => c.device_id === deviceId)?.name ?? deviceId;
  }

  private renderBanners(): void {
    const list = reachBanners({ dir: this.dir, selected: this.selected, nodeReachable: this.linkUp && this.answering, place: this.place });
    reconcile(
      this.banners,
      list,
      (b) => b.kind,
      (b: ReachBanner) => h('p', { class: 'banner notice', 'data-testid': 'messages-banner', 'data-kind': b.kind }),
      (el, b) => setText(el, b.text),
    );
  }

  private render(): void {
    if (!this.selected) this.selected = this.conv.latestPeer() ?? this.contacts[0]?.device_id;
    // Every device from the directory, plus anyone we have messages with who has left it.
    const groups: RecipientGroup[] = [...this.groups];
    if (this.selected && !this.contacts.some((c) => c.device_id === this.selected)) {
      groups.push({ key: 'gone', label: GONE_GROUP_LABEL, offline: false, devices: [] });
    }
    if (this.selected && this.conv.markRead(this.selected)) this.conv.save();
    const selected = this.selected;
    reconcile(
      this.select,
      groups,
      (g) => g.key,
      (g) => h('optgroup', { 'data-group': g.key }),
      (el, g) => {
        el.label = g.label;
        if (g.node_id) el.dataset.nodeId = g.node_id;
        el.dataset.offline = String(g.offline);
        const options =
          g.key === 'gone' && selected
            ? [{ id: selected, label: `${selected} (not in the list now)` }]
            : g.devices.map((d) => ({ id: d.device_id, label: recipientLabel(d) }));
        reconcile(
          el,
          options,
          (o) => o.id,
          (o) => h('option', { value: o.id }),
          (opt, o) => {
            const n = this.conv.unread(o.id);
            setText(opt, n ? `${o.label}, ${n} new` : o.label);
          },
        );
      },
    );
    this.select.value = this.selected ?? '';
    const any = groups.length > 0;
    this.select.hidden = !any;
    this.toLabel.hidden = !any;
    this.send.disabled = !this.selected;
    this.renderBanners();

    const messages = this.selected ? this.conv.with(this.selected) : [];
    const now = Date.now();
    reconcile(
      this.list,
      messages,
      (m) => m.id,
      (m) => this.messageItem(m),
      (el, m) => this.updateItem(el, m, now),
    );
    setText(this.empty, this.selected ? `No messages with ${this.nameOf(this.selected)} yet.` : this.noRecipientText());
    this.empty.hidden = messages.length > 0;
  }

  private noRecipientText(): string {
    if (this.place === 'desktop')
      return 'No device to write to yet: connect a phone, pair another desktop, or log this desktop in to a cloud.';
    const desktop = this.dir?.nodes.find((n) => n.self)?.name ?? 'the desktop';
    return `No device to write to yet: pair another phone with ${desktop}.`;
  }

  private messageItem(m: ConversationMessage): HTMLLIElement {
    return h(
      'li',
      { class: `message ${m.dir}`, 'data-testid': 'message', 'data-dir': m.dir, 'data-id': m.id },
      h('span', { class: 'message-text', 'data-role': 'text', 'data-testid': 'message-body' }),
      h(
        'span',
        { class: 'message-meta', 'data-role': 'meta' },
        h('span', { 'data-role': 'who' }),
        ' · ',
        h('span', { 'data-role': 'when' }),
        h('span', { class: 'sep-before message-status', 'data-role': 'status', 'data-testid': 'message-status' }),
        h('span', { class: 'sep-before message-route', 'data-role': 'route', 'data-testid': 'message-route' }),
      ),
    );
  }

  private updateItem(el: HTMLLIElement, m: ConversationMessage, now: number): void {
    const q = (role: string) => el.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
    const body = q('text');
    if (m.text !== null) setText(body, m.text);
    else setText(body, m.dir === 'in' ? cannotOpenText(m.error ?? '') : '(sent from this device earlier; the text was not kept here)');
    body.dataset.unreadable = String(m.text === null);
    setText(q('who'), m.dir === 'out' ? 'You' : this.nameOf(m.peer));
    setText(q('when'), relativeTime(m.sent_at, now));
    q('when').title = new Date(m.sent_at).toLocaleString();
    const status = q('status');
    const route = q('route');
    if (m.dir === 'out') {
      setText(status, statusText(m.status, m.error));
      status.dataset.status = m.status;
      el.dataset.status = m.status;
      setText(route, routeText(m.status, m.route));
      if (m.route) route.dataset.route = m.route;
      else delete route.dataset.route;
    } else {
      setText(status, '');
      setText(route, '');
    }
  }
}
