// The "Messages" section, the same on the phone page and in the desktop UI: pick a device from the key
// directory, type, send; the conversation with each message's status, kept current by the pushes the page
// hands to onPush(). Crypto and the wire are MessagingClient's; what is remembered is Conversations'.
import { MAX_TEXT_CHARS, MessagingError, type MessagingClient } from '../../../shared/client/messaging-client.js';
import type { Envelope } from '../../../shared/e2ee/schema.js';
import type { MessageStatus, MessagingDirectory } from '../../../shared/wire/relay.js';
import { type ConversationMessage, Conversations } from './conversation.js';
import { h, reconcile, relativeTime, setText } from './dom.js';

type Contact = MessagingDirectory['devices'][number];

const STATUS_WORDS: Record<MessageStatus, string> = { queued: 'Queued', sent: 'Sent', delivered: 'Delivered', seen: 'Seen', failed: 'Failed' };

/** Plain words for the codes a message can fail or be refused with. */
export function messagingErrorText(code: string, fallback?: string): string {
  switch (code) {
    case 'unknown_recipient': return 'the cloud does not know that device (is its desktop logged in to the same cloud?)';
    case 'sender_not_published': return 'this device is not in the cloud\'s key directory yet';
    case 'invalid_envelope': return 'the message was malformed';
    case 'envelope_id_conflict': return 'another message already has this id';
    case 'cloud_not_linked': return 'the desktop is not logged in to a cloud yet (Cloud panel on the desktop)';
    case 'sender_mismatch': return 'this device may not send in another device\'s name';
    case 'invalid_text': return `a message is 1 to ${MAX_TEXT_CHARS} characters`;
    case 'network': return 'cannot reach the desktop right now';
    case 'recipient_backlog_full': return 'the recipient has too many unread messages';
    case 'sender_backlog_full': return 'this desktop has not collected its own messages from the cloud yet';
    case 'outbox_full': return 'too many messages are waiting for the cloud; try again once it is reachable';
    default: return fallback ?? code.replace(/_/g, ' ');
  }
}

function cannotOpenText(code: string): string {
  return code === 'unknown_sender'
    ? 'Could not be decrypted: the sender is not in the key directory.'
    : 'Could not be decrypted.';
}

function errorText(err: unknown): string {
  if (err instanceof MessagingError) return messagingErrorText(err.code, err.message);
  if (err instanceof TypeError) return messagingErrorText('network');
  return err instanceof Error ? err.message : String(err);
}

export interface MessagesViewOptions {
  client: MessagingClient;
  /** Remembers the conversations (localStorage key per device). */
  conversations: Conversations;
  /** The element to build the section in (it is emptied). */
  root: HTMLElement;
}

export class MessagesView {
  private readonly client: MessagingClient;
  private readonly conv: Conversations;
  private contacts: Contact[] = [];
  private selected: string | undefined;
  /** The person picked a device themselves: incoming messages then no longer switch the conversation. */
  private chosen = false;
  private inboxRun: Promise<void> | undefined;
  private inboxAgain = false;
  /** Sealed, shown as queued, but the node could not be reached: sent again on the next refresh. */
  private readonly unsent = new Map<string, Envelope>();

