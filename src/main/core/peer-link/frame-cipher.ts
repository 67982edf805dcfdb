// The peer link's framing after the handshake: one frame (UTF-8 JSON) -> one or more Noise transport messages,
// each at most 65535 bytes (the Noise limit), each one WebSocket message. The first plaintext byte of each says
// whether more fragments of the same frame follow. Counter nonces make every message single-use and in order:
// a replayed, reordered or dropped message fails to decrypt, and the link is closed (LinkError).
import type { CipherState } from '../../../shared/crypto/noise/index.js';
import {
  FRAGMENT_LAST,
  FRAGMENT_MORE,
  MAX_FRAGMENT_PLAINTEXT,
  MAX_PEER_FRAME_BYTES,
  PEER_CLOSE,
  PeerFrame,
} from '../../../shared/wire/peer-link.js';

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Why a link must close now, with the close code it closes with. */
export class LinkError extends Error {
  constructor(
    public readonly closeCode: number,
    public readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export class FrameCipher {
  private parts: Uint8Array[] = [];
  private partBytes = 0;

  constructor(
    private readonly send: CipherState,
    private readonly receive: CipherState,
    private readonly maxFrameBytes = MAX_PEER_FRAME_BYTES,
  ) {}

  /** The transport messages that carry `frame`, in order. */
  seal(frame: PeerFrame): Uint8Array[] {
    const bytes = encoder.encode(JSON.stringify(frame));
    const out: Uint8Array[] = [];
    for (let off = 0; off === 0 || off < bytes.length; off += MAX_FRAGMENT_PLAINTEXT) {
      const chunk = bytes.subarray(off, off + MAX_FRAGMENT_PLAINTEXT);
      const last = off + MAX_FRAGMENT_PLAINTEXT >= bytes.length;
      const plain = new Uint8Array(chunk.length + 1);
      plain[0] = last ? FRAGMENT_LAST : FRAGMENT_MORE;
      plain.set(chunk, 1);
      out.push(this.send.encryptWithAd(EMPTY, plain));
    }
    return out;
  }

  /** One received transport message: the frame it completes, or undefined while fragments are pending. */
  open(message: Uint8Array): PeerFrame | undefined {
    let plain: Uint8Array;
    try {
      plain = this.receive.decryptWithAd(EMPTY, message);
    } catch {
      throw new LinkError(
        PEER_CLOSE.protocol,
        'decrypt_failed',
        'a transport message did not decrypt (replayed, reordered, dropped or forged)',
      );
    }
    const flag = plain[0];
    if (flag !== FRAGMENT_LAST && flag !== FRAGMENT_MORE) throw new LinkError(PEER_CLOSE.protocol, 'bad_fragment', 'unknown fragment flag');
    this.partBytes += plain.length - 1;
    if (this.partBytes > this.maxFrameBytes)
      throw new LinkError(PEER_CLOSE.tooLarge, 'frame_too_large', `a frame over ${this.maxFrameBytes} bytes`);
    this.parts.push(plain.subarray(1));
    if (flag === FRAGMENT_MORE) return undefined;
    const whole = new Uint8Array(this.partBytes);
    let o = 0;
    for (const p of this.parts) {
      whole.set(p, o);
      o += p.length;
    }
    this.parts = [];
    this.partBytes = 0;
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(whole));
    } catch {
      throw new LinkError(PEER_CLOSE.protocol, 'bad_frame', 'a frame that is not UTF-8 JSON');
    }
    const parsed = PeerFrame.safeParse(json);
    if (!parsed.success)
      throw new LinkError(PEER_CLOSE.protocol, 'bad_frame', `a frame that is not valid: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }
}
