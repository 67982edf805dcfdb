// `<dataDir>/cloud.json` (0600, written atomically): the cloud this node is linked to, the cloud's pinned static
// key and the login token, SEALED with the node's SecretBox (the token never touches the disk in clear).
// A file that cannot be read is not a start-up error: the link shows "logged out" with the reason, and the
// next successful login writes a fresh file (the unreadable one is kept aside as cloud.json.corrupt).
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SecretBox } from '../secrets/secret-box.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const CLOUD_STATE_FILE = 'cloud.json';

export interface CloudState {
  /** The cloud's base URL (no trailing slash). */
  url: string;
  /** base64url of the cloud's static X25519 key, pinned at first contact. */
  cloudKey: string;
  /** The bearer token, in clear: in memory only. */
  token: string | null;
  tokenExpiresAt: string | null;
  /** When the token was issued (login or refresh); the link refreshes it at half its life. */
  tokenIssuedAt?: string | null | undefined;
  /** The account's email this node logs in to (its household); null for a cloud's legacy device-id login. */
  email?: string | null | undefined;
}

const FileSchema = z
  .object({
    version: z.literal(1),
    url: z.string().url(),
    cloud_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    token_sealed: z.string().nullable(),
    token_expires_at: z.string().nullable(),
    token_issued_at: z.string().nullable().optional(),
    email: z.string().max(254).nullable().optional(),
  })
  .strict();

export type LoadResult =
  | { ok: true; state: CloudState | null }
  /** `state` keeps what could still be read (URL and pin) when only the token is unusable. */
  | { ok: false; state: CloudState | null; reason: string };

export class CloudStateFile {
  readonly path: string;
  private corrupt = false;

  constructor(
    dataDir: string,
    private readonly box: SecretBox,
  ) {
    this.path = join(dataDir, CLOUD_STATE_FILE);
  }

  load(): LoadResult {
    if (!existsSync(this.path)) return { ok: true, state: null };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      this.corrupt = true;
      return { ok: false, state: null, reason: `${this.path} is not valid JSON (${(err as Error).message})` };
    }
    const parsed = FileSchema.safeParse(raw);
    if (!parsed.success) {
      this.corrupt = true;
      const first = parsed.error.issues[0];
      return {
        ok: false,
        state: null,
        reason: `${this.path} is not a valid cloud state file (${first ? `${first.path.join('.') || 'file'}: ${first.message}` : 'invalid'})`,
      };
    }
    const f = parsed.data;
    const state: CloudState = { url: f.url, cloudKey: f.cloud_key, token: null, tokenExpiresAt: null, email: f.email ?? null };
    if (f.token_sealed === null) return { ok: true, state };
    try {
      state.token = Buffer.from(this.box.open(f.token_sealed)).toString('utf8');
      state.tokenExpiresAt = f.token_expires_at;
      state.tokenIssuedAt = f.token_issued_at ?? null;
      return { ok: true, state };
    } catch (err) {
      return {
        ok: false,
        state,
        reason: `the cloud token in ${this.path} cannot be opened with this node's storage key (${(err as Error).message})`,
      };
    }
  }

  save(state: CloudState | null): void {
    if (this.corrupt && existsSync(this.path)) {
      try {
        renameSync(this.path, `${this.path}.corrupt`);
      } catch {
        /* overwritten below anyway */
      }
    }
    this.corrupt = false;
    const body =
      state === null
        ? null
        : {
            version: 1 as const,
            url: state.url,
            cloud_key: state.cloudKey,
            token_sealed: state.token === null ? null : this.box.seal(new TextEncoder().encode(state.token)),
            token_expires_at: state.token === null ? null : state.tokenExpiresAt,
            token_issued_at: state.token === null ? null : (state.tokenIssuedAt ?? null),
            email: state.email ?? null,
          };
    if (body === null) {
      rmSync(this.path, { force: true });
      return;
    }
    writeFileAtomic(this.path, `${JSON.stringify(body, null, 2)}\n`, 0o600);
  }
}
