// Why a fetch to a peer failed, in a few words a person (or a diagnostics panel) can act on.

/** The socket error code when there is one (ECONNREFUSED, EHOSTUNREACH, ...), "timeout after N s" on a timeout. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timeout after ${timeoutMs / 1000} s`;
  if (e?.cause?.code) return e.cause.code;
  if (e?.cause?.message) return e.cause.message;
  return e?.message ?? String(err);
}
