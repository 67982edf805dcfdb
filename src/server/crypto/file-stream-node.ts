// The file cipher's node:crypto twin (docs/e2ee.md "Files"): the same HKDF-SHA256 and ChaCha20-Poly1305, the
// same bytes as @noble's (tests/unit/file-stream.test.ts checks both against one vector), several times faster.
// Pass it as the `suite` of FileEncryptor / FileDecryptor where Node runs.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { FILE_LABELS, FILE_TAG_BYTES, type FileCipherSuite } from '../../shared/e2ee/file-stream.js';

export const NODE_FILE_SUITE: FileCipherSuite = {
  payloadKey: (k) => new Uint8Array(hkdfSync('sha256', k, FILE_LABELS.salt, FILE_LABELS.payload, 32)),
  seal(key, nonce, plaintext) {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: FILE_TAG_BYTES });
    const body = c.update(plaintext);
    const tail = c.final();
    const tag = c.getAuthTag();
    const out = new Uint8Array(body.length + tail.length + tag.length);
    out.set(body, 0);
    out.set(tail, body.length);
    out.set(tag, body.length + tail.length);
    return out;
  },
  open(key, nonce, ciphertext) {
    if (ciphertext.length < FILE_TAG_BYTES) throw new Error('short');
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: FILE_TAG_BYTES });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - FILE_TAG_BYTES));
    const body = d.update(ciphertext.subarray(0, ciphertext.length - FILE_TAG_BYTES));
    const tail = d.final();
    if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
    return new Uint8Array(Buffer.concat([body, tail]));
  },
};
