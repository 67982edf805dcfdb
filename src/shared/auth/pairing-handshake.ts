// The pairing handshake: Noise_IKpsk1_25519_ChaChaPoly_SHA256 carried by the request and the response of
// POST /auth/pair/verify (docs/protocol.md, "Pairing"). Browser-safe.
//
//   -> e, es, s, ss, psk   + payload: the device's node_identity (encrypted)
//   <- e, ee, se           + payload: PairVerifyResult (session id, desktop_node), encrypted
//
// IK: the device knows the node's static key up front (checked against the fingerprint from the QR/URL), so
// the node is authenticated by the very first message. psk1: the PIN-derived key is mixed in at the end of
// the first message, so a wrong PIN makes its payload fail the AEAD tag; the PIN itself never travels.
import { HandshakeState, NoiseError, type NoiseSuite } from '../crypto/noise/index.js';
import { PAIRING_PROTOCOL, pairingPrologue, pairingPsk } from './pairing-keys.js';

export interface HandshakeOutput {
  payload: Uint8Array;
  handshakeHash: Uint8Array;
  /** Secret bound to the whole handshake (Noise final chaining key, third Split output): input to the device secret. */
  handshakeSecret: Uint8Array;
}

export interface InitiatorOptions {
  staticPrivateKey: Uint8Array;
  staticPublicKey: Uint8Array;
  /** The node's static key, already checked against the expected fingerprint. */
  responderPublicKey: Uint8Array;
  codeRef: string;
  pin: string;
  payload: Uint8Array;
  /** Faster implementations where available (the node passes node:crypto's). */
  suite?: NoiseSuite;
}

export function startPairingInitiator(o: InitiatorOptions): { firstMessage: Uint8Array; finish(reply: Uint8Array): HandshakeOutput } {
  const hs = new HandshakeState({
    protocol: PAIRING_PROTOCOL,
    initiator: true,
    prologue: pairingPrologue(o.codeRef),
    s: { privateKey: o.staticPrivateKey, publicKey: o.staticPublicKey },
    rs: o.responderPublicKey,
    psks: [pairingPsk(o.pin, o.codeRef)],
    ...o.suite,
  });
  const firstMessage = hs.writeMessage(o.payload);
  return {
    firstMessage,
    finish(reply) {
      const payload = hs.readMessage(reply);
      const t = hs.split();
      return { payload, handshakeHash: t.handshakeHash, handshakeSecret: t.exported };
    },
  };
}

export interface ResponderOptions {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  codeRef: string;
  pin: string;
  firstMessage: Uint8Array;
  suite?: NoiseSuite;
}

export interface AcceptedPairing {
  /** The device's first-message payload (its node_identity), already authenticated by the PIN. */
  payload: Uint8Array;
  /** The static key the device proved it holds (es/ss). */
  remoteStaticKey: Uint8Array;
  reply(payload: Uint8Array): HandshakeOutput & { message: Uint8Array };
}

/** Reads the device's first message; throws NoiseError (decrypt_failed for a wrong PIN or a tampered message). */
export function acceptPairing(o: ResponderOptions): AcceptedPairing {
  const hs = new HandshakeState({
    protocol: PAIRING_PROTOCOL,
    initiator: false,
    prologue: pairingPrologue(o.codeRef),
    s: { privateKey: o.privateKey, publicKey: o.publicKey },
    psks: [pairingPsk(o.pin, o.codeRef)],
    ...o.suite,
  });
  const payload = hs.readMessage(o.firstMessage);
  const remoteStaticKey = hs.remoteStaticKey();
  if (!remoteStaticKey) throw new NoiseError('bad_state', 'initiator static key missing after the first message');
  return {
    payload,
    remoteStaticKey,
    reply(replyPayload) {
      const message = hs.writeMessage(replyPayload);
      const t = hs.split();
      return { message, payload: replyPayload, handshakeHash: t.handshakeHash, handshakeSecret: t.exported };
    },
  };
}

/** A failed AEAD tag: for the node, a wrong PIN (or a tampered message, which counts the same). */
export function isWrongKeyError(err: unknown): boolean {
  return err instanceof NoiseError && err.code === 'decrypt_failed';
}
