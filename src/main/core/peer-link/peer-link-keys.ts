// What both desktops of one pairing derive for the peer link's Noise handshake (docs/protocol.md, "Peer link"):
// the psk from the pairing's shared key and a prologue that binds the protocol, the pairing and both node ids.
// A change here is a protocol change: both sides must compute the same bytes.
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { NODE_NOISE_SUITE } from '../../../server/crypto/node-noise.js';
import { HandshakeState } from '../../../shared/crypto/noise/index.js';
import { utf8 } from '../../../shared/encoding.js';
import { PEER_LINK_PROTOCOL } from '../../../shared/wire/peer-link.js';

export const PEER_LINK_PSK_SALT = 'salita/v1/peer-link/psk/salt';
export const PEER_LINK_PSK_INFO = 'salita/v1/peer-link/psk';
export const PEER_LINK_PROLOGUE_LABEL = 'salita/v1/peer-link';

/**
 * psk = HKDF-SHA256(ikm = server_hmac_key, salt, info, 32). Its own label, so the link's key never equals the
 * key that signs HTTP requests of the same pairing.
 */
export function peerLinkPsk(serverHmacKey: Uint8Array): Uint8Array {
  return hkdf(sha256, serverHmacKey, utf8.encode(PEER_LINK_PSK_SALT), utf8.encode(PEER_LINK_PSK_INFO), 32);
}

/**
 * "salita/v1/peer-link" LF protocol name LF session id LF dialer node id LF listener node id, UTF-8. None of the
 * parts may contain LF (node ids and session ids are from a fixed alphabet), so the encoding is unambiguous.
 */
export function peerLinkPrologue(sessionId: string, dialerNodeId: string, listenerNodeId: string): Uint8Array {
  return utf8.encode([PEER_LINK_PROLOGUE_LABEL, PEER_LINK_PROTOCOL, sessionId, dialerNodeId, listenerNodeId].join('\n'));
}

export interface HandshakeInput {
  /** This node dialed (Noise initiator) or took the connection (responder). */
  dialer: boolean;
  sessionId: string;
  selfNodeId: string;
  peerNodeId: string;
  staticKey: { privateKey: Uint8Array; publicKey: Uint8Array };
  /** The peer's static key as pinned at pairing (mesh_nodes.public_key). */
  peerPublicKey: Uint8Array;
  serverHmacKey: Uint8Array;
}

export function peerLinkHandshake(i: HandshakeInput): HandshakeState {
  const [dialerId, listenerId] = i.dialer ? [i.selfNodeId, i.peerNodeId] : [i.peerNodeId, i.selfNodeId];
  return new HandshakeState({
    protocol: PEER_LINK_PROTOCOL,
    initiator: i.dialer,
    prologue: peerLinkPrologue(i.sessionId, dialerId, listenerId),
    s: i.staticKey,
    rs: i.peerPublicKey,
    psks: [peerLinkPsk(i.serverHmacKey)],
    ...NODE_NOISE_SUITE,
  });
}
