// The typed HTTP client of the node's (and the cloud's) endpoints: `call(NODE_ENDPOINTS.renameNode, { body })`
// takes its body, path parameters and result types from the endpoint's schemas, so a page cannot send or read
// a shape the server does not have. A refusal comes back as an ApiFailure with the server's stable `error` code.
import { type BodyOf, type Endpoint, type ParamsOf, pathWith, type QueryOf, type ResponseOf } from '../wire/endpoint.js';

export class ApiFailure extends Error {
  constructor(
    /** 0: no answer at all (the server is down, or the network is). */
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

type Optional<K extends string, V> = [V] extends [undefined] ? { [P in K]?: undefined } : { [P in K]: V };
type NoParams<E extends Endpoint> = keyof ParamsOf<E> extends never ? true : false;

/** What a call needs besides the endpoint: only the parts the endpoint has are asked for (and required). */
export type CallArgs<E extends Endpoint> = Optional<'body', BodyOf<E>> &
  (NoParams<E> extends true ? { params?: undefined } : { params: ParamsOf<E> }) & { query?: QueryOf<E> };

type Rest<E extends Endpoint> =
  NoParams<E> extends true ? (BodyOf<E> extends undefined ? [args?: CallArgs<E>] : [args: CallArgs<E>]) : [args: CallArgs<E>];

export interface ApiClientOptions {
  /** Prepended to every path ('' on the page the server itself serves). */
  baseUrl?: string;
  /** Headers for each request (e.g. the admin token). */
  headers?: () => Record<string, string>;
  /** Says a refusal in words of the page (e.g. an expired admin token); return undefined to keep the server's. */
  describe?: (status: number, code: string, message: string) => string | undefined;
  fetch?: typeof fetch;
}

export class ApiClient {
  constructor(private readonly opts: ApiClientOptions = {}) {}

  async call<E extends Endpoint>(ep: E, ...rest: Rest<E>): Promise<ResponseOf<E>> {
    const args = (rest[0] ?? {}) as { body?: unknown; params?: Record<string, string>; query?: Record<string, unknown> };
    let url = `${this.opts.baseUrl ?? ''}${pathWith(ep.path, args.params)}`;
    if (args.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(args.query)) if (v !== undefined) q.set(k, String(v));
      if ([...q].length) url += `?${q}`;
    }
    const hasBody = args.body !== undefined;
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method: ep.method.toUpperCase(),
        headers: { ...(this.opts.headers?.() ?? {}), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(hasBody ? { body: JSON.stringify(args.body) } : {}),
        cache: 'no-store',
      });
    } catch {
      throw new ApiFailure(0, 'network', 'Cannot reach the Salita node. Is it still running?');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const fields: { error?: unknown; message?: unknown } = typeof json === 'object' && json !== null ? json : {};
      const code = typeof fields.error === 'string' ? fields.error : `http_${res.status}`;
      const said = typeof fields.message === 'string' ? fields.message : `The node answered with HTTP ${res.status}.`;
      throw new ApiFailure(res.status, code, this.opts.describe?.(res.status, code, said) ?? said, json);
    }
    return json as ResponseOf<E>;
  }
}
