// The account this node is logged in to at its cloud, for the desktop UI's Cloud panel: the household's nodes
// and their devices, removing one of them, signing every node out. Plain calls with the link's token; a refused
// token goes to the session like any other refusal (the link then shows "log in again").
import type { AccountResponse, RemoveNodeResponse, SignOutEverywhereResponse } from '../../../shared/wire/cloud.js';
import { CloudCallError, fetchAccount, removeAccountNode, signOutEverywhere } from './cloud-api.js';
import { CloudLinkError } from './cloud-session.js';
import { refusesToken } from './token-refusal.js';

export interface CloudAccountDeps {
  credentials(): { url: string; token: string } | null;
  tokenRefused(code: string): void;
}

export class CloudAccount {
  constructor(private readonly d: CloudAccountDeps) {}

  view(): Promise<AccountResponse> {
    return this.call((url, token) => fetchAccount(url, token));
  }

  removeNode(node: string): Promise<RemoveNodeResponse> {
    return this.call((url, token) => removeAccountNode(url, token, node));
  }

  /** Every node of the account, this one too: this node's own token goes with the rest. */
  signOutEverywhere(): Promise<SignOutEverywhereResponse> {
    return this.call((url, token) => signOutEverywhere(url, token));
  }

  private async call<T>(run: (url: string, token: string) => Promise<T>): Promise<T> {
    const creds = this.d.credentials();
    if (!creds) throw new CloudLinkError('cloud_login_not_started', 'This node is not logged in to a cloud: log in first.');
    try {
      return await run(creds.url, creds.token);
    } catch (err) {
      if (!(err instanceof CloudCallError)) throw err;
      if (err.kind === 'unreachable') throw new CloudLinkError('cloud_unreachable', err.message);
      if (refusesToken(err.cloudError)) this.d.tokenRefused(err.cloudError);
      throw new CloudLinkError('cloud_rejected', `The cloud refused: ${err.message}`, err.cloudError);
    }
  }
}
