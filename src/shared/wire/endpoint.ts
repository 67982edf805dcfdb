// One HTTP route as both sides see it: method, path (as hono spells it, `:name` for a path parameter), the
// schema of its JSON body and of its success answer. The node's and the cloud's contracts are built from these
// very objects (server/http/openapi-contract.ts), and the typed client (shared/client/api-client.ts) takes its
// argument and result types from them: a changed schema breaks the build of every side that uses the route.
import type { z } from 'zod';

/** A schema with the component name it gets in the OpenAPI document (its $ref). */
export interface NamedSchema<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: S;
}
export const named = <S extends z.ZodType>(name: string, schema: S): NamedSchema<S> => ({ name, schema });

export type HttpMethod = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';

export interface Endpoint {
  readonly method: HttpMethod;
  readonly path: string;
  readonly body?: NamedSchema;
  readonly query?: z.ZodObject;
  /** The success answer's body (absent: not JSON, e.g. a WebSocket upgrade). */
  readonly response?: NamedSchema;
}

/** Keeps the literal types of an endpoint (its path, its schemas) while checking it is one. */
export const endpoint = <const E extends Endpoint>(e: E): E => e;

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** The path parameters an endpoint needs, by name. */
export type ParamsOf<E extends Endpoint> = { [K in ParamNames<E['path']>]: string };
/** What the caller sends as the JSON body (the schema's input: defaults may be left out). */
export type BodyOf<E extends Endpoint> = E['body'] extends NamedSchema<infer S> ? z.input<S> : undefined;
/** What a success answer holds. */
export type ResponseOf<E extends Endpoint> = E['response'] extends NamedSchema<infer S> ? z.output<S> : unknown;
export type QueryOf<E extends Endpoint> = E['query'] extends z.ZodObject ? z.input<E['query']> : undefined;

/** Fills `:name` parameters in a path (each value URI-encoded). */
export function pathWith(path: string, params: Readonly<Record<string, string>> | undefined): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(v);
  });
}
