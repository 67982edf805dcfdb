// Noise sessions, OTP challenges, bearer tokens and the noise_handshake flag: everything /api/auth and the
// `Authorization: Noise <token>` check need. Asynchronous over CloudSql (SQLite or PostgreSQL shared by several
// instances); each step that changes more than one row runs in one transaction. docs/cloud.md has the protocol these functions implement.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { noiseSignature } from '../shared/cloud/noise-login.js';
import { fingerprintOf } from '../shared/fingerprint.js';
import { Accounts, LEGACY_ACCOUNT } from './accounts.js';
import type { CloudSql, SqlQuery } from './db/sql.js';
import { CloudError } from './errors.js';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy, LoginLockout } from './login-lockout.js';
import { type OtpSender, shownName } from './otp-sender.js';
import { type RateLimit, SharedRateLimit } from './rate-limit.js';
import { sourceAddressKey } from './source-address.js';
import type { Telemetry } from './telemetry.js';

export const NOISE_HANDSHAKE_FLAG = 'noise_handshake';
/**
 * On: a node may still log in by its device id alone (a code to the cloud's log, no email); such nodes are the
 * legacy household. Off (a new cloud): every login names an account's email, and the legacy nodes' tokens stop
 * working. A cloud upgraded with nodes on it starts with it on, so nobody is cut off by the upgrade.
 */
export const LEGACY_DEVICE_LOGIN_FLAG = 'legacy_device_login';
export type FeatureFlag = typeof NOISE_HANDSHAKE_FLAG | typeof LEGACY_DEVICE_LOGIN_FLAG;
export const FEATURE_FLAGS: readonly FeatureFlag[] = [NOISE_HANDSHAKE_FLAG, LEGACY_DEVICE_LOGIN_FLAG];

/** How long a refreshed token keeps working after its successor was issued. */
export const REFRESH_GRACE_MS = 5 * 60_000;

export interface AuthTimings {
  /** How long a finished handshake may wait for its OTP verify. */
  noiseSessionTtlMs: number;
  otpTtlMs: number;
  otpMaxAttempts: number;
  tokenTtlMs: number;
}

export const DEFAULT_AUTH_TIMINGS: AuthTimings = {
  noiseSessionTtlMs: 10 * 60_000,
  otpTtlMs: 10 * 60_000,
  otpMaxAttempts: 5,
  tokenTtlMs: 12 * 60 * 60_000,
};

/** Bounds on login attempts and on the rows logins leave (docs/cloud.md "Login limits"). */
export interface AuthLimits {
  lockout: LockoutPolicy;
  /** Every challenge, verify and handshake of the whole cloud shares this bucket. */
  global: RateLimit;
  /** Unexpired rows in otp_challenges / noise_sessions; past it a new one gets 429 (expired rows go first). */
  maxChallenges: number;
  maxNoiseSessions: number;
  /** Unused, unexpired challenges per device id (each one is a code sent to its owner). */
  maxLiveChallengesPerDevice: number;
  /**
   * Unused codes mailed to one address, and asked for by one source address (to any addresses), in the last
   * otpTtlMs. A code that was used does not count: whoever used it reads that inbox, so only unanswered mail is
   * capped, which is what a flood is made of.
   */
  maxCodesPerEmail: number;
  maxCodesPerSource: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  lockout: DEFAULT_LOCKOUT_POLICY,
  global: { ratePerSec: 20, burst: 200 },
  maxChallenges: 10_000,
  maxNoiseSessions: 10_000,
  maxLiveChallengesPerDevice: 5,
  maxCodesPerEmail: 5,
  maxCodesPerSource: 20,
};

const tooMany = (what: string, ms: number): CloudError => {
  const sec = Math.max(1, Math.ceil(ms / 1000));
  return new CloudError(429, 'too_many_attempts', `${what}; try again in ${sec} s.`, sec);
};

export interface Principal {
  deviceId: string;
  /** The node's account (its household); null for a node in none (every token of a removed node is revoked). */
  accountId: string | null;
  noiseSessionId: string | null;
  expiresAt: string;
}

