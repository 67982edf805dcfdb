// The node's audit of its cloud's key log (docs/key-transparency.md "What a node checks"). Every directory read
// goes through it before the store takes it:
// 1. every device in the answer has its latest log entry and an inclusion proof, under a head signed by the
//    cloud key this node pinned at login;
// 2. the node computes that head's root itself: it keeps the compact range of the last head it verified and
//    appends the hashes of every entry added since (all of them, everyone's: tags hide whose), so a head that
//    does not extend the kept one, a shorter log, or a log that rewrote an entry cannot pass;
// 3. among the new entries it finds its own devices' (by their tags) and reads them: an entry that gives one of
//    its device ids to another node or another key is a key the cloud made up, shown to someone;
// 4. heads other nodes of the home saw (gossip on the LAN peer link) must be consistent with its own.
// A failed check raises a persisted alarm: the read is not used (the store keeps the last verified directory),
// the Cloud panel says it loudly, and it stays until the person resets it; the checks and the gossip go on. A cloud without the log (404) is
// "unsupported": its directory is used as before, as older clouds were.
import type { Logger } from 'pino';
import { constantTimeEqual } from '../../../shared/crypto/noise/primitives.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import { appendLeaves, type CompactRange, EMPTY_RANGE, rangeRoot } from '../../../shared/transparency/compact-range.js';
import {
  hashOfLeaf,
  headSignedBy,
  type KeyLogHead,
  type KeyLogLeaf,
  leafContentHash,
  leafTag,
  logLeafHash,
} from '../../../shared/transparency/key-log.js';
import { verifyConsistency, verifyInclusion } from '../../../shared/transparency/merkle.js';
import type {
  DirectoryDevice,
  DirectoryEntry,
  KeyLogAlarm,
  KeyLogHashesResponse,
  KeyLogLeavesResponse,
  KeyLogProofsResponse,
  KeyLogView,
} from '../../../shared/wire/relay.js';
import { CloudCallError } from './cloud-api.js';
import type { KeyLogStateFile } from './key-log-state-file.js';

/** The log's routes at one cloud, with this node's token (cloud-api.ts; a fake in unit tests). */
export interface KeyLogApi {
  proofs(deviceIds: string[]): Promise<KeyLogProofsResponse>;
  hashes(from: number, to: number): Promise<KeyLogHashesResponse['entries']>;
  leaves(indices: number[]): Promise<KeyLogLeavesResponse['entries']>;
  consistency(from: number, to: number): Promise<string[]>;
}

/** What one directory read is checked against. */
export interface AuditContext {
  api: KeyLogApi;
  /** base64url of the cloud's static key, pinned at login: the heads must be signed by it. */
  cloudKey: string;
  /** This node's id at the cloud (the `node` of its devices' entries). */
  self: string;
  /** This node's devices as it publishes them: the log's entries for their ids must say exactly these keys. */
  own: readonly DirectoryDevice[];
}

/**
 * 'retry': a directory entry had no proof as it is, and this was not the final read: the directory may have
 * changed between the two reads (a device published, a node removed from the household), so the caller reads the
 * directory again and audits it with `final` set; only then is a missing proof an alarm.
 */
export type AuditOutcome = 'verified' | 'unsupported' | 'alarm' | 'retry';

/** Ids per proofs call, and indices per leaves call (the cloud's limits). */
const PROOF_PAGE = 256;
const LEAVES_PAGE = 256;
/** Entries per hashes call (the cloud's MAX_HASHES_PER_PAGE). */
const HASHES_PAGE = 4096;

class AuditFailure extends Error {
  constructor(
    readonly code: KeyLogAlarm['code'],
    message: string,
  ) {
    super(message);
  }
}

