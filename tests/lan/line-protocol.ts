// The tiny protocol between the LAN test bed and the processes it runs inside its namespaces (host-node.ts,
// phone.ts): the child prints `LANBED {"ready": {...}}` once, then answers each stdin line `{"id", "op", ...}`
// with `LANBED {"id", "ok": true, "result"}` or `LANBED {"id", "ok": false, "error"}`. Only lines starting with
// the marker count, so stray output (a library's warning) cannot be mistaken for an answer.
import { createInterface } from 'node:readline';

export const MARK = 'LANBED ';

export interface Command {
  id: number;
  op: string;
  [k: string]: unknown;
}

export function emit(obj: unknown): void {
  process.stdout.write(`${MARK}${JSON.stringify(obj)}\n`);
}

/**
 * Serves commands until `stop` (or until stdin closes: the test process is gone), then runs `shutdown` and
 * exits. Commands run one after another, in the order they came.
 */
export function serveCommands(handle: (cmd: Command) => Promise<unknown>, shutdown: () => Promise<void>): void {
  const rl = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  let ending = false;
  const end = async (id?: number) => {
    if (ending) return;
    ending = true;
    rl.close();
    // A node that cannot stop within this long (a wedged socket) must still not outlive the test bed.
    setTimeout(() => process.exit(3), 20_000).unref();
    try {
      await shutdown();
    } catch (err) {
      process.stderr.write(`shutdown failed: ${(err as Error).stack}\n`);
    }
    if (id !== undefined) emit({ id, ok: true, result: null });
    // Let stdout drain; the child is a test fixture, its job ends here.
    process.stdout.write('', () => process.exit(0));
  };
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let cmd: Command;
    try {
      cmd = JSON.parse(line) as Command;
    } catch {
      emit({ id: -1, ok: false, error: `not JSON: ${line.slice(0, 200)}` });
      return;
    }
    chain = chain.then(async () => {
      if (cmd.op === 'stop') return end(cmd.id);
      try {
        emit({ id: cmd.id, ok: true, result: (await handle(cmd)) ?? null });
      } catch (err) {
        emit({ id: cmd.id, ok: false, error: (err as Error).stack ?? String(err) });
      }
    });
  });
  rl.on('close', () => {
    void chain.then(() => end());
  });
}

/** `--flag value` pairs (and bare `--flag`) from argv. */
export function parseFlags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(a.slice(2), next);
      i++;
    } else out.set(a.slice(2), 'true');
  }
  return out;
}