export interface VerifyInput {
  challenge_id: string;
  code: string;
  noise_session_id?: string | undefined;
  noise_signature?: string | undefined;
  last_handshake_at?: string | undefined;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** What POST /api/auth/challenge asks for: a code for this node key, mailed to `email` (null: the legacy login). */
export interface ChallengeInput {
  deviceId: string;
  email: string | null;
  name?: string | undefined;
}

type TokenRow = { deviceId: string; noiseSessionId: string | null; expiresAt: string; revokedAt: string | null };
type ChallengeRow = {
  id: string;
  deviceId: string;
  codeHash: string;
  email: string | null;
  name: string | null;
  expiresAt: string;
  attempts: number;
  usedAt: string | null;
};
type NoiseRow = {
  id: string;
  clientStaticKey: string;
  clientKeyProven: number;
  sessionToken: string;
  handshakeHash: string;
  expiresAt: string;
  usedAt: string | null;
};

const count = async (q: SqlQuery, sql: string, params: readonly (string | number)[] = []) => (await q.get<{ n: number }>(sql, params))!.n;

export class AuthService {
  private readonly lockout: LoginLockout;
  private readonly bucket: SharedRateLimit;

  constructor(
    private readonly sql: CloudSql,
    private readonly telemetry: Telemetry,
    private readonly otpSender: OtpSender,
    private readonly timings: AuthTimings,
    private readonly now: () => number = Date.now,
    private readonly limits: AuthLimits = DEFAULT_AUTH_LIMITS,
    private readonly accounts: Accounts = new Accounts(sql, now),
  ) {
    this.lockout = new LoginLockout(sql, limits.lockout, now);
    this.bucket = new SharedRateLimit(sql, 'login', limits.global, now);
  }

  // ---- limits and housekeeping ----

  /** The cloud-wide rate limit of every login step (challenge, verify, handshake); throws a 429. */
  async admit(): Promise<void> {
    const wait = await this.bucket.take();
    if (wait > 0) throw tooMany('The cloud is receiving too many login requests', wait);
  }

  /** Deletes expired challenges and handshakes and forgotten failure counts. Cheap (indexed); called often. */
  async prune(): Promise<{ challenges: number; noiseSessions: number; failures: number }> {
    const now = this.iso();
    return {
      challenges: (await this.sql.run('DELETE FROM otp_challenges WHERE expires_at <= ?', [now])).changes,
      noiseSessions: (await this.sql.run('DELETE FROM noise_sessions WHERE expires_at <= ?', [now])).changes,
      failures: await this.lockout.prune(),
    };
  }

  /** Row counts of the login tables (tests and /metrics-style checks). */
  async loginRows(): Promise<{ challenges: number; noiseSessions: number; failures: number }> {
    return {
      challenges: await count(this.sql, 'SELECT count(*) AS n FROM otp_challenges'),
      noiseSessions: await count(this.sql, 'SELECT count(*) AS n FROM noise_sessions'),
      failures: await this.lockout.rows(),
    };
  }

  /** Throws a 429 when this device id or source address is locked out after too many failures. */
  private async checkLockout(deviceId: string, address: string): Promise<void> {
    const d = await this.lockout.lockedForMs('device', deviceId);
    if (d > 0) throw tooMany('Too many wrong codes for this device', d);
    const a = await this.lockout.lockedForMs('address', address);
    if (a > 0) throw tooMany('Too many failed logins from this address', a);
  }

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  // ---- feature flags ----

  async isEnabled(flag: FeatureFlag): Promise<boolean> {
    // Read per call (not cached): the CLI, or another instance, flips flags under a running cloud.
    return (await this.sql.get<{ enabled: number }>('SELECT enabled FROM feature_flags WHERE name = ?', [flag]))?.enabled === 1;
  }

  async setFlag(flag: FeatureFlag, enabled: boolean): Promise<void> {
    await this.sql.run(
      'INSERT INTO feature_flags (name, enabled, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at',
      [flag, enabled, this.iso()],
    );
  }

  // ---- Noise sessions ----

