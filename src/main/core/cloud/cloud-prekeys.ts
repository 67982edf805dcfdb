// The node's side of the cloud's prekey directory (CloudPrekeysPort, docs/e2ee.md "Prekeys and the directory"):
// publish a share of a served device's one-time prekeys to the cloud, and claim bundles for devices of other
// homes there. Calls go over the link's REST client with its current token; failures are its CloudCallError,
// except the two answers a claim expects (404 no_prekeys / unknown_recipient), which come back as values.
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../../../shared/wire/prekeys.js';
import type { CloudClaim, CloudPrekeysPort } from '../prekeys/cloud-prekeys-port.js';
import { CloudCallError, claimPrekeys, publishPrekeys } from './cloud-api.js';
import { refusesToken } from './token-refusal.js';

export interface CloudPrekeysDeps {
  /** The URL and token to call the cloud with; null while logged out (the link's credentials()). */
  credentials(): { url: string; token: string } | null;
  /** A call was refused for the token (the link then logs in again), as the key directory reports it. */
  tokenRefused?(code: string): void;
}

export class CloudPrekeys implements CloudPrekeysPort {
  constructor(private readonly d: CloudPrekeysDeps) {}

  available(): boolean {
    return this.d.credentials() !== null;
  }

  publish(deviceId: string, request: PublishPrekeysRequest): Promise<PrekeyStatus> {
    return this.withToken((url, token) => publishPrekeys(url, token, deviceId, request));
  }

  async claim(deviceId: string): Promise<CloudClaim> {
    try {
      const bundle: PrekeyBundle = await this.withToken((url, token) => claimPrekeys(url, token, deviceId));
      return { ok: true, bundle };
    } catch (err) {
      if (
        err instanceof CloudCallError &&
        err.status === 404 &&
        (err.cloudError === 'no_prekeys' || err.cloudError === 'unknown_recipient')
      ) {
        return { ok: false, error: err.cloudError };
      }
      throw err;
    }
  }

  private async withToken<T>(call: (url: string, token: string) => Promise<T>): Promise<T> {
    const creds = this.d.credentials();
    if (!creds) throw new CloudCallError('unreachable', 0, 'not_logged_in', 'This node is not logged in to a cloud.');
    try {
      return await call(creds.url, creds.token);
    } catch (err) {
      if (err instanceof CloudCallError && refusesToken(err.cloudError)) this.d.tokenRefused?.(err.cloudError);
      throw err;
    }
  }
}
