// The node's prekey directory for the devices it serves (docs/e2ee.md "Prekeys and the directory"): what a
// device publishes is checked against its identity key before a row is written (shared/ratchet/
// prekey-publish-check.ts), a claim hands each one-time prekey out once, and a share of them can move to the
// cloud (cloud-prekeys-port.ts) without ever being at both places. Routes and the peer link call this; it
// knows nothing of HTTP and throws PrekeyError.
import { fromBase64Url } from '../../../shared/encoding.js';
import { checkPublishRequest } from '../../../shared/ratchet/prekey-publish-check.js';
import {
  MAX_ONE_TIME_PER_PUBLISH,
  MAX_ONE_TIME_STORED,
  type PrekeyBundle,
  type PrekeyStatus,
  type PublishPrekeysRequest,
} from '../../../shared/wire/prekeys.js';
import type { PrekeyRepository } from '../db/prekey-repository.js';
import { PrekeyError } from './prekey-error.js';

/** The one-time prekeys a cloud now holds, by id (takeForCloud's answer itself will do). */
export interface MovedPrekeys {
  readonly one_time_prekeys: readonly { readonly id: number }[];
  readonly kem_one_time_prekeys: readonly { readonly id: number }[];
}

function identityKeyBytes(identityKeyB64url: string): Uint8Array {
  try {
    return fromBase64Url(identityKeyB64url);
  } catch {
    return new Uint8Array(0);
  }
}

export class PrekeyStore {
  constructor(
    private readonly repo: PrekeyRepository,
    private readonly maxOneTimeStored: number = MAX_ONE_TIME_STORED,
  ) {}

  /**
   * Stores what the device published, all of it or nothing: every signature must verify under
   * `identityKeyB64url` (the device's key in the directory, never one from the request). Throws PrekeyError
   * invalid_prekey, prekey_id_taken or prekey_limit. The same keys again are accepted (a retry).
   */
  publish(deviceId: string, identityKeyB64url: string, request: PublishPrekeysRequest, now: number = Date.now()): PrekeyStatus {
    const checked = checkPublishRequest(identityKeyBytes(identityKeyB64url), request);
    if (!checked.ok) throw new PrekeyError('invalid_prekey', checked.reason);
    this.repo.publish(deviceId, checked.request, now, this.maxOneTimeStored);
    return this.status(deviceId);
  }

  /**
   * The device is back under another identity key: what it published under the old one could not start a
   * session (its signatures are the old key's), so it is dropped, and it publishes afresh.
   */
  forgetDevice(deviceId: string): void {
    this.repo.forgetDevice(deviceId);
  }

  status(deviceId: string): PrekeyStatus {
    const c = this.repo.counts(deviceId);
    return {
      signed_prekey_id: c.signed?.id ?? null,
      signed_prekey_at: c.signed ? new Date(c.signed.publishedAt).toISOString() : null,
      kem_last_resort_id: c.lastResort?.id ?? null,
      one_time_left: c.oneTimeStored,
      kem_one_time_left: c.kemOneTimeStored,
    };
  }

  /**
   * A bundle for one initiator, its one-time prekeys gone from here once this returns (one commit).
   * `identityKeyB64url`: the device's identity key from the directory. 'no_prekeys': nothing published yet.
   */
  claim(deviceId: string, identityKeyB64url: string, now: number = Date.now()): PrekeyBundle | 'no_prekeys' {
    const c = this.repo.claim(deviceId, now);
    if (!c) return 'no_prekeys';
    return {
      identity_key: identityKeyB64url,
      signed_prekey: { id: c.signed.id, public: c.signed.public, signature: c.signed.signature },
      kem_prekey: { id: c.kem.id, public: c.kem.public, signature: c.kem.signature, last_resort: c.kem.lastResort },
      ...(c.oneTime ? { one_time_prekey: { id: c.oneTime.id, public: c.oneTime.public } } : {}),
    };
  }

  /**
   * A publish for the cloud: the current signed and last-resort prekeys and up to `count` (at most
   * MAX_ONE_TIME_PER_PUBLISH) one-time prekeys of each kind, now 'moving' (never claimed here). Keys left moving
   * by an earlier call are in it again. Then confirmMoved() once the cloud holds them, or revertMoving() when it
   * surely did not take them. undefined: the device has published nothing here.
   */
  takeForCloud(deviceId: string, count: number): PublishPrekeysRequest | undefined {
    const c = this.repo.counts(deviceId);
    if (!c.signed || !c.lastResort) return undefined;
    const moving = this.repo.takeMoving(deviceId, Math.min(count, MAX_ONE_TIME_PER_PUBLISH));
    return {
      signed_prekey: { id: c.signed.id, public: c.signed.public, signature: c.signed.signature },
      kem_last_resort: { ...c.lastResort, last_resort: true },
      one_time_prekeys: moving.oneTime,
      kem_one_time_prekeys: moving.kemOneTime.map((k) => ({ ...k, last_resort: false })),
    };
  }

  /** The cloud holds these: they leave this store for good (their ids are never stored here again). */
  confirmMoved(deviceId: string, moved: MovedPrekeys, now: number = Date.now()): void {
    this.repo.confirmMoved(
      deviceId,
      { oneTime: moved.one_time_prekeys.map((k) => k.id), kemOneTime: moved.kem_one_time_prekeys.map((k) => k.id) },
      now,
    );
  }

  /**
   * Every moving one-time prekey of the device back to 'home', claimable here again; returns how many. Only for
   * a cloud call the cloud surely refused: after a timeout the cloud may hold them, so leave them moving and
   * send them again (takeForCloud) instead, or a key could be handed out at both places.
   */
  revertMoving(deviceId: string): number {
    return this.repo.revertMoving(deviceId);
  }
}