  /** Draws a session id and secret for a handshake still in flight (nothing stored yet). */
  reserveNoiseSession(): { id: string; sessionToken: Uint8Array; expiresAt: string } {
    return { id: randomUUID(), sessionToken: new Uint8Array(randomBytes(32)), expiresAt: this.iso(this.timings.noiseSessionTtlMs) };
  }

  /** Stores the Session once the handshake finished (with its final handshake hash). */
  async storeNoiseSession(
    r: { id: string; sessionToken: Uint8Array; expiresAt: string },
    s: { pattern: 'NX' | 'IK'; handshakeHash: Uint8Array; clientStaticKey: Uint8Array; proven: boolean },
  ): Promise<void> {
    await this.sql.run('DELETE FROM noise_sessions WHERE expires_at <= ?', [this.iso()]);
    if ((await count(this.sql, 'SELECT count(*) AS n FROM noise_sessions')) >= this.limits.maxNoiseSessions) {
      throw tooMany('Too many unfinished logins on this cloud', this.timings.noiseSessionTtlMs / 10);
    }
    await this.sql.run(
      'INSERT INTO noise_sessions (id, pattern, handshake_hash, client_static_key, client_key_proven, session_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [
        r.id,
        s.pattern,
        Buffer.from(s.handshakeHash).toString('base64url'),
        Buffer.from(s.clientStaticKey).toString('base64url'),
        s.proven,
        Buffer.from(r.sessionToken).toString('base64url'),
        this.iso(),
        r.expiresAt,
      ],
    );
  }

  // ---- OTP ----

