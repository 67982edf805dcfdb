// The device side of messaging: seal text to a device from the directory, hand the envelope to our
// node, read our inbox and open what arrives. Runs in the browser (phone page, desktop UI) and in Node (tests,
// bench): crypto is src/shared/e2ee (@noble). The node only ever sees the envelope.

import { isE2eeError } from '../e2ee/errors.js';
import { FileManifest } from '../e2ee/file-manifest.js';
import { type Envelope, open, type SenderKeys, seal } from '../e2ee/index.js';
import { fromBase64Url, utf8 } from '../encoding.js';
import type { InboxItem, InboxPage, MessageStatusView, MessagingDirectory, SendAccepted } from '../wire/relay.js';

/** What a text message carries inside the envelope (the node never sees it). */
export interface TextContent {
  t: 'text';
  body: string;
}
/** What a message carries inside the envelope: text, or a file's manifest (its key, name, type, size, digest). */
export type MessageContent = TextContent | FileManifest;
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
  /** `file` is set for a file message (then `text` is its name, for previews and lists). */
  | { ok: true; seq: number; id: string; from_device: string; sent_at: string; text: string; file?: FileManifest }
  /** Could not be opened (tampered, unknown sender key, not for us): shown as such, never as text. */
  | { ok: false; seq: number; id: string; from_device: string; sent_at: string; error: string };

export class MessagingClient {
  private dir: MessagingDirectory | undefined;

  /**
   * @param basePath '/api/messages' for a paired device, '/api/admin/messages' for the desktop UI.
   * @param me this device's id and static X25519 key pair (the phone's pairing key; the desktop UI's own key).
   */
  constructor(
    private readonly transport: MessagingTransport,
    private readonly me: SenderKeys,
    private readonly basePath = '/api/messages',
  ) {}

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

  private async keyOf(deviceId: string): Promise<Uint8Array> {
    let entry = (await this.directory(false)).devices.find((d) => d.device_id === deviceId);
    if (!entry) entry = (await this.directory(true)).devices.find((d) => d.device_id === deviceId);
    if (!entry) throw new MessagingError('unknown_recipient', `${deviceId} is not in the key directory.`);
    return fromBase64Url(entry.public_key);
  }

  /** Seals `text` to one device: only that device can open it. The envelope can be sent (and re-sent) as is. */
  async sealText(toDeviceId: string, text: string): Promise<Envelope> {
    if (text.length === 0 || text.length > MAX_TEXT_CHARS)
      throw new MessagingError('invalid_text', `A message is 1 to ${MAX_TEXT_CHARS} characters.`);
    const content: MessageContent = { t: 'text', body: text };
    return seal(utf8.encode(JSON.stringify(content)), {
      from: this.me,
      to: [{ device_id: toDeviceId, publicKey: await this.keyOf(toDeviceId) }],
    });
  }

  /**
   * Hands an envelope to our node, which has it on disk when this resolves. Sending the same envelope again
   * (after a timeout or a lost answer) is safe: the node and the cloud keep one copy per envelope id.
   */
  sendEnvelope(envelope: Envelope): Promise<SendAccepted> {
    return this.call<SendAccepted>('POST', '', { envelope });
  }

  /** Seals a file's manifest to one device: the key to its blob, its name and type, never seen by a node. */
  async sealFile(toDeviceId: string, manifest: FileManifest): Promise<Envelope> {
    const content = FileManifest.parse(manifest);
    return seal(utf8.encode(JSON.stringify(content)), {
      from: this.me,
      to: [{ device_id: toDeviceId, publicKey: await this.keyOf(toDeviceId) }],
    });
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

  /** Opens one inbox item with the sender's key from the directory. Never throws for a bad envelope. */
  async openItem(item: InboxItem): Promise<OpenedMessage> {
    const e = item.envelope;
    const base = { seq: item.seq, id: e.id, from_device: e.from_device, sent_at: e.sent_at };
    let senderKey: Uint8Array;
    try {
      senderKey = await this.keyOf(e.from_device);
    } catch {
      return { ...base, ok: false, error: 'unknown_sender' };
    }
    try {
      const plain = open(e, { me: this.me, senderPublicKey: senderKey });
      const c = JSON.parse(utf8.decode(plain)) as { t?: unknown; body?: unknown };
      if (c.t === 'file') {
        // A manifest that does not parse is refused whole: a bad name or key is never half shown.
        const file = FileManifest.safeParse(c);
        return file.success ? { ...base, ok: true, text: file.data.name, file: file.data } : { ...base, ok: false, error: 'invalid_file' };
      }
      if (c.t !== 'text' || typeof c.body !== 'string') return { ...base, ok: false, error: 'unsupported_content' };
      return { ...base, ok: true, text: c.body };
    } catch (err) {
      return { ...base, ok: false, error: isE2eeError(err) ? err.code : 'unreadable' };
    }
  }
}
