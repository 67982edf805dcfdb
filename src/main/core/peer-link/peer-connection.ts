// One peer-link connection over one WebSocket: the Noise KKpsk0 handshake (two messages), then frames through
// FrameCipher. It knows nothing about envelopes or the directory; the service (peer-link-service.ts) decides
// what the frames mean. Any failure closes the socket with a PEER_CLOSE code; nothing here throws to the caller.
import type { HandshakeState } from '../../../shared/crypto/noise/index.js';
import { type BlobData, PEER_CLOSE, type PeerFrame } from '../../../shared/wire/peer-link.js';
import { FrameCipher, LinkError } from './frame-cipher.js';

/** The slice of a WebSocket the link uses (ws on the dialer side, the upgraded socket on the listener side). */
export interface LinkSocket {
  send(data: Uint8Array): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount?: number;
}

export interface PeerConnectionEvents {
  /** The handshake is done: the peer proved the pinned static key and the pairing's psk. */
  onEstablished(conn: PeerConnection): void;
  /** A frame, in order. A LinkError thrown here closes the link with its code. */
  onFrame(conn: PeerConnection, frame: PeerFrame | BlobData): void;
  /** The socket is gone (either side closed it, or it broke). Called once. */
  onClosed(conn: PeerConnection, code: number, reason: string): void;
}

export class PeerConnection {
  private cipher: FrameCipher | undefined;
  private closedAt: { code: number; reason: string } | undefined;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: LinkSocket,
    private readonly handshake: HandshakeState,
    readonly dialer: boolean,
    private readonly events: PeerConnectionEvents,
    handshakeTimeoutMs: number,
  ) {
    this.handshakeTimer = setTimeout(() => this.close(PEER_CLOSE.protocol, 'handshake_timeout'), handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  get established(): boolean {
    return this.cipher !== undefined && !this.closedAt;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Dialer: sends the first handshake message (call once the socket is open). */
  start(): void {
    if (!this.dialer) return;
    this.guard(() => this.socket.send(this.handshake.writeMessage()));
  }

  /** A WebSocket message from the peer. */
  receive(data: Uint8Array | string): void {
    if (this.closedAt) return;
    this.guard(() => {
      if (typeof data === 'string') throw new LinkError(PEER_CLOSE.protocol, 'text_frame', 'the peer link speaks binary messages only');
      if (!this.cipher) return this.handshakeStep(data);
      const frame = this.cipher.open(data);
      if (frame) this.events.onFrame(this, frame);
    });
  }

  send(frame: PeerFrame): void {
    if (!this.cipher || this.closedAt) return;
    this.guard(() => {
      for (const m of this.cipher!.seal(frame)) this.socket.send(m);
    });
  }

  /** Blob bytes, one transport message (at most MAX_BLOB_DATA_BYTES of data). */
  sendBlobData(id: string, offset: number, data: Uint8Array): void {
    if (!this.cipher || this.closedAt) return;
    this.guard(() => this.socket.send(this.cipher!.sealBlobData(id, offset, data)));
  }

  /** Bytes the socket still has to send (0 when the socket cannot tell): the sender of blob bytes waits on it. */
  get buffered(): number {
    return this.socket.bufferedAmount ?? 0;
  }

  /** Closes with `code`; after the handshake, an error frame says why first (codes other than normal ends). */
  close(code: number, error: string, message = error): void {
    if (this.closedAt) return;
    if (this.cipher && code !== PEER_CLOSE.unpaired && code !== PEER_CLOSE.shutdown) {
      try {
        for (const m of this.cipher.seal({ type: 'error', error: error.slice(0, 64), message: message.slice(0, 500) })) this.socket.send(m);
      } catch {
        // The socket is already going; the close code alone will do.
      }
    }
    try {
      this.socket.close(code, error.slice(0, 100));
    } catch {
      // Already closing.
    }
    this.socketClosed(code, error);
  }

  /** The socket reported its close (or we closed it): forget everything, tell the service once. */
  socketClosed(code: number, reason: string): void {
    if (this.closedAt) return;
    this.closedAt = { code, reason };
    clearTimeout(this.handshakeTimer);
    this.events.onClosed(this, code, reason);
  }

  private handshakeStep(message: Uint8Array): void {
    try {
      this.handshake.readMessage(message);
      if (!this.dialer) this.socket.send(this.handshake.writeMessage());
    } catch {
      throw new LinkError(PEER_CLOSE.protocol, 'handshake_failed', 'the Noise handshake failed (wrong key, wrong psk or not our pairing)');
    }
    if (!this.handshake.isFinished()) return;
    const { send, receive } = this.handshake.split();
    this.cipher = new FrameCipher(send, receive);
    clearTimeout(this.handshakeTimer);
    this.events.onEstablished(this);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof LinkError) this.close(err.closeCode, err.error, err.message);
      else this.close(PEER_CLOSE.protocol, 'internal_error', (err as Error).message);
    }
  }
}