/** A directory entry the proofs did not cover as it is: a race with a publish, or a key outside the log. */
class NotIncluded extends Error {}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 12)}…` : id;
}

export interface KeyLogAuditorDeps {
  state: KeyLogStateFile;
  log: Logger;
  /** An alarm was raised (the view changes; the link shows it as its error too). */
  alarmed(alarm: KeyLogAlarm): void;
  now?: () => Date;
}

export class KeyLogAuditor {
  /** Per cloud key: the last read was checked (verified) or the cloud has no log (unsupported). */
  private readonly status = new Map<string, 'verified' | 'unsupported'>();
  private readonly keptListeners = new Set<(cloudKey: string, head: KeyLogHead) => void>();
  private readonly now: () => Date;

  constructor(private readonly d: KeyLogAuditorDeps) {
    this.now = d.now ?? (() => new Date());
  }

  view(cloudKey: string | null): KeyLogView {
    if (!cloudKey) return { status: 'unchecked', size: null, checked_at: null, alarm: null };
    const alarm = this.d.state.alarm(cloudKey);
    const kept = this.d.state.kept(cloudKey);
    const status = alarm ? 'alarm' : (this.status.get(cloudKey) ?? (kept ? 'verified' : 'unchecked'));
    return { status, size: kept?.head.size ?? null, checked_at: kept?.checkedAt ?? null, alarm };
  }

  /** The head this node verified last at this cloud, to tell the home's other nodes. */
  keptHead(cloudKey: string): KeyLogHead | null {
    return this.d.state.kept(cloudKey)?.head ?? null;
  }

  /** Hears every newly kept head (the peer links pass it on). */
  onKept(fn: (cloudKey: string, head: KeyLogHead) => void): () => void {
    this.keptListeners.add(fn);
    return () => this.keptListeners.delete(fn);
  }

  /** The person chose to trust this cloud's log again: the alarm and the kept head go; the next read starts over. */
  reset(cloudKey: string): void {
    this.d.state.forget(cloudKey);
    this.status.delete(cloudKey);
    this.d.log.warn({ cloud_key: cloudKey }, "the key log's alarm was reset: the cloud's log is trusted again from its next read");
  }

  /**
   * Checks one directory read. 'verified' and 'unsupported': the store may take it. 'alarm': it must not (a
   * check failed now or earlier; the alarm is raised and kept). Errors of the calls themselves (network, 5xx)
   * reject, as the directory read itself would: the caller retries later.
   */
  async audit(ctx: AuditContext, entries: readonly DirectoryEntry[], opts: { final?: boolean } = {}): Promise<AuditOutcome> {
    const final = opts.final ?? true;
    // Under an alarm the node goes on checking and keeping heads (a fork is seen by the other node only once
    // this one has a head past the fork to pass on), but it takes no directory, and the first alarm stays.
    const alarmed = this.d.state.alarm(ctx.cloudKey) !== null;
    try {
      try {
        await this.checkOnce(ctx, entries);
      } catch (err) {
        if (!(err instanceof NotIncluded)) throw err;
        if (!final) return 'retry';
        throw new AuditFailure('key_log_not_included', err.message);
      }
    } catch (err) {
      if (alarmed) {
        if (!(err instanceof AuditFailure || (err instanceof CloudCallError && err.status === 404))) throw err;
        return 'alarm';
      }
      if (err instanceof CloudCallError && err.status === 404) {
        if (this.status.get(ctx.cloudKey) !== 'unsupported')
          this.d.log.warn('the cloud keeps no key log (an older cloud): its directory is used unchecked');
        this.status.set(ctx.cloudKey, 'unsupported');
        return 'unsupported';
      }
      if (err instanceof AuditFailure) {
        this.raise(ctx.cloudKey, err.code, err.message);
        return 'alarm';
      }
      throw err;
    }
    if (alarmed) return 'alarm';
    this.status.set(ctx.cloudKey, 'verified');
    return 'verified';
  }

  /**
   * A head another node of the home saw at the same cloud (gossip): it must be consistent with the one this
   * node kept, by the proof of this node's own cloud. A head not signed by the cloud key is ignored (anyone on
   * the link could send one); a head that the cloud cannot prove consistent is a fork: the cloud shows different
   * logs to different nodes. Never rejects (a call that fails is left for the next head).
   */
  async checkGossip(ctx: Pick<AuditContext, 'api' | 'cloudKey'>, head: KeyLogHead, from: string): Promise<void> {
    const kept = this.d.state.kept(ctx.cloudKey);
    if (!kept || this.d.state.alarm(ctx.cloudKey)) return;
    if (!headSignedBy(fromBase64Url(ctx.cloudKey), head)) {
      this.d.log.warn({ from }, 'a peer passed on a key log head the cloud did not sign: ignored');
      return;
    }
    const ours = kept.head;
    if (head.size === ours.size) {
      if (head.root !== ours.root) this.forked(ctx.cloudKey, from, head, ours);
      return;
    }
    const [first, second] = head.size < ours.size ? [head, ours] : [ours, head];
    let proof: string[];
    try {
      proof = await ctx.api.consistency(first.size, second.size);
    } catch (err) {
      // Our cloud's log is never shorter than a head it signed for anyone: refusing the size is a fork too.
      if (err instanceof CloudCallError && err.status === 400) this.forked(ctx.cloudKey, from, head, ours);
      else this.d.log.debug({ err: (err as Error).message }, 'checking a gossiped key log head failed; left for the next one');
      return;
    }
    let ok = false;
    try {
      ok = verifyConsistency(first.size, second.size, fromBase64Url(first.root), fromBase64Url(second.root), proof.map(fromBase64Url));
    } catch {
      ok = false;
    }
    if (!ok) this.forked(ctx.cloudKey, from, head, ours);
  }

  private forked(cloudKey: string, from: string, theirs: KeyLogHead, ours: KeyLogHead): void {
    this.raise(
      cloudKey,
      'key_log_forked',
      `The cloud showed another node of this home (${shortId(from)}) a key log (size ${theirs.size}) that is not consistent with ` +
        `the one it shows this node (size ${ours.size}): it shows different keys to different people.`,
    );
  }

  private raise(cloudKey: string, code: KeyLogAlarm['code'], message: string): void {
    const alarm: KeyLogAlarm = { code, message, at: this.now().toISOString() };
    this.d.state.raise(cloudKey, alarm);
    this.d.log.error({ cloud_key: cloudKey, code }, `KEY DIRECTORY ALARM: ${message}`);
    this.d.alarmed(alarm);
  }

  private async checkOnce(ctx: AuditContext, entries: readonly DirectoryEntry[]): Promise<void> {
    const cloudKey = fromBase64Url(ctx.cloudKey);
    const ids = [...new Set([...entries.map((e) => e.device_id), ...ctx.own.map((d) => d.device_id)])].sort();
    const pages = ids.length === 0 ? [[ctx.self]] : chunks(ids, PROOF_PAGE);
    const answers: KeyLogProofsResponse[] = [];
    for (const page of pages) answers.push(await ctx.api.proofs(page));
    for (const a of answers) {
      if (!headSignedBy(cloudKey, a.head))
        throw new AuditFailure(
          'key_log_bad_signature',
          `The cloud answered with a key log head (size ${a.head.size}) its key did not sign.`,
        );
    }
    const kept = this.d.state.kept(ctx.cloudKey);
    const heads = [...new Map(answers.map((a) => [`${a.head.size}:${a.head.root}`, a.head])).values()].sort((x, y) => x.size - y.size);
    const target = heads.at(-1)!;
    if (kept && heads[0]!.size < kept.head.size) {
      throw new AuditFailure(
        'key_log_inconsistent',
        `The cloud's key log shrank from ${kept.head.size} entries (seen ${kept.checkedAt}) to ${heads[0]!.size}: it rewrote its history.`,
      );
    }
    const { range, added } = await this.extend(ctx.api, kept?.range ?? EMPTY_RANGE, kept?.head ?? null, heads);
    await this.auditOwn(ctx, added, kept === null);
    for (const a of answers) this.checkIncluded(a, entries);
    const proven = new Set(answers.flatMap((a) => a.entries.map((p) => p.device_id)));
    const missing = entries.find((e) => !proven.has(e.device_id));
    if (missing) {
      throw new NotIncluded(
        `The cloud's directory lists device ${shortId(missing.device_id)}, which its key log does not hold: its key was made up for this node.`,
      );
    }
    const keep = { head: target, range, checkedAt: this.now().toISOString() };
    const advanced = !kept || kept.head.size !== target.size;
    this.d.state.keep(ctx.cloudKey, keep);
    if (advanced) for (const fn of [...this.keptListeners]) fn(ctx.cloudKey, target);
  }

  /**
   * Appends every entry from the kept range's size up to the largest head, checking the root at the kept head
   * and at each head on the way: the cloud must hand out exactly the entries its heads commit to.
   */
  private async extend(
    api: KeyLogApi,
    start: CompactRange,
    keptHead: KeyLogHead | null,
    heads: readonly KeyLogHead[],
  ): Promise<{ range: CompactRange; added: { index: number; tag: Uint8Array; content: Uint8Array }[] }> {
    let range = start;
    const added: { index: number; tag: Uint8Array; content: Uint8Array }[] = [];
    const checkAt = keptHead ? [keptHead, ...heads] : [...heads];
    for (const head of checkAt) {
      while (range.size < head.size) {
        const to = Math.min(head.size, range.size + HASHES_PAGE);
        const page = await api.hashes(range.size, to);
        if (page.length !== to - range.size) {
          throw new AuditFailure(
            'key_log_inconsistent',
            `The cloud would not hand out the key log's entries ${range.size} to ${to} that its head (size ${head.size}) commits to.`,
          );
        }
        const leafHashes = page.map((e, i) => {
          const tag = fromBase64Url(e.tag);
          const content = fromBase64Url(e.content);
          if (tag.length !== 32 || content.length !== 32) {
            throw new AuditFailure('key_log_inconsistent', `The key log's entry ${range.size + i} is malformed.`);
          }
          added.push({ index: range.size + i, tag, content });
          return logLeafHash(tag, content);
        });
        range = appendLeaves(range, leafHashes);
      }
      if (!constantTimeEqual(rangeRoot(range), fromBase64Url(head.root))) {
        const kept = keptHead && head === keptHead;
        throw new AuditFailure(
          'key_log_inconsistent',
          kept
            ? `The entries the cloud hands out do not make the key log head this node kept (size ${head.size}): it rewrote its history.`
            : `The cloud's key log head (size ${head.size}) does not extend the head this node kept: it rewrote its history or forked it.`,
        );
      }
    }
    return { range, added };
  }

  /**
   * Reads the new entries tagged with this node's device ids and checks that each gives that id to this node
   * and its current key. On the first read (no kept head) only each device's latest entry: its earlier keys
   * are history this node cannot tell from its own past publishes.
   */
  private async auditOwn(ctx: AuditContext, added: readonly { index: number; tag: Uint8Array; content: Uint8Array }[], first: boolean) {
    if (ctx.own.length === 0 || added.length === 0) return;
    const mine = new Map<number, { device: DirectoryDevice; content: Uint8Array }>();
    const latest = new Map<string, number>();
    for (const e of added) {
      for (const device of ctx.own) {
        if (!constantTimeEqual(leafTag(device.device_id, e.index), e.tag)) continue;
        mine.set(e.index, { device, content: e.content });
        latest.set(device.device_id, e.index);
      }
    }
    const indices = [...mine.keys()].filter((i) => !first || latest.get(mine.get(i)!.device.device_id) === i);
    const got = new Map<number, KeyLogLeaf>();
    for (const page of chunks(indices, LEAVES_PAGE)) for (const e of await ctx.api.leaves(page)) got.set(e.index, e.leaf);
    for (const index of indices) {
      const { device, content } = mine.get(index)!;
      const leaf = got.get(index);
      const what = `entry ${index} of the key log, for this node's device "${device.name}" (${shortId(device.device_id)})`;
      if (!leaf || leaf.device_id !== device.device_id || !constantTimeEqual(leafContentHash(leaf), content)) {
        throw new AuditFailure(
          'key_log_foreign_key',
          `The cloud will not show ${what} as the log holds it: someone else's change to this device.`,
        );
      }
      if (leaf.op === 'remove') continue;
      if (leaf.node !== ctx.self || leaf.public_key !== device.public_key) {
        throw new AuditFailure(
          'key_log_foreign_key',
          `The cloud's key log gives this node's device "${device.name}" a key this node never published (${what}): ` +
            'others may be sealing messages to someone else.',
        );
      }
    }
  }

  /** Every directory entry must be its device's latest log entry, proven under the answer's head. */
  private checkIncluded(answer: KeyLogProofsResponse, entries: readonly DirectoryEntry[]): void {
    const byId = new Map(answer.entries.map((p) => [p.device_id, p]));
    const root = fromBase64Url(answer.head.root);
    for (const e of entries) {
      const p = byId.get(e.device_id);
      if (!p) continue; // on another page of ids: checked against that page's answer
      const leaf = p.leaf;
      const same = leaf.op === 'publish' && leaf.device_id === e.device_id && leaf.node === e.node && leaf.public_key === e.public_key;
      let proven = false;
      try {
        proven = same && verifyInclusion(hashOfLeaf(leaf, p.index), p.index, answer.head.size, p.proof.map(fromBase64Url), root);
      } catch {
        proven = false;
      }
      if (!proven) {
        throw new NotIncluded(
          `The cloud's directory lists a key for device ${shortId(e.device_id)} that its key log does not hold: it was made up for this node.`,
        );
      }
    }
  }
}
