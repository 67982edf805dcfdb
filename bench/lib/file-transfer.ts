// The client side of bench/files.ts: a file's bytes uploaded as a create + appends of N MiB at an offset (tus
// against a node, the same shape against the bare server) and downloaded as one streamed GET that is counted and
// hashed, never held; plus a sampler of the servers' RSS. One node:http keep-alive agent per server, so both
// cases pay the same client costs.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { sleep } from './load.js';
import { vmRss } from './procs.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request with an optional in-memory body; the reply's body is read as text (they are all small). */
export function call(
  agent: http.Agent,
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path,
        method,
        headers: { ...headers, 'content-length': String(body?.byteLength ?? 0) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What differs between the bare server and a node: where an upload is made and how each request is signed. */
export interface FileEndpoint {
  base: string;
  agent: http.Agent;
  /** Makes the upload of `size` bytes; resolves with the path its appends and the download go to. */
  create(size: number): Promise<string>;
  appendHeaders(path: string, offset: number, bodySha256Hex: string): Record<string, string>;
  downloadHeaders(path: string): Record<string, string>;
}

export interface Piece {
  bytes: Uint8Array;
  sha256: string;
}

/** Splits `data` into requests of `pieceBytes`, each with its digest (taken now, before anything is timed). */
export function piecesOf(data: Uint8Array, pieceBytes: number): Piece[] {
  const out: Piece[] = [];
  for (let at = 0; at < data.length; at += pieceBytes) {
    const bytes = data.subarray(at, Math.min(data.length, at + pieceBytes));
    out.push({ bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return out;
}

/** Create + one append per piece, in order; resolves with the upload's path. */
export async function upload(ep: FileEndpoint, pieces: Piece[], size: number): Promise<string> {
  const path = await ep.create(size);
  let offset = 0;
  for (const p of pieces) {
    const r = await call(ep.agent, ep.base, 'PATCH', path, ep.appendHeaders(path, offset, p.sha256), p.bytes);
    if (r.status !== 204) throw new Error(`PATCH ${path} at ${offset}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    offset += p.bytes.length;
    if (Number(r.headers['upload-offset']) !== offset)
      throw new Error(`PATCH ${path}: the server says offset ${r.headers['upload-offset']}, expected ${offset}`);
  }
  return path;
}

/**
 * Streams `path` down, counting and hashing what arrives. While the server answers 409 (a node that does not have
 * the whole blob yet) it asks again every `retryMs`; `waitedMs` is the time
 * until the request that got it began.
 */
export async function download(
  ep: FileEndpoint,
  path: string,
  retryMs = 200,
): Promise<{ bytes: number; sha256: string; waitedMs: number; refusals: number }> {
  const url = new URL(ep.base);
  const t0 = performance.now();
  let refusals = 0;
  for (;;) {
    const waitedMs = performance.now() - t0;
    const got = await new Promise<{ status: number; bytes: number; sha256: string; text: string }>((resolve, reject) => {
      const req = http.request(
        { agent: ep.agent, host: url.hostname, port: url.port, path, method: 'GET', headers: ep.downloadHeaders(path) },
        (res) => {
          const status = res.statusCode ?? 0;
          const hash = createHash('sha256');
          let bytes = 0;
          const small: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (status === 200) {
              hash.update(c);
              bytes += c.length;
            } else small.push(c);
          });
          res.on('end', () => resolve({ status, bytes, sha256: hash.digest('hex'), text: Buffer.concat(small).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    if (got.status === 200) return { bytes: got.bytes, sha256: got.sha256, waitedMs, refusals };
    if (got.status !== 409) throw new Error(`GET ${path}: HTTP ${got.status} ${got.text.slice(0, 300)}`);
    refusals++;
    await sleep(retryMs);
  }
}

/** The mean VmRSS of a process over `n` readings `everyMs` apart (a figure steadier than one reading). */
export async function meanRss(pid: number, n = 5, everyMs = 50): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += vmRss(pid);
    if (i < n - 1) await sleep(everyMs);
  }
  return sum / n;
}

/** Samples VmRSS of some processes every `everyMs`: a baseline right before, the maximum while it runs. */
export class RssSampler {
  readonly baseline = new Map<string, number>();
  readonly max = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: Map<string, number>,
    private readonly everyMs = 50,
  ) {}

  /** Baseline = the mean of a few readings over ~200 ms (nothing is transferring yet), then sampling starts. */
  async start(): Promise<void> {
    const base = await Promise.all([...this.pids].map(async ([name, pid]) => [name, await meanRss(pid, 5, this.everyMs)] as const));
    for (const [name, rss] of base) {
      this.baseline.set(name, rss);
      this.max.set(name, rss);
    }
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  private sample(): void {
    for (const [name, pid] of this.pids) {
      try {
        const rss = vmRss(pid);
        if (rss > this.max.get(name)!) this.max.set(name, rss);
      } catch {
        /* the process is gone: the bench will say so */
      }
    }
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}
