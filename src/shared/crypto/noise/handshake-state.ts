// HandshakeState (Noise spec section 5.3): runs one handshake pattern as initiator or responder.
// Every input is checked before use so a malformed peer message gives a NoiseError, never a TypeError,
// and a failed read leaves the state unusable rather than half-advanced (the handshake must restart).
import type { CipherState } from './cipher-state.js';
import { MAX_MESSAGE_LEN, NoiseError } from './noise-error.js';
import type { Token } from './patterns.js';
import { type CipherFunction, concat, type DhFunction, type HashFunction, type KeyPair } from './primitives.js';
import { type NoiseProtocol, parseProtocolName } from './protocol.js';
import { SymmetricState } from './symmetric-state.js';

const TAG_LEN = 16;
const EMPTY = new Uint8Array(0);

export interface HandshakeOptions {
  /** A protocol name such as "Noise_XX_25519_ChaChaPoly_SHA256", or an already parsed protocol. */
  protocol: string | NoiseProtocol;
  initiator: boolean;
  prologue?: Uint8Array;
  /** Our static key pair (a bare private key is accepted; the public half is computed). */
  s?: KeyPair | Uint8Array;
  /** Our ephemeral key pair: tests and conformance vectors only; normally generated fresh. */
  e?: KeyPair | Uint8Array;
  /** The peer's static public key, when the pattern has it as a pre-message ("<- s" for an initiator). */
  rs?: Uint8Array;
  re?: Uint8Array;
  psks?: Uint8Array[];
  /**
   * Other implementations of the same functions (e.g. node:crypto's, several times faster in Node; see
   * src/server/crypto/node-noise.ts). Each must have the name the protocol asks for.
   */
  dh?: DhFunction;
  hash?: HashFunction;
  cipher?: CipherFunction;
}

/** The optional implementation overrides of HandshakeOptions, as one value callers can pass along. */
export type NoiseSuite = Pick<HandshakeOptions, 'dh' | 'hash' | 'cipher'>;

export interface TransportPair {
  /** Encrypts what we send. */
  send: CipherState;
  /** Decrypts what we receive. */
  receive: CipherState;
  handshakeHash: Uint8Array;
  /** An extra secret from the final chaining key (see SymmetricState.split). */
  exported: Uint8Array;
}

export class HandshakeState {
  readonly protocol: NoiseProtocol;
  readonly initiator: boolean;
  private readonly dh: DhFunction;
  private readonly ss: SymmetricState;
  private s: KeyPair | undefined;
  private e: KeyPair | undefined;
  private rs: Uint8Array | undefined;
  private re: Uint8Array | undefined;
  private readonly psks: Uint8Array[];
  private pskIndex = 0;
  private messageIndex = 0;
  private failed = false;
  private result: TransportPair | undefined;

  constructor(opts: HandshakeOptions) {
    this.protocol = typeof opts.protocol === 'string' ? parseProtocolName(opts.protocol) : opts.protocol;
    this.initiator = opts.initiator;
    const dh = opts.dh ?? this.protocol.dh;
    const hash = opts.hash ?? this.protocol.hash;
    const cipher = opts.cipher ?? this.protocol.cipher;
    if (dh.name !== this.protocol.dh.name || hash.name !== this.protocol.hash.name || cipher.name !== this.protocol.cipher.name) {
      throw new NoiseError(
        'invalid_argument',
        `the functions given (${dh.name}, ${cipher.name}, ${hash.name}) do not match ${this.protocol.name}`,
      );
    }
    this.dh = dh;
    this.s = this.keyPair(opts.s, 's');
    this.e = this.keyPair(opts.e, 'e');
    this.rs = opts.rs && this.publicKey(opts.rs, 'rs');
    this.re = opts.re && this.publicKey(opts.re, 're');
    this.psks = (opts.psks ?? []).map((p, i) => {
      if (!(p instanceof Uint8Array) || p.length !== 32) throw new NoiseError('invalid_key', `psk ${i} must be 32 bytes`);
      return Uint8Array.from(p);
    });
    if (this.psks.length !== this.protocol.pskCount) {
      throw new NoiseError('invalid_argument', `${this.protocol.name} needs ${this.protocol.pskCount} psk(s), got ${this.psks.length}`);
    }
    this.checkKeysPresent();

    this.ss = new SymmetricState(this.protocol.name, hash, cipher);
    this.ss.mixHash(opts.prologue ?? EMPTY);
    // Pre-messages: the initiator's keys are hashed first, then the responder's (spec 7.1).
    const { initiatorPre, responderPre } = this.protocol.pattern;
    for (const t of initiatorPre) this.ss.mixHash(this.initiator ? this.localKey(t).publicKey : this.remoteKey(t));
    for (const t of responderPre) this.ss.mixHash(this.initiator ? this.remoteKey(t) : this.localKey(t).publicKey);
  }

