// What a prekey directory checks before it stores a publish (the node's store and a cloud alike): the request's
// shape, every signature against the device's identity key, and `last_resort` the right way round. A directory
// that stored an unchecked key would hand initiators a bundle that verifyBundle() refuses, or worse, one a
// forger chose. Keys come back re-encoded canonically (base64url has spare bits in its last character), so
// "the same key again" is a comparison of strings.
import { fromBase64Url, toBase64Url } from '../encoding.js';
import { PublishPrekeysRequest } from '../wire/prekeys.js';
import { verifyKemPrekeySignature, verifySignedPrekeySignature } from './pqxdh.js';

export type PublishCheck = { ok: true; request: PublishPrekeysRequest } | { ok: false; reason: string };

function canonical(text: string): string {
  return toBase64Url(fromBase64Url(text));
}

/** `identityKey`: the device's X25519 identity key (32 bytes) from the directory, never from the request. */
export function checkPublishRequest(identityKey: Uint8Array, input: unknown): PublishCheck {
  if (identityKey.length !== 32) return { ok: false, reason: 'the device has no 32-byte identity key' };
  const parsed = PublishPrekeysRequest.safeParse(input);
  if (!parsed.success) return { ok: false, reason: `publish request: ${parsed.error.issues[0]?.message}` };
  const r = parsed.data;
  try {
    const spk = fromBase64Url(r.signed_prekey.public);
    if (!verifySignedPrekeySignature(identityKey, spk, fromBase64Url(r.signed_prekey.signature))) {
      return { ok: false, reason: `signed prekey ${r.signed_prekey.id}: the signature does not verify under the identity key` };
    }
    if (!r.kem_last_resort.last_resort) return { ok: false, reason: 'kem_last_resort must have last_resort true' };
    for (const kem of [r.kem_last_resort, ...r.kem_one_time_prekeys]) {
      if (kem !== r.kem_last_resort && kem.last_resort) {
        return { ok: false, reason: `KEM prekey ${kem.id}: a one-time KEM prekey must have last_resort false` };
      }
      if (!verifyKemPrekeySignature(identityKey, fromBase64Url(kem.public), fromBase64Url(kem.signature))) {
        return { ok: false, reason: `KEM prekey ${kem.id}: the signature does not verify under the identity key` };
      }
    }
    return {
      ok: true,
      request: {
        signed_prekey: { ...r.signed_prekey, public: canonical(r.signed_prekey.public) },
        kem_last_resort: { ...r.kem_last_resort, public: canonical(r.kem_last_resort.public) },
        one_time_prekeys: r.one_time_prekeys.map((k) => ({ ...k, public: canonical(k.public) })),
        kem_one_time_prekeys: r.kem_one_time_prekeys.map((k) => ({ ...k, public: canonical(k.public) })),
      },
    };
  } catch {
    // The schema fixed every length; only bad bits in a last character can still fail to decode.
    return { ok: false, reason: 'a key or signature is not base64url' };
  }
}
