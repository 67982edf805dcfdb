// Which of the cloud's error codes mean "this token is done for". Read by the session (which forgets the
// token) and by the relay transport (which stops reconnecting with it); on its own so neither imports the other.
import { CLOUD_TOKEN_DEAD_CODES } from '../../../shared/wire/cloud.js';

const TOKEN_DEAD = new Set<string>(CLOUD_TOKEN_DEAD_CODES);

/** The cloud's code says this token is done for: forget it (noise_handshake: and log in again by ourselves). */
export function refusesToken(code: string): boolean {
  return TOKEN_DEAD.has(code) || code === 'noise_handshake';
}