  /** True when it is our turn to write. */
  isMyTurn(): boolean {
    return !this.result && !this.failed && this.writerIsInitiator(this.messageIndex) === this.initiator;
  }

  isFinished(): boolean {
    return this.result !== undefined;
  }

  /** The peer's static public key, once known (pre-message or received). */
  remoteStaticKey(): Uint8Array | undefined {
    return this.rs && Uint8Array.from(this.rs);
  }

  handshakeHash(): Uint8Array {
    return this.ss.handshakeHash();
  }

  /** Transport keys: only after the last handshake message. */
  split(): TransportPair {
    if (!this.result) throw new NoiseError('bad_state', 'handshake not finished');
    return this.result;
  }

  writeMessage(payload: Uint8Array = EMPTY): Uint8Array {
    this.checkTurn(true);
    const parts: Uint8Array[] = [];
    for (const token of this.currentTokens()) {
      switch (token) {
        case 'e': {
          this.e ??= this.dh.generateKeyPair();
          parts.push(this.e.publicKey);
          this.ss.mixHash(this.e.publicKey);
          if (this.protocol.pskCount > 0) this.ss.mixKey(this.e.publicKey);
          break;
        }
        case 's':
          parts.push(this.ss.encryptAndHash(this.localKey('s').publicKey));
          break;
        case 'psk':
          this.ss.mixKeyAndHash(this.psks[this.pskIndex++]!);
          break;
        default:
          this.ss.mixKey(this.dhToken(token));
      }
    }
    parts.push(this.ss.encryptAndHash(payload));
    const message = concat(...parts);
    if (message.length > MAX_MESSAGE_LEN) {
      this.failed = true;
      throw new NoiseError('message_too_long', `handshake message would be ${message.length} bytes (max ${MAX_MESSAGE_LEN})`);
    }
    this.advance();
    return message;
  }

  readMessage(message: Uint8Array): Uint8Array {
    this.checkTurn(false);
    if (!(message instanceof Uint8Array)) throw new NoiseError('invalid_argument', 'message must be bytes');
    if (message.length > MAX_MESSAGE_LEN)
      throw new NoiseError('message_too_long', `message of ${message.length} bytes (max ${MAX_MESSAGE_LEN})`);
    try {
      let offset = 0;
      const take = (n: number, what: string) => {
        if (message.length - offset < n) throw new NoiseError('message_too_short', `message too short for ${what}`);
        const out = message.subarray(offset, offset + n);
        offset += n;
        return out;
      };
      for (const token of this.currentTokens()) {
        switch (token) {
          case 'e': {
            this.re = Uint8Array.from(take(this.dh.dhLen, 'the ephemeral key'));
            this.ss.mixHash(this.re);
            if (this.protocol.pskCount > 0) this.ss.mixKey(this.re);
            break;
          }
          case 's': {
            const len = this.dh.dhLen + (this.ss.cipherState.hasKey() ? TAG_LEN : 0);
            this.rs = this.ss.decryptAndHash(take(len, 'the static key'));
            break;
          }
          case 'psk':
            this.ss.mixKeyAndHash(this.psks[this.pskIndex++]!);
            break;
          default:
            this.ss.mixKey(this.dhToken(token));
        }
      }
      const rest = message.subarray(offset);
      if (this.ss.cipherState.hasKey() && rest.length < TAG_LEN)
        throw new NoiseError('message_too_short', 'message too short for the payload tag');
      const payload = this.ss.decryptAndHash(rest);
      this.advance();
      return payload;
    } catch (err) {
      // A half-read message has already changed h and ck: the handshake cannot continue.
      this.failed = true;
      if (err instanceof NoiseError) throw err;
      throw new NoiseError('invalid_argument', `malformed handshake message: ${(err as Error).message}`);
    }
  }