  /**
   * sourceAddress: the caller's IP address (counted per address, IPv6 per /64). The code goes to `email` through
   * the OTP sender; without an email only while the legacy device-id login is allowed.
   */
  async createChallenge(input: ChallengeInput, sourceAddress?: string): Promise<{ challengeId: string; expiresAt: string }> {
    const { deviceId, email, name } = input;
    const key = Buffer.from(deviceId, 'base64url');
    if (key.length !== 32 || key.toString('base64url') !== deviceId) {
      throw new CloudError(400, 'invalid_request', 'device_id must be the base64url (no padding) of a 32-byte X25519 public key.');
    }
    if (email === null && !(await this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG))) {
      throw new CloudError(400, 'email_required', 'This cloud signs in by email: give the address of your account.');
    }
    const source = sourceAddressKey(sourceAddress);
    // No code for a locked device id, address or account: it could not be used, and each one is a message to the owner.
    await this.checkLockout(deviceId, source);
    if (email !== null) {
      const e = await this.lockout.lockedForMs('email', email);
      if (e > 0) throw tooMany('Too many wrong codes for this account', e);
    }
    await this.limitSends(email, source);
    const live = (await this.sql.get<{ n: number; firstExpiry: string | null }>(
      'SELECT count(*) AS n, min(expires_at) AS "firstExpiry" FROM otp_challenges WHERE device_id = ? AND used_at IS NULL AND expires_at > ?',
      [deviceId, this.iso()],
    ))!;
    if (live.n >= this.limits.maxLiveChallengesPerDevice) {
      throw tooMany(`${live.n} codes for this device are still waiting; use one of them`, Date.parse(live.firstExpiry!) - this.now());
    }
    await this.sql.run('DELETE FROM otp_challenges WHERE expires_at <= ?', [this.iso()]);
    if ((await count(this.sql, 'SELECT count(*) AS n FROM otp_challenges')) >= this.limits.maxChallenges) {
      throw tooMany('Too many codes are waiting on this cloud', this.timings.otpTtlMs / 10);
    }
    const challengeId = randomUUID();
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = this.iso(this.timings.otpTtlMs);
    await this.sql.run(
      'INSERT INTO otp_challenges (id, device_id, code_hash, email, source, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [challengeId, deviceId, sha256(`${challengeId}:${code}`), email, source, shownName(name) ?? null, this.iso(), expiresAt],
    );
    try {
      await this.otpSender.send({ challengeId, deviceId, email, fingerprint: fingerprintOf(key), name: shownName(name), code, expiresAt });
    } catch (err) {
      // A code that never left cannot be used: forget it (it must not count against the address's limits either).
      await this.sql.run('DELETE FROM otp_challenges WHERE id = ?', [challengeId]);
      if (err instanceof CloudError) throw err;
      // The mail server's own words stay with the operator (the sender logs them): they are not the caller's business.
      throw new CloudError(503, 'mail_unavailable', 'The cloud could not send the code mail. Try again later.', 60);
    }
    return { challengeId, expiresAt };
  }

  /**
   * Each code is a mail to someone: at most maxCodesPerEmail unused ones to one address and maxCodesPerSource
   * asked by one source address per otpTtlMs, so nobody can flood an inbox or use the cloud to mail many.
   */
  private async limitSends(email: string | null, source: string): Promise<void> {
    const since = this.iso(-this.timings.otpTtlMs);
    const waitFrom = (first: string | null) => Date.parse(first ?? this.iso()) + this.timings.otpTtlMs - this.now();
    if (email !== null) {
      // Challenges stay until they expire, used or not, so the rows of the last otpTtlMs are the codes sent in it.
      const e = (await this.sql.get<{ n: number; first: string | null }>(
        'SELECT count(*) AS n, min(created_at) AS first FROM otp_challenges WHERE email = ? AND created_at > ? AND used_at IS NULL',
        [email, since],
      ))!;
      if (e.n >= this.limits.maxCodesPerEmail)
        throw tooMany(`${e.n} codes sent to this address lately are still unused; use one of them`, waitFrom(e.first));
    }
    const a = (await this.sql.get<{ n: number; first: string | null }>(
      'SELECT count(*) AS n, min(created_at) AS first FROM otp_challenges WHERE source = ? AND created_at > ? AND used_at IS NULL',
      [source, since],
    ))!;
    if (a.n >= this.limits.maxCodesPerSource)
      throw tooMany(`${a.n} codes asked for from your network address lately are still unused`, waitFrom(a.first));
  }

  /**
   * sourceAddress: the caller's IP address. Failures count per address (any reason) and per device id (wrong
   * codes only: everything else fails before the code is compared, so it cannot lock someone else's device id);
   * a locked device id or address is refused before the code is compared, so a guess tells nothing.
   */
  async verify(input: VerifyInput, sourceAddress?: string): Promise<{ token: string; expiresAt: string; noiseSessionId: string | null }> {
    const address = sourceAddressKey(sourceAddress);
    try {
      return await this.verifyChallenge(input, address);
    } catch (err) {
      if (err instanceof CloudError && err.status !== 429) {
        const lockMs = await this.lockout.fail('address', address);
        if (lockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'address', lockMs });
      }
      throw err;
    }
  }

  private async verifyChallenge(
    input: VerifyInput,
    address: string,
  ): Promise<{ token: string; expiresAt: string; noiseSessionId: string | null }> {
    const challenge = await this.sql.get<ChallengeRow>(
      'SELECT id, device_id AS "deviceId", code_hash AS "codeHash", email, name, expires_at AS "expiresAt", attempts, used_at AS "usedAt" FROM otp_challenges WHERE id = ?',
      [input.challenge_id],
    );
    if (!challenge) throw new CloudError(404, 'challenge_not_found', 'No such challenge; ask for a new code.');
    await this.checkLockout(challenge.deviceId, address);
    if (challenge.email !== null) {
      const e = await this.lockout.lockedForMs('email', challenge.email);
      if (e > 0) throw tooMany('Too many wrong codes for this account', e);
    } else if (!(await this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG))) {
      throw new CloudError(400, 'email_required', 'This cloud signs in by email now: ask for a new code with the address of your account.');
    }
    if (challenge.usedAt) throw new CloudError(409, 'otp_used', 'This code was already used; ask for a new one.');
    if (Date.parse(challenge.expiresAt) <= this.now())
      throw new CloudError(401, 'otp_expired', 'This code has expired; ask for a new one.');
    if (challenge.attempts >= this.timings.otpMaxAttempts)
      throw new CloudError(429, 'otp_attempts_exceeded', 'Too many wrong codes; ask for a new one.');

    const hasNoise = input.noise_session_id !== undefined || input.noise_signature !== undefined || input.last_handshake_at !== undefined;
    const required = await this.isEnabled(NOISE_HANDSHAKE_FLAG);
    let noiseSessionId: string | null = null;
    if (required || hasNoise) noiseSessionId = await this.checkNoise(input, challenge.deviceId);

    const given = sha256(`${challenge.id}:${input.code}`);
    if (!timingSafeEqual(Buffer.from(given), Buffer.from(challenge.codeHash))) {
      // Counted in the row itself (attempts + 1), so two instances' wrong guesses both count.
      await this.sql.run('UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = ?', [challenge.id]);
      const lockMs = await this.lockout.fail('device', challenge.deviceId);
      if (lockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'device', lockMs });
      // Per account too: fresh node keys and source addresses are free, so a guesser of one address's codes is
      // stopped here (that lock also delays its owner: the price of a bounded number of guesses).
      if (challenge.email !== null) {
        const emailLockMs = await this.lockout.fail('email', challenge.email);
        if (emailLockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'email', lockMs: emailLockMs });
      }
      if (noiseSessionId) this.telemetry.emit({ name: 'messngr.auth.noise.handshake.failure', code: 'otp_invalid' });
      throw new CloudError(401, 'otp_invalid', 'Wrong code.');
    }

    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const usedAt = this.iso();
    await this.sql.tx(async (tx) => {
      // The WHERE used_at IS NULL makes a concurrent second verify of the same code lose.
      const r = await tx.run('UPDATE otp_challenges SET used_at = ? WHERE id = ? AND used_at IS NULL', [usedAt, challenge.id]);
      if (r.changes !== 1) throw new CloudError(409, 'otp_used', 'This code was already used; ask for a new one.');
      if (noiseSessionId) {
        const s = await tx.run('UPDATE noise_sessions SET used_at = ? WHERE id = ? AND used_at IS NULL', [usedAt, noiseSessionId]);
        if (s.changes !== 1)
          throw new CloudError(
            401,
            'noise_handshake',
            'This handshake was already used for a login; redo the handshake and ask for a new code.',
          );
      }
      await this.insertToken(tx, token, challenge.deviceId, noiseSessionId, usedAt, expiresAt);
      await this.accounts.join(challenge.deviceId, challenge.email, challenge.name ?? null, tx);
    });
    await this.lockout.clear('device', challenge.deviceId);
    if (challenge.email !== null) await this.lockout.clear('email', challenge.email);
    this.telemetry.emit({ name: 'messngr.noise.token.issue', deviceId: challenge.deviceId, noise: noiseSessionId !== null });
    if (noiseSessionId) {
      this.telemetry.emit({ name: 'messngr.noise.token.register', deviceId: challenge.deviceId, sessionId: noiseSessionId });
      this.telemetry.emit({ name: 'messngr.auth.noise.handshake.success', sessionId: noiseSessionId });
    }
    return { token, expiresAt, noiseSessionId };
  }

  /**
   * A new token without a new one-time code, for a node that (1) holds a token that is still valid and (2) has
   * just proved its static key again in an IK handshake (IK authenticates the client key; NX only states it).
   * The person typed a code once; a node that keeps running should not need another one every tokenTtlMs. The
   * old token stays valid for REFRESH_GRACE_MS (its live relay socket can move over), then it expires.
   */
  async refresh(
    token: string,
    proof: { noise_session_id?: string | undefined; noise_signature?: string | undefined; last_handshake_at?: string | undefined },
  ): Promise<{ token: string; expiresAt: string; noiseSessionId: string }> {
    const principal = await this.authenticate(`Noise ${token}`);
    const noiseSessionId = await this.checkNoise({ challenge_id: '', code: '', ...proof }, principal.deviceId);
    const fresh = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const now = this.iso();
    const graceEnd = this.iso(REFRESH_GRACE_MS);
    await this.sql.tx(async (tx) => {
      const s = await tx.run('UPDATE noise_sessions SET used_at = ? WHERE id = ? AND used_at IS NULL', [now, noiseSessionId]);
      if (s.changes !== 1) throw new CloudError(401, 'noise_handshake', 'This handshake was already used; redo the handshake.');
      await tx.run('UPDATE auth_tokens SET expires_at = ? WHERE token_hash = ? AND expires_at > ?', [graceEnd, sha256(token), graceEnd]);
      await this.insertToken(tx, fresh, principal.deviceId, noiseSessionId, now, expiresAt);
    });
    this.telemetry.emit({ name: 'messngr.noise.token.issue', deviceId: principal.deviceId, noise: true });
    this.telemetry.emit({ name: 'messngr.noise.token.register', deviceId: principal.deviceId, sessionId: noiseSessionId });
    return { token: fresh, expiresAt, noiseSessionId };
  }

  /** The Noise proof of a login finished elsewhere (external-login.ts): the proven session's id, or a 401. */
  async proveNoise(input: Omit<VerifyInput, 'challenge_id' | 'code'>, deviceId: string): Promise<string> {
    const key = Buffer.from(deviceId, 'base64url');
    if (key.length !== 32 || key.toString('base64url') !== deviceId) {
      throw new CloudError(400, 'invalid_request', 'device_id must be the base64url (no padding) of a 32-byte X25519 public key.');
    }
    return this.checkNoise({ ...input, challenge_id: '', code: '' }, deviceId);
  }

  /**
   * The token of a login approved elsewhere (a passkey, an OpenID provider), bound to the Noise session the node
   * proved: the session is used up, the token stored and the node put in `accountId`, all in the caller's
   * transaction (its own row's state goes with it).
   */
  async issueApproved(
    tx: SqlQuery,
    login: { deviceId: string; noiseSessionId: string; accountId: string; name: string | null },
  ): Promise<{ token: string; expiresAt: string }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const at = this.iso();
    const s = await tx.run('UPDATE noise_sessions SET used_at = ? WHERE id = ? AND used_at IS NULL', [at, login.noiseSessionId]);
    if (s.changes !== 1)
      throw new CloudError(401, 'noise_handshake', 'This handshake was already used for a login; redo the handshake and sign in again.');
    await this.insertToken(tx, token, login.deviceId, login.noiseSessionId, at, expiresAt);
    await this.accounts.joinAccount(login.deviceId, login.accountId, login.name, tx);
    this.telemetry.emit({ name: 'messngr.noise.token.issue', deviceId: login.deviceId, noise: true });
    this.telemetry.emit({ name: 'messngr.noise.token.register', deviceId: login.deviceId, sessionId: login.noiseSessionId });
    return { token, expiresAt };
  }

  private insertToken(
    tx: SqlQuery,
    token: string,
    deviceId: string,
    noiseSessionId: string | null,
    createdAt: string,
    expiresAt: string,
  ): Promise<{ changes: number }> {
    return tx.run('INSERT INTO auth_tokens (token_hash, device_id, noise_session_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
      sha256(token),
      deviceId,
      noiseSessionId,
      createdAt,
      expiresAt,
    ]);
  }

  private async checkNoise(input: VerifyInput, deviceId: string): Promise<string> {
    const fail = (err: CloudError): never => {
      this.telemetry.emit({ name: 'messngr.auth.noise.handshake.failure', code: err.code });
      throw err;
    };
    const redo = (why: string) => new CloudError(401, 'noise_handshake', `${why}; redo the Noise handshake and ask for a new code.`);
    if (!input.noise_session_id || !input.noise_signature || !input.last_handshake_at) {
      return fail(redo('noise_session_id, noise_signature and last_handshake_at are required'));
    }
    if (Number.isNaN(Date.parse(input.last_handshake_at)))
      return fail(new CloudError(400, 'invalid_request', 'last_handshake_at must be an ISO 8601 time.'));
    const s = await this.sql.get<NoiseRow>(
      'SELECT id, client_static_key AS "clientStaticKey", client_key_proven AS "clientKeyProven", session_token AS "sessionToken", ' +
        'handshake_hash AS "handshakeHash", expires_at AS "expiresAt", used_at AS "usedAt" FROM noise_sessions WHERE id = ?',
      [input.noise_session_id],
    );
    if (!s) return fail(redo('unknown Noise session'));
    if (s.usedAt) return fail(redo('this Noise session was already used for a login'));
    if (Date.parse(s.expiresAt) <= this.now()) return fail(redo('the Noise session has expired'));
    if (s.clientStaticKey !== deviceId)
      return fail(
        new CloudError(401, 'device_mismatch', 'The challenge was asked for another device key than the one in the Noise handshake.'),
      );
    const expected = Buffer.from(
      noiseSignature(Buffer.from(s.sessionToken, 'base64url'), Buffer.from(s.handshakeHash, 'base64url')),
      'base64url',
    );
    const given = Buffer.from(input.noise_signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return fail(new CloudError(401, 'noise_signature_invalid', 'noise_signature does not match this Noise session.'));
    }
    // NX only states the client key: anyone can claim any node's key there. A token that acts as a device
    // comes only from a handshake that proved its private key (IK; a first contact does NX, then IK).
    if (!s.clientKeyProven) {
      return fail(
        new CloudError(
          401,
          'noise_key_unproven',
          'This handshake did not prove the device key (NX only states it): do an IK handshake with the cloud key learned from NX, and use that session.',
        ),
      );
    }
    return s.id;
  }

  // ---- bearer tokens ----

  /** Checks an Authorization header value; throws a 401 CloudError with a stable code. */
  async authenticate(header: string | undefined | null): Promise<Principal> {
    const m = /^Noise ([A-Za-z0-9_-]{20,100})$/.exec(header ?? '');
    const r = m ? await this.checkToken(m[1]!) : new CloudError(401, 'token_missing', 'Send `Authorization: Noise <token>`.');
    if (r instanceof CloudError) {
      this.telemetry.emit({ name: 'messngr.noise.token.verify.failure', code: r.code });
      throw r;
    }
    this.telemetry.emit({ name: 'messngr.noise.token.verify', deviceId: r.deviceId });
    return r;
  }

  /**
   * The same checks as authenticate() on a bare token, without telemetry: the relay re-asks this for its
   * long-lived sockets (a token revoked by the CLI in another process, or expired, closes the socket).
   */
  async checkToken(token: string): Promise<Principal | CloudError> {
    const row = await this.sql.get<TokenRow>(
      'SELECT device_id AS "deviceId", noise_session_id AS "noiseSessionId", expires_at AS "expiresAt", revoked_at AS "revokedAt" FROM auth_tokens WHERE token_hash = ?',
      [sha256(token)],
    );
    if (!row) return new CloudError(401, 'token_invalid', 'Unknown token; log in again.');
    if (row.revokedAt) return new CloudError(401, 'token_revoked', 'This token was revoked; log in again.');
    if (Date.parse(row.expiresAt) <= this.now()) return new CloudError(401, 'token_expired', 'This token has expired; log in again.');
    if (row.noiseSessionId === null && (await this.isEnabled(NOISE_HANDSHAKE_FLAG))) {
      return new CloudError(
        401,
        'noise_handshake',
        'This token was issued without a Noise handshake, which is now required; redo the handshake and ask for a new code.',
      );
    }
    const accountId = await this.accounts.accountOf(row.deviceId);
    if (accountId === LEGACY_ACCOUNT && !(await this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG))) {
      return new CloudError(401, 'email_required', 'This cloud signs in by email now: log in again with the address of your account.');
    }
    return { deviceId: row.deviceId, accountId, noiseSessionId: row.noiseSessionId, expiresAt: row.expiresAt };
  }

  /** Revokes one token (the caller's own: POST /api/auth/logout). */
  async revokeToken(token: string): Promise<void> {
    await this.sql.run('UPDATE auth_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [this.iso(), sha256(token)]);
  }

  /** Revokes every token of a device (CLI `revoke <device_id>`); returns how many. */
  async revokeDevice(deviceId: string): Promise<number> {
    return (await this.sql.run('UPDATE auth_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL', [this.iso(), deviceId]))
      .changes;
  }
}