  private readonly toLabel = h('label', { for: 'message-to' }, 'To');
  private readonly select = h('select', { id: 'message-to', 'data-testid': 'message-to', name: 'to' });
  private readonly text = h('input', { id: 'message-text', 'data-testid': 'message-text', name: 'text', maxlength: MAX_TEXT_CHARS, autocomplete: 'off', placeholder: 'Write a message' });
  private readonly send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'message-send' }, 'Send');
  private readonly list = h('ol', { class: 'messages', 'data-testid': 'message-list', 'aria-live': 'polite' });
  private readonly empty = h('p', { class: 'empty', 'data-testid': 'messages-empty' });
  private readonly error = h('p', { class: 'field-error', role: 'alert', 'data-testid': 'messages-error', hidden: true });
  private readonly cloudLine = h('p', { class: 'hint', 'data-testid': 'messages-cloud' });

  constructor(opts: MessagesViewOptions) {
    this.client = opts.client;
    this.conv = opts.conversations;
    const refresh = h('button', { type: 'button', class: 'link', 'data-testid': 'messages-refresh' }, 'Refresh');
    refresh.addEventListener('click', () => void this.refreshAll());
    const form = h('form', { class: 'stack', 'data-testid': 'message-form', novalidate: true },
      this.toLabel, this.select,
      this.list, this.empty,
      h('label', { for: 'message-text', class: 'sr-only' }, 'Message'),
      h('span', { class: 'inline-form' }, this.text, this.send),
      this.error);
    opts.root.replaceChildren(
      h('div', { class: 'card-head' }, h('h2', {}, 'Messages'), refresh),
      h('p', { class: 'hint' }, 'End-to-end encrypted: only the device you write to can read a message.'),
      this.cloudLine,
      form);
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

  /** A push from the node (device WebSocket or admin events); anything else is ignored. */
  onPush(e: { type?: unknown; id?: unknown; status?: unknown; error?: unknown }): void {
    if (e.type === 'envelope') void this.refreshInbox();
    else if (e.type === 'message_status' && typeof e.id === 'string' && typeof e.status === 'string' && e.status in STATUS_WORDS) {
      if (this.conv.applyStatus(e.id, e.status as MessageStatus, typeof e.error === 'string' ? e.error : undefined)) this.changed();
      else if (!this.conv.has(e.id)) void this.refreshOutbox();
    }
  }

  async refreshDirectory(): Promise<void> {
    try {
      const dir = await this.client.directory(true);
      this.contacts = dir.devices.filter((d) => d.device_id !== dir.me);
      setText(this.cloudLine, dir.cloud.status === 'connected'
        ? 'Devices at other homes are reached through the cloud.'
        : 'The desktop is not connected to a cloud: only devices of this desktop are reachable now; messages to others wait.');
      this.cloudLine.dataset.cloud = dir.cloud.status;
      this.render();
    } catch (err) {
      this.showError(`Could not load the devices: ${errorText(err)}.`);
    }
  }

  async refreshOutbox(): Promise<void> {
    try {
      if (this.conv.mergeOutbox(await this.client.outbox())) this.changed();
    } catch (err) {
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
    })().catch((err) => this.showError(`Could not fetch new messages: ${errorText(err)}.`))
      .finally(() => { this.inboxRun = undefined; });
    return this.inboxRun;
  }

  private async drainInbox(): Promise<void> {
    const LIMIT = 100;
    let after = 0;
    for (;;) {
      const page = await this.client.inbox(after, LIMIT);
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
      // Kept on this device before the node is told it may forget them.
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
      this.showError(`Not sent: ${errorText(err)}.`);
    } finally {
      this.send.disabled = !this.selected;
      this.text.focus();
    }
  }

  /** Hands one envelope to the node; kept for a later try when the node cannot be reached. */
  private async deliver(envelope: Envelope): Promise<void> {
    try {
      const r = await this.client.sendEnvelope(envelope);
      this.unsent.delete(envelope.id);
      this.conv.applyStatus(envelope.id, r.status);
    } catch (err) {
      if (err instanceof MessagingError && err.code === 'outbox_full') {
        // Nothing was queued, and it may go later: keep it for the next try, and say why it waits.
        this.unsent.set(envelope.id, envelope);
        this.showError(`Not sent yet: ${errorText(err)}.`);
      } else if (err instanceof MessagingError) {
        // Refused for good (e.g. not linked to a cloud): that message failed.
        this.unsent.delete(envelope.id);
        this.conv.applyStatus(envelope.id, 'failed', err.code);
      } else {
        this.unsent.set(envelope.id, envelope); // the same envelope again on the next refresh: no duplicate
      }
      throw err;
    } finally {
      this.changed();
    }
  }

  private async resendUnsent(): Promise<void> {
    for (const envelope of [...this.unsent.values()]) {
      try { await this.deliver(envelope); } catch { /* shown on the message; tried again on the next refresh */ }
    }
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

  private render(): void {
    if (!this.selected) this.selected = this.conv.latestPeer() ?? this.contacts[0]?.device_id;
    // Every device from the directory, plus anyone we have messages with who has left it.
    const ids = new Set(this.contacts.map((c) => c.device_id));
    const options: { id: string; label: string }[] = this.contacts.map((c) => ({
      id: c.device_id,
      label: `${c.name} (${c.kind === 'phone' ? 'phone' : 'desktop'}${c.home === 'remote' ? ', at another home' : ''})`,
    }));
    if (this.selected && !ids.has(this.selected)) options.push({ id: this.selected, label: `${this.selected} (not in the directory now)` });
    if (this.selected && this.conv.markRead(this.selected)) this.conv.save();
    reconcile(this.select, options, (o) => o.id, (o) => h('option', { value: o.id }), (el, o) => {
      const n = this.conv.unread(o.id);
      setText(el, n ? `${o.label}, ${n} new` : o.label);
    });
    this.select.value = this.selected ?? '';
    this.select.hidden = options.length === 0;
    this.toLabel.hidden = options.length === 0;
    this.send.disabled = !this.selected;

    const messages = this.selected ? this.conv.with(this.selected) : [];
    const now = Date.now();
    reconcile(this.list, messages, (m) => m.id, (m) => this.messageItem(m), (el, m) => this.updateItem(el, m, now));
    setText(this.empty, this.selected ? `No messages with ${this.nameOf(this.selected)} yet.` : 'No device to write to yet: pair a phone, or log this desktop in to a cloud.');
    this.empty.hidden = messages.length > 0;
  }

  private messageItem(m: ConversationMessage): HTMLLIElement {
    return h('li', { class: `message ${m.dir}`, 'data-testid': 'message', 'data-dir': m.dir, 'data-id': m.id },
      h('span', { class: 'message-text', 'data-role': 'text', 'data-testid': 'message-body' }),
      h('span', { class: 'message-meta', 'data-role': 'meta' },
        h('span', { 'data-role': 'who' }), ' · ', h('span', { 'data-role': 'when' }),
        h('span', { class: 'sep-before message-status', 'data-role': 'status', 'data-testid': 'message-status' })));
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
    if (m.dir === 'out') {
      setText(status, m.status === 'failed' && m.error
        ? `${m.error === 'recipient_backlog_full' ? 'Not delivered' : 'Failed'}: ${messagingErrorText(m.error)}`
        : STATUS_WORDS[m.status]);
      status.dataset.status = m.status;
      el.dataset.status = m.status;
    } else {
      setText(status, '');
    }
  }
}
