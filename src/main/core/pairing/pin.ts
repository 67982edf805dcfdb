// PINs and codes for pairing. Everything random comes from the CSPRNG; PIN comparison is constant-time so
// response timing does not leak how many leading digits were right.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { toBase32 } from '../../../shared/encoding.js';

export const PIN_DIGITS = 6;

/** Uniform over 000000..999999 (randomInt rejects modulo bias). */
export function generatePin(): string {
  return randomInt(0, 10 ** PIN_DIGITS)
    .toString()
    .padStart(PIN_DIGITS, '0');
}

export function isWellFormedPin(pin: string): boolean {
  return new RegExp(`^\\d{${PIN_DIGITS}}$`).test(pin);
}

/** The long, unguessable code carried in the QR URL. */
export function generatePairingCode(): string {
  return randomUUID();
}

/** A short code a person can type (e.g. read off another desktop's screen): 8 base32 chars, "ABCD-EFGH". */
export function generateLinkingCode(): string {
  const raw = toBase32(randomBytes(5));
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}`;
}

export { normalizeLinkingCode } from '../../../shared/auth/pairing-keys.js';
