// Noise sessions, OTP challenges, bearer tokens and the noise_handshake flag: everything /api/auth and the
// `Authorization: Noise <token>` check need. Synchronous (better-sqlite3); each step that changes more than one
// row runs in one transaction. docs/cloud.md has the protocol these functions implement.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { and, eq, isNull, lte } from 'drizzle-orm';
import type { TokenBucket } from '../server/http/token-bucket.js';
import { noiseSignature } from '../shared/cloud/noise-login.js';
import { fingerprintOf } from '../shared/fingerprint.js';
import { Accounts, LEGACY_ACCOUNT } from './accounts.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import { authTokens, featureFlags, noiseSessions, otpChallenges } from './db/schema.js';
import { CloudError } from './errors.js';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy, LoginLockout } from './login-lockout.js';
import { type OtpSender, shownName } from './otp-sender.js';
import { cloudWideBucket, type RateLimit } from './rate-limit.js';
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

export class AuthService {
  /** The two reads of every authenticated call (and of the relay's token re-check), prepared once. */
  private readonly q: {
    token: Statement<[string], TokenRow>;
    flag: Statement<[string], number>;
    challenges: Statement<[], number>;
    sessions: Statement<[], number>;
    liveForDevice: Statement<[string, string], { n: number; firstExpiry: string | null }>;
    sentToEmail: Statement<[string, string], { n: number; first: string | null }>;
    askedBySource: Statement<[string, string], { n: number; first: string | null }>;
  };
  private readonly lockout: LoginLockout;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly db: CloudDb,
    private readonly telemetry: Telemetry,
    private readonly otpSender: OtpSender,
    private readonly timings: AuthTimings,
    private readonly now: () => number = Date.now,
    private readonly limits: AuthLimits = DEFAULT_AUTH_LIMITS,
    private readonly accounts: Accounts = new Accounts(db, now),
  ) {
    const s = sqliteOf(db);
    this.q = {
      token: s.prepare(
        'SELECT device_id AS deviceId, noise_session_id AS noiseSessionId, expires_at AS expiresAt, revoked_at AS revokedAt FROM auth_tokens WHERE token_hash = ?',
      ),
      flag: s.prepare<[string], number>('SELECT enabled FROM feature_flags WHERE name = ?').pluck(),
      challenges: s.prepare<[], number>('SELECT count(*) FROM otp_challenges').pluck(),
      sessions: s.prepare<[], number>('SELECT count(*) FROM noise_sessions').pluck(),
      liveForDevice: s.prepare(
        'SELECT count(*) AS n, min(expires_at) AS firstExpiry FROM otp_challenges WHERE device_id = ? AND used_at IS NULL AND expires_at > ?',
      ),
      // Challenges stay until they expire, used or not, so the rows of the last otpTtlMs are the codes sent in it.
      sentToEmail: s.prepare(
        'SELECT count(*) AS n, min(created_at) AS first FROM otp_challenges WHERE email = ? AND created_at > ? AND used_at IS NULL',
      ),
      askedBySource: s.prepare(
        'SELECT count(*) AS n, min(created_at) AS first FROM otp_challenges WHERE source = ? AND created_at > ? AND used_at IS NULL',
      ),
    };
    this.lockout = new LoginLockout(db, limits.lockout, now);
    this.bucket = cloudWideBucket(limits.global, now());
  }

  // ---- limits and housekeeping ----

  /** The cloud-wide rate limit of every login step (challenge, verify, handshake); throws a 429. */
  admit(): void {
    const wait = this.bucket.take(this.now());
    if (wait > 0) throw tooMany('The cloud is receiving too many login requests', wait);
  }

  /** Deletes expired challenges and handshakes and forgotten failure counts. Cheap (indexed); called often. */
  prune(): { challenges: number; noiseSessions: number; failures: number } {
    const now = this.iso();
    return {
      challenges: this.db.delete(otpChallenges).where(lte(otpChallenges.expiresAt, now)).run().changes,
      noiseSessions: this.db.delete(noiseSessions).where(lte(noiseSessions.expiresAt, now)).run().changes,
      failures: this.lockout.prune(),
    };
  }

  /** Row counts of the login tables (tests and /metrics-style checks). */
  loginRows(): { challenges: number; noiseSessions: number; failures: number } {
    return { challenges: this.q.challenges.get()!, noiseSessions: this.q.sessions.get()!, failures: this.lockout.rows() };
  }

  /** Throws a 429 when this device id or source address is locked out after too many failures. */
  private checkLockout(deviceId: string, address: string): void {
    const d = this.lockout.lockedForMs('device', deviceId);
    if (d > 0) throw tooMany('Too many wrong codes for this device', d);
    const a = this.lockout.lockedForMs('address', address);
    if (a > 0) throw tooMany('Too many failed logins from this address', a);
  }

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  // ---- feature flags ----

  isEnabled(flag: FeatureFlag): boolean {
    // Read per call (not cached): the CLI flips flags from another process under a running cloud.
    return this.q.flag.get(flag) === 1;
  }

  setFlag(flag: FeatureFlag, enabled: boolean): void {
    const updatedAt = this.iso();
    this.db
      .insert(featureFlags)
      .values({ name: flag, enabled, updatedAt })
      .onConflictDoUpdate({ target: featureFlags.name, set: { enabled, updatedAt } })
      .run();
  }

  // ---- Noise sessions ----

  /** Draws a session id and secret for a handshake still in flight (nothing stored yet). */
  reserveNoiseSession(): { id: string; sessionToken: Uint8Array; expiresAt: string } {
    return { id: randomUUID(), sessionToken: new Uint8Array(randomBytes(32)), expiresAt: this.iso(this.timings.noiseSessionTtlMs) };
  }

  /** Stores the Session once the handshake finished (with its final handshake hash). */
  storeNoiseSession(
    r: { id: string; sessionToken: Uint8Array; expiresAt: string },
    s: { pattern: 'NX' | 'IK'; handshakeHash: Uint8Array; clientStaticKey: Uint8Array; proven: boolean },
  ): void {
    this.db.delete(noiseSessions).where(lte(noiseSessions.expiresAt, this.iso())).run();
    if (this.q.sessions.get()! >= this.limits.maxNoiseSessions) {
      throw tooMany('Too many unfinished logins on this cloud', this.timings.noiseSessionTtlMs / 10);
    }
    this.db
      .insert(noiseSessions)
      .values({
        id: r.id,
        pattern: s.pattern,
        handshakeHash: Buffer.from(s.handshakeHash).toString('base64url'),
        clientStaticKey: Buffer.from(s.clientStaticKey).toString('base64url'),
        clientKeyProven: s.proven,
        sessionToken: Buffer.from(r.sessionToken).toString('base64url'),
        createdAt: this.iso(),
        expiresAt: r.expiresAt,
      })
      .run();
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
    if (email === null && !this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG)) {
      throw new CloudError(400, 'email_required', 'This cloud signs in by email: give the address of your account.');
    }
    const source = sourceAddressKey(sourceAddress);
    // No code for a locked device id, address or account: it could not be used, and each one is a message to the owner.
    this.checkLockout(deviceId, source);
    if (email !== null) {
      const e = this.lockout.lockedForMs('email', email);
      if (e > 0) throw tooMany('Too many wrong codes for this account', e);
    }
    this.limitSends(email, source);
    const live = this.q.liveForDevice.get(deviceId, this.iso())!;
    if (live.n >= this.limits.maxLiveChallengesPerDevice) {
      throw tooMany(`${live.n} codes for this device are still waiting; use one of them`, Date.parse(live.firstExpiry!) - this.now());
    }
    this.db.delete(otpChallenges).where(lte(otpChallenges.expiresAt, this.iso())).run();
    if (this.q.challenges.get()! >= this.limits.maxChallenges) {
      throw tooMany('Too many codes are waiting on this cloud', this.timings.otpTtlMs / 10);
    }
    const challengeId = randomUUID();
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = this.iso(this.timings.otpTtlMs);
    this.db
      .insert(otpChallenges)
      .values({
        id: challengeId,
        deviceId,
        codeHash: sha256(`${challengeId}:${code}`),
        email,
        source,
        name: shownName(name) ?? null,
        createdAt: this.iso(),
        expiresAt,
      })
      .run();
    try {
      await this.otpSender.send({ challengeId, deviceId, email, fingerprint: fingerprintOf(key), name: shownName(name), code, expiresAt });
    } catch (err) {
      // A code that never left cannot be used: forget it (it must not count against the address's limits either).
      this.db.delete(otpChallenges).where(eq(otpChallenges.id, challengeId)).run();
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
  private limitSends(email: string | null, source: string): void {
    const since = this.iso(-this.timings.otpTtlMs);
    const waitFrom = (first: string | null) => Date.parse(first ?? this.iso()) + this.timings.otpTtlMs - this.now();
    if (email !== null) {
      const e = this.q.sentToEmail.get(email, since)!;
      if (e.n >= this.limits.maxCodesPerEmail)
        throw tooMany(`${e.n} codes sent to this address lately are still unused; use one of them`, waitFrom(e.first));
    }
    const a = this.q.askedBySource.get(source, since)!;
    if (a.n >= this.limits.maxCodesPerSource)
      throw tooMany(`${a.n} codes asked for from your network address lately are still unused`, waitFrom(a.first));
  }

  /**
   * sourceAddress: the caller's IP address. Failures count per address (any reason) and per device id (wrong
   * codes only: everything else fails before the code is compared, so it cannot lock someone else's device id);
   * a locked device id or address is refused before the code is compared, so a guess tells nothing.
   */
  verify(input: VerifyInput, sourceAddress?: string): { token: string; expiresAt: string; noiseSessionId: string | null } {
    const address = sourceAddressKey(sourceAddress);
    try {
      return this.verifyChallenge(input, address);
    } catch (err) {
      if (err instanceof CloudError && err.status !== 429) {
        const lockMs = this.lockout.fail('address', address);
        if (lockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'address', lockMs });
      }
      throw err;
    }
  }

  private verifyChallenge(input: VerifyInput, address: string): { token: string; expiresAt: string; noiseSessionId: string | null } {
    const challenge = this.db.select().from(otpChallenges).where(eq(otpChallenges.id, input.challenge_id)).get();
    if (!challenge) throw new CloudError(404, 'challenge_not_found', 'No such challenge; ask for a new code.');
    this.checkLockout(challenge.deviceId, address);
    if (challenge.email !== null) {
      const e = this.lockout.lockedForMs('email', challenge.email);
      if (e > 0) throw tooMany('Too many wrong codes for this account', e);
    } else if (!this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG)) {
      throw new CloudError(400, 'email_required', 'This cloud signs in by email now: ask for a new code with the address of your account.');
    }
    if (challenge.usedAt) throw new CloudError(409, 'otp_used', 'This code was already used; ask for a new one.');
    if (Date.parse(challenge.expiresAt) <= this.now())
      throw new CloudError(401, 'otp_expired', 'This code has expired; ask for a new one.');
    if (challenge.attempts >= this.timings.otpMaxAttempts)
      throw new CloudError(429, 'otp_attempts_exceeded', 'Too many wrong codes; ask for a new one.');

    const hasNoise = input.noise_session_id !== undefined || input.noise_signature !== undefined || input.last_handshake_at !== undefined;
    const required = this.isEnabled(NOISE_HANDSHAKE_FLAG);
    let noiseSessionId: string | null = null;
    if (required || hasNoise) noiseSessionId = this.checkNoise(input, challenge.deviceId);

    const given = sha256(`${challenge.id}:${input.code}`);
    if (!timingSafeEqual(Buffer.from(given), Buffer.from(challenge.codeHash))) {
      this.db
        .update(otpChallenges)
        .set({ attempts: challenge.attempts + 1 })
        .where(eq(otpChallenges.id, challenge.id))
        .run();
      const lockMs = this.lockout.fail('device', challenge.deviceId);
      if (lockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'device', lockMs });
      // Per account too: fresh node keys and source addresses are free, so a guesser of one address's codes is
      // stopped here (that lock also delays its owner: the price of a bounded number of guesses).
      if (challenge.email !== null) {
        const emailLockMs = this.lockout.fail('email', challenge.email);
        if (emailLockMs > 0) this.telemetry.emit({ name: 'messngr.auth.lockout', code: 'email', lockMs: emailLockMs });
      }
      if (noiseSessionId) this.telemetry.emit({ name: 'messngr.auth.noise.handshake.failure', code: 'otp_invalid' });
      throw new CloudError(401, 'otp_invalid', 'Wrong code.');
    }

    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const usedAt = this.iso();
    this.db.transaction((tx) => {
      // The WHERE used_at IS NULL makes a concurrent second verify of the same code lose.
      const r = tx
        .update(otpChallenges)
        .set({ usedAt })
        .where(and(eq(otpChallenges.id, challenge.id), isNull(otpChallenges.usedAt)))
        .run();
      if (r.changes !== 1) throw new CloudError(409, 'otp_used', 'This code was already used; ask for a new one.');
      if (noiseSessionId) {
        const s = tx
          .update(noiseSessions)
          .set({ usedAt })
          .where(and(eq(noiseSessions.id, noiseSessionId), isNull(noiseSessions.usedAt)))
          .run();
        if (s.changes !== 1)
          throw new CloudError(
            401,
            'noise_handshake',
            'This handshake was already used for a login; redo the handshake and ask for a new code.',
          );
      }
      tx.insert(authTokens)
        .values({ tokenHash: sha256(token), deviceId: challenge.deviceId, noiseSessionId, createdAt: usedAt, expiresAt })
        .run();
      this.accounts.join(challenge.deviceId, challenge.email, challenge.name ?? null);
    });
    this.lockout.clear('device', challenge.deviceId);
    if (challenge.email !== null) this.lockout.clear('email', challenge.email);
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
  refresh(
    token: string,
    proof: { noise_session_id?: string | undefined; noise_signature?: string | undefined; last_handshake_at?: string | undefined },
  ): { token: string; expiresAt: string; noiseSessionId: string } {
    const principal = this.authenticate(`Noise ${token}`);
    const noiseSessionId = this.checkNoise({ challenge_id: '', code: '', ...proof }, principal.deviceId);
    const fresh = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const now = this.iso();
    const graceEnd = this.iso(REFRESH_GRACE_MS);
    this.db.transaction((tx) => {
      const s = tx
        .update(noiseSessions)
        .set({ usedAt: now })
        .where(and(eq(noiseSessions.id, noiseSessionId), isNull(noiseSessions.usedAt)))
        .run();
      if (s.changes !== 1) throw new CloudError(401, 'noise_handshake', 'This handshake was already used; redo the handshake.');
      const old = tx
        .select()
        .from(authTokens)
        .where(eq(authTokens.tokenHash, sha256(token)))
        .get()!;
      if (old.expiresAt > graceEnd) tx.update(authTokens).set({ expiresAt: graceEnd }).where(eq(authTokens.tokenHash, old.tokenHash)).run();
      tx.insert(authTokens)
        .values({ tokenHash: sha256(fresh), deviceId: principal.deviceId, noiseSessionId, createdAt: now, expiresAt })
        .run();
    });
    this.telemetry.emit({ name: 'messngr.noise.token.issue', deviceId: principal.deviceId, noise: true });
    this.telemetry.emit({ name: 'messngr.noise.token.register', deviceId: principal.deviceId, sessionId: noiseSessionId });
    return { token: fresh, expiresAt, noiseSessionId };
  }

  /** The Noise proof of a login finished elsewhere (external-login.ts): the proven session's id, or a 401. */
  proveNoise(input: Omit<VerifyInput, 'challenge_id' | 'code'>, deviceId: string): string {
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
  issueApproved(
    tx: Parameters<Parameters<CloudDb['transaction']>[0]>[0],
    login: { deviceId: string; noiseSessionId: string; accountId: string; name: string | null },
  ): { token: string; expiresAt: string } {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.timings.tokenTtlMs);
    const at = this.iso();
    const s = tx
      .update(noiseSessions)
      .set({ usedAt: at })
      .where(and(eq(noiseSessions.id, login.noiseSessionId), isNull(noiseSessions.usedAt)))
      .run();
    if (s.changes !== 1)
      throw new CloudError(401, 'noise_handshake', 'This handshake was already used for a login; redo the handshake and sign in again.');
    tx.insert(authTokens)
      .values({ tokenHash: sha256(token), deviceId: login.deviceId, noiseSessionId: login.noiseSessionId, createdAt: at, expiresAt })
      .run();
    this.accounts.joinAccount(login.deviceId, login.accountId, login.name);
    this.telemetry.emit({ name: 'messngr.noise.token.issue', deviceId: login.deviceId, noise: true });
    this.telemetry.emit({ name: 'messngr.noise.token.register', deviceId: login.deviceId, sessionId: login.noiseSessionId });
    return { token, expiresAt };
  }

  private checkNoise(input: VerifyInput, deviceId: string): string {
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
    const s = this.db.select().from(noiseSessions).where(eq(noiseSessions.id, input.noise_session_id)).get();
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
  authenticate(header: string | undefined | null): Principal {
    const m = /^Noise ([A-Za-z0-9_-]{20,100})$/.exec(header ?? '');
    const r = m ? this.checkToken(m[1]!) : new CloudError(401, 'token_missing', 'Send `Authorization: Noise <token>`.');
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
  checkToken(token: string): Principal | CloudError {
    const row = this.q.token.get(sha256(token));
    if (!row) return new CloudError(401, 'token_invalid', 'Unknown token; log in again.');
    if (row.revokedAt) return new CloudError(401, 'token_revoked', 'This token was revoked; log in again.');
    if (Date.parse(row.expiresAt) <= this.now()) return new CloudError(401, 'token_expired', 'This token has expired; log in again.');
    if (row.noiseSessionId === null && this.isEnabled(NOISE_HANDSHAKE_FLAG)) {
      return new CloudError(
        401,
        'noise_handshake',
        'This token was issued without a Noise handshake, which is now required; redo the handshake and ask for a new code.',
      );
    }
    const accountId = this.accounts.accountOf(row.deviceId);
    if (accountId === LEGACY_ACCOUNT && !this.isEnabled(LEGACY_DEVICE_LOGIN_FLAG)) {
      return new CloudError(401, 'email_required', 'This cloud signs in by email now: log in again with the address of your account.');
    }
    return { deviceId: row.deviceId, accountId, noiseSessionId: row.noiseSessionId, expiresAt: row.expiresAt };
  }

  /** Revokes one token (the caller's own: POST /api/auth/logout). */
  revokeToken(token: string): void {
    this.db
      .update(authTokens)
      .set({ revokedAt: this.iso() })
      .where(and(eq(authTokens.tokenHash, sha256(token)), isNull(authTokens.revokedAt)))
      .run();
  }

  /** Revokes every token of a device (CLI `revoke <device_id>`); returns how many. */
  revokeDevice(deviceId: string): number {
    return this.db
      .update(authTokens)
      .set({ revokedAt: this.iso() })
      .where(and(eq(authTokens.deviceId, deviceId), isNull(authTokens.revokedAt)))
      .run().changes;
  }
}
