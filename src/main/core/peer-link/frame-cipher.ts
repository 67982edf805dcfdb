// The peer link's framing after the handshake: one frame (UTF-8 JSON) -> one or more Noise transport messages,
// each at most 65535 bytes (the Noise limit), each one WebSocket message. The first plaintext byte of each says
// whether more fragments of the same frame follow. Counter nonces make every message single-use and in order:
// a replayed, reordered or dropped message fails to decrypt, and the link is closed (LinkError).
import type { CipherState } from '../../../shared/crypto/noise/index.js';
import {
  type BlobData,
  FRAGMENT_BLOB,
  FRAGMENT_LAST,
  FRAGMENT_MORE,
  MAX_FRAGMENT_PLAINTEXT,
  MAX_PEER_FRAME_BYTES,
  PEER_CLOSE,
  PeerFrame,
} from '../../../shared/wire/peer-link.js';

const EMPTY = new Uint8Array(0);
/** Flag, id length, id (at most 64 ASCII bytes), offset. */
const BLOB_HEADER_MAX = 1 + 1 + 64 + 8;
/** Most blob bytes one transport message carries. */
export const MAX_BLOB_DATA_BYTES = MAX_FRAGMENT_PLAINTEXT + 1 - BLOB_HEADER_MAX;
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

  /** One transport message carrying bytes [offset, offset + data.length) of blob `id` (data ≤ MAX_BLOB_DATA_BYTES). */
  sealBlobData(id: string, offset: number, data: Uint8Array): Uint8Array {
    const idBytes = encoder.encode(id);
    if (idBytes.length > 64 || data.length > MAX_BLOB_DATA_BYTES) throw new Error('blob data message too large');
    const plain = new Uint8Array(2 + idBytes.length + 8 + data.length);
    plain[0] = FRAGMENT_BLOB;
    plain[1] = idBytes.length;
    plain.set(idBytes, 2);
    new DataView(plain.buffer).setBigUint64(2 + idBytes.length, BigInt(offset));
    plain.set(data, 2 + idBytes.length + 8);
    return this.send.encryptWithAd(EMPTY, plain);
  }

  /** One received transport message: the frame it completes, or undefined while fragments are pending. */
  open(message: Uint8Array): PeerFrame | BlobData | undefined {
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
    if (flag === FRAGMENT_BLOB) return this.blobData(plain);
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

  private blobData(plain: Uint8Array): BlobData {
    if (this.parts.length > 0) throw new LinkError(PEER_CLOSE.protocol, 'bad_fragment', 'blob bytes in the middle of a frame');
    const idLength = plain[1] ?? 0;
    if (idLength === 0 || idLength > 64 || plain.length < 2 + idLength + 8)
      throw new LinkError(PEER_CLOSE.protocol, 'bad_blob_data', 'a blob data message that is too short');
    let id: string;
    try {
      id = decoder.decode(plain.subarray(2, 2 + idLength));
    } catch {
      throw new LinkError(PEER_CLOSE.protocol, 'bad_blob_data', 'a blob id that is not UTF-8');
    }
    const offset = new DataView(plain.buffer, plain.byteOffset).getBigUint64(2 + idLength);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinkError(PEER_CLOSE.protocol, 'bad_blob_data', 'a blob offset out of range');
    return { type: 'blob_data', id, offset: Number(offset), data: plain.subarray(2 + idLength + 8) };
  }
}
