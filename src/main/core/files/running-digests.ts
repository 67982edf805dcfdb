// A blob's SHA-256 taken from its bytes as they are written, in order, so completing it needs no second pass over
// the whole file on disk (which cost a 256 MiB upload about half a second of the node's CPU, with the last
// request waiting for it). Kept in memory only: a digest is used only when it provably covers the very bytes on
// disk (every write from 0 went through here, each one starting where the last one ended, none failed); in any
// other case (a restart, a failed write, a write that starts elsewhere) it is dropped and the store reads the file
// again, as before.
import { createHash, type Hash } from 'node:crypto';
import { pipeline as pipelineCb, type Readable, Transform } from 'node:stream';
import { FileStore } from '@tus/file-store';

export class RunningDigests {
  private readonly byBlob = new Map<string, { offset: number; hash: Hash }>();

  /**
   * The hash to feed the bytes about to be written at `offset`: a fresh one at 0, else a copy of the running one
   * if it ends exactly there (the original stays until the write is known to have succeeded). Undefined: there is
   * no digest that reaches `offset`, and this blob will be hashed from disk on completion.
   */
  begin(id: string, offset: number): Hash | undefined {
    if (offset === 0) return createHash('sha256');
    const run = this.byBlob.get(id);
    if (run?.offset === offset) return run.hash.copy();
    this.byBlob.delete(id);
    return undefined;
  }

  /** A write that `begin` started succeeded: the blob's first `offset` bytes hash to `hash` so far. */
  advance(id: string, offset: number, hash: Hash): void {
    this.byBlob.set(id, { offset, hash });
  }

  /** A write failed (or the blob went): what is on disk may no longer be what was hashed. */
  drop(id: string): void {
    this.byBlob.delete(id);
  }

  /** The hex digest of the whole blob if the running one covers exactly `size` bytes (then forgotten). */
  take(id: string, size: number): string | undefined {
    const run = this.byBlob.get(id);
    this.byBlob.delete(id);
    return run?.offset === size ? run.hash.digest('hex') : undefined;
  }
}

/** tus's file store, whose writes (every device upload's PATCH) also feed the blob's running digest. */
export class DigestingFileStore extends FileStore {
  constructor(
    directory: string,
    private readonly digests: RunningDigests,
  ) {
    super({ directory });
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const hash = this.digests.begin(id, offset);
    if (!hash) return super.write(readable, id, offset);
    let hashed = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        hashed += chunk.length;
        done(null, chunk);
      },
    });
    // An error on either side reaches the other: the source's destroys the tap (so super.write fails), the
    // file's destroys the tap and the source.
    pipelineCb(readable, tap, () => undefined);
    try {
      const end = await super.write(tap, id, offset);
      if (end === offset + hashed) this.digests.advance(id, end, hash);
      else this.digests.drop(id);
      return end;
    } catch (err) {
      this.digests.drop(id);
      throw err;
    }
  }
}

// The blob store makes the directory (synchronously, before this store exists). FileStore's own check, run from
// its constructor, is an mkdir in the background that throws from its callback: one still on its way when a node
// stops and its data dir is removed is an uncaught exception. It is private in FileStore's types, hence this.
Object.defineProperty(DigestingFileStore.prototype, 'checkOrCreateDirectory', { value: () => {} });
