// The machine-checked HTTP contract of the node and of the cloud: each route is one ContractOperation (method,
// path, who may call it, the zod schemas it validates and answers with, and every error it can give), and the
// OpenAPI 3.1 document served at GET /api/openapi.json is generated from those entries by @hono/zod-openapi's
// generator. The same entries drive tests/integration/openapi-contract.test.ts (every route is here, every entry
// is a route) and the HTTP fuzz test (bodies from these schemas; every error answer must be one listed here).
import { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { type Endpoint, type NamedSchema, named } from '../../shared/wire/endpoint.js';

/** Who may call an operation; each but `public` is a security scheme of the document. */
export type Security = 'public' | 'admin' | 'device' | 'cloud';

export { type NamedSchema, named };

/** What GET /api/openapi.json answers (the node's and the cloud's own entry for it). */
export const OPENAPI_DOCUMENT_ANSWER = named('OpenApiDocument', z.object({ openapi: z.string() }).catchall(z.unknown()));

/** Where both servers serve their document (public). */
export const OPENAPI_PATH = '/api/openapi.json';

/** The document itself, as an operation of the contract it describes. */
export function openApiOperation(operationId: string): ContractOperation {
  return {
    operationId,
    method: 'get',
    path: OPENAPI_PATH,
    security: 'public',
    summary: 'This document.',
    success: { status: 200, description: 'The OpenAPI 3.1 document.', schema: OPENAPI_DOCUMENT_ANSWER },
    errors: {},
  };
}

/** HTTP status -> the stable `error` codes the operation may answer with under it. */
export type ErrorCodes = Partial<Record<number, readonly string[]>>;

export interface ContractOperation {
  operationId: string;
  method: 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
  /** As hono spells it (`/api/mesh/nodes/:node_id`); the document writes `{node_id}`. */
  path: string;
  summary: string;
  security: Security;
  /** The very schema the route validates its JSON body with. */
  body?: NamedSchema;
  params?: z.ZodObject;
  query?: z.ZodObject;
  success: { status: number; description: string; schema?: NamedSchema; contentType?: string };
  errors: ErrorCodes;
  /** The route upgrades to a WebSocket (its success is 101 Switching Protocols). */
  websocket?: boolean;
}

/** Where each operation's error codes are listed besides the enum on each error body's `error` field. */
export const ERROR_CODES_EXTENSION = 'x-error-codes';
/** Document-level: answers any request may get before a route is chosen (e.g. a path no route matches). */
export const UNROUTED_ERRORS_EXTENSION = 'x-unrouted-error-codes';
/** The scheme name each Security value is declared under in components.securitySchemes. */
export const SECURITY_SCHEME: Record<Exclude<Security, 'public'>, string> = {
  admin: 'adminToken',
  device: 'signedRequest',
  cloud: 'cloudToken',
};

/** What an entry adds to its shared endpoint (shared/wire/*-endpoints.ts): who may call it, its words, its errors. */
export type OperationOf = Omit<ContractOperation, 'method' | 'path' | 'body' | 'query' | 'success'> & {
  success: Omit<ContractOperation['success'], 'schema'>;
};

/** A contract entry made from the endpoint the clients call: same method, path and schema objects. */
export function fromEndpoint(ep: Endpoint, op: OperationOf): ContractOperation {
  return {
    ...op,
    method: ep.method,
    path: ep.path,
    ...(ep.body ? { body: ep.body } : {}),
    ...(ep.query ? { query: ep.query } : {}),
    success: { ...op.success, ...(ep.response ? { schema: ep.response } : {}) },
  };
}

/** Unions status -> codes maps (codes kept in first-seen order, no duplicates). */
export function mergeErrors(...sets: ErrorCodes[]): ErrorCodes {
  const out: Record<number, string[]> = {};
  for (const set of sets) {
    for (const [status, codes] of Object.entries(set)) {
      const list = out[Number(status)] ?? [];
      out[Number(status)] = list;
      for (const code of codes ?? []) if (!list.includes(code)) list.push(code);
    }
  }
  return out;
}

/** hono's `/a/:id/b` -> OpenAPI's `/a/{id}/b`. */
export const openApiPath = (honoPath: string): string => honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The JSON body of every error answer: a stable code (one of `codes`) and plain words, plus code-specific facts. */
export function errorBodySchema(codes: readonly string[]): z.ZodType {
  return z.object({ error: z.enum(codes as [string, ...string[]]), message: z.string() }).catchall(z.unknown());
}

export interface ContractDocumentOptions {
  title: string;
  version: string;
  description: string;
  securitySchemes: Partial<Record<Exclude<Security, 'public'>, { description: string }>>;
  operations: readonly ContractOperation[];
  unroutedErrors: ErrorCodes;
}

// A component is named by zod's own `.meta({ id })`, which the generator reads as the $ref name. (Its
// `.openapi()` helper is patched onto zod when @hono/zod-openapi loads; schemas made before that, such as the
// wire schemas when src/shared/wire is imported first, would not have it.) Ids are unique in zod's global
// registry, so each one is made once per process.
const components = new Map<string, { from: z.ZodType; schema: z.ZodType }>();
function componentSchema(n: NamedSchema): z.ZodType {
  const known = components.get(n.name);
  if (known) {
    if (known.from !== n.schema) throw new Error(`openapi-contract: two different schemas are named ${n.name}`);
    return known.schema;
  }
  // zod keeps one global registry per process even when this module is loaded twice (ES module and CommonJS
  // copies); a second copy reuses the first one's schema instead of registering the id again (which throws).
  const idmap = (z.globalRegistry as unknown as { _idmap?: Map<string, z.ZodType> })._idmap;
  const schema = idmap?.get(n.name) ?? n.schema.meta({ id: n.name });
  components.set(n.name, { from: n.schema, schema });
  return schema;
}

/** The OpenAPI 3.1 document of `operations` (plain JSON, ready to serve). */
export function contractDocument(o: ContractDocumentOptions): Record<string, unknown> {
  const app = new OpenAPIHono();
  const registry = app.openAPIRegistry;
  for (const [security, scheme] of Object.entries(o.securitySchemes)) {
    // Every scheme rides in the Authorization header with its own word (Admin / Session / Noise), which OpenAPI's
    // `http` type cannot say (its schemes are IANA's); an apiKey header with a description can.
    registry.registerComponent('securitySchemes', SECURITY_SCHEME[security as Exclude<Security, 'public'>], {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: scheme.description,
    });
  }
  // A schema with an id becomes a component where it is first used, and a $ref everywhere.
  const ref = componentSchema;
  for (const op of o.operations) {
    const responses: Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {
      [String(op.success.status)]: {
        description: op.success.description,
        ...(op.success.schema ? { content: { [op.success.contentType ?? 'application/json']: { schema: ref(op.success.schema) } } } : {}),
      },
    };
    const errorCodes: Record<string, string[]> = {};
    for (const [status, codes] of Object.entries(op.errors)) {
      if (!codes || codes.length === 0) continue;
      errorCodes[status] = [...codes];
      responses[status] = {
        description: `Refused: ${codes.join(', ')}`,
        content: { 'application/json': { schema: errorBodySchema(codes) } },
      };
    }
    registry.registerPath({
      method: op.method,
      path: openApiPath(op.path),
      operationId: op.operationId,
      summary: op.summary,
      security: op.security === 'public' ? [] : [{ [SECURITY_SCHEME[op.security]]: [] }],
      ...(op.websocket ? { 'x-websocket': true } : {}),
      [ERROR_CODES_EXTENSION]: errorCodes,
      request: {
        ...(op.params ? { params: op.params } : {}),
        ...(op.query ? { query: op.query } : {}),
        ...(op.body ? { body: { required: true, content: { 'application/json': { schema: ref(op.body) } } } } : {}),
      },
      responses,
    });
  }
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: o.title, version: o.version, description: o.description },
    [UNROUTED_ERRORS_EXTENSION]: o.unroutedErrors,
  } as Parameters<typeof app.getOpenAPI31Document>[0]);
  // Through JSON once: what is served is exactly what the tests read.
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}