  private writerIsInitiator(index: number): boolean {
    return this.protocol.pattern.oneWay || index % 2 === 0;
  }

  private currentTokens(): Token[] {
    return this.protocol.pattern.messages[this.messageIndex]!;
  }

  private checkTurn(writing: boolean): void {
    if (this.failed) throw new NoiseError('bad_state', 'handshake already failed; start a new one');
    if (this.result) throw new NoiseError('bad_state', 'handshake already finished');
    const mine = this.writerIsInitiator(this.messageIndex) === this.initiator;
    if (mine !== writing) throw new NoiseError('bad_state', writing ? 'not our turn to write' : 'not our turn to read');
  }

  private advance(): void {
    this.messageIndex++;
    if (this.messageIndex < this.protocol.pattern.messages.length) return;
    const { c1, c2, exported } = this.ss.split();
    this.result = {
      send: this.initiator ? c1 : c2,
      receive: this.initiator ? c2 : c1,
      handshakeHash: this.ss.handshakeHash(),
      exported,
    };
  }

  /** ee / es / se / ss: the first letter is the initiator's key, the second the responder's (spec 7.1). */
  private dhToken(token: Token): Uint8Array {
    const mine = (letter: string) => (letter === 'e' ? this.localKey('e') : this.localKey('s')).privateKey;
    const theirs = (letter: string) => this.remoteKey(letter === 'e' ? 'e' : 's');
    const [i, r] = [token[0]!, token[1]!];
    return this.initiator ? this.dh.dh(mine(i), theirs(r)) : this.dh.dh(mine(r), theirs(i));
  }

  private localKey(t: Token): KeyPair {
    const k = t === 'e' ? this.e : this.s;
    if (!k) throw new NoiseError('bad_state', `local ${t} key missing`);
    return k;
  }

  private remoteKey(t: Token): Uint8Array {
    const k = t === 'e' ? this.re : this.rs;
    if (!k) throw new NoiseError('bad_state', `remote ${t} key missing`);
    return k;
  }

  private keyPair(k: KeyPair | Uint8Array | undefined, what: string): KeyPair | undefined {
    if (k === undefined) return undefined;
    const privateKey = k instanceof Uint8Array ? k : k.privateKey;
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== this.dh.dhLen) {
      throw new NoiseError('invalid_key', `${what} private key must be ${this.dh.dhLen} bytes`);
    }
    const publicKey = k instanceof Uint8Array ? this.dh.publicKey(privateKey) : this.publicKey(k.publicKey, `${what} public`);
    // Not copied: a DH implementation may cache work per private-key object (node-noise.ts does).
    return { privateKey, publicKey };
  }

  private publicKey(k: Uint8Array, what: string): Uint8Array {
    if (!(k instanceof Uint8Array) || k.length !== this.dh.dhLen)
      throw new NoiseError('invalid_key', `${what} key must be ${this.dh.dhLen} bytes`);
    return Uint8Array.from(k);
  }

  /** Fail at construction, not mid-handshake, when a key the pattern needs was not given. */
  private checkKeysPresent(): void {
    const { pattern } = this.protocol;
    const me = this.initiator ? 'initiator' : 'responder';
    const myPre = this.initiator ? pattern.initiatorPre : pattern.responderPre;
    const theirPre = this.initiator ? pattern.responderPre : pattern.initiatorPre;
    const iSendS = myPre.includes('s') || pattern.messages.some((m, i) => this.writerIsInitiator(i) === this.initiator && m.includes('s'));
    if (iSendS && !this.s) throw new NoiseError('invalid_argument', `${pattern.name} needs the ${me}'s static key`);
    if (theirPre.includes('s') && !this.rs)
      throw new NoiseError('invalid_argument', `${pattern.name} needs the peer's static public key up front`);
    if (myPre.includes('e') && !this.e) throw new NoiseError('invalid_argument', `${pattern.name} needs a pre-shared ephemeral key`);
    if (theirPre.includes('e') && !this.re) throw new NoiseError('invalid_argument', `${pattern.name} needs the peer's ephemeral key`);
  }
}
