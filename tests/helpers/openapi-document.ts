// Reading the served OpenAPI documents in tests: their operations, their error codes, and a structural check
// of OpenAPI 3.1 (the parts the contract uses; no full JSON Schema meta-validation).
import {
  ERROR_CODES_EXTENSION,
  SECURITY_SCHEME,
  type Security,
  UNROUTED_ERRORS_EXTENSION,
} from '../../src/server/http/openapi-contract.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type OpenApiDocument = {
  openapi: string;
  info: Record<string, Json>;
  paths: Record<string, Record<string, Json>>;
  components: Record<string, Record<string, Json>>;
  [k: string]: Json;
};

export interface DocumentOperation {
  /** `POST /api/mesh/nodes/{node_id}` */
  key: string;
  method: string;
  path: string;
  operationId: string;
  security: Security;
  errorCodes: Record<string, string[]>;
  parameters: { name: string; in: string; required?: boolean; schema: Json }[];
  hasBody: boolean;
  websocket: boolean;
  op: Record<string, Json>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SECURITY_OF_SCHEME = Object.fromEntries(Object.entries(SECURITY_SCHEME).map(([k, v]) => [v, k])) as Record<string, Security>;

export function operationsOf(doc: OpenApiDocument): DocumentOperation[] {
  const out: DocumentOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const op = raw as Record<string, Json>;
      const requirement = ((op.security as Record<string, Json>[] | undefined) ?? [])[0];
      const scheme = requirement ? Object.keys(requirement)[0]! : undefined;
      out.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        operationId: String(op.operationId),
        security: scheme ? (SECURITY_OF_SCHEME[scheme] ?? ('unknown' as Security)) : 'public',
        errorCodes: (op[ERROR_CODES_EXTENSION] ?? {}) as Record<string, string[]>,
        parameters: (op.parameters ?? []) as DocumentOperation['parameters'],
        hasBody: op.requestBody !== undefined,
        websocket: op['x-websocket'] === true,
        op,
      });
    }
  }
  return out;
}

export const unroutedErrors = (doc: OpenApiDocument) => (doc[UNROUTED_ERRORS_EXTENSION] ?? {}) as Record<string, string[]>;

/** hono's `/a/:id` -> `/a/{id}`. */
export const honoToOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** `METHOD path` of every route an app serves (middleware, which hono lists as ALL, left out). */
export function appRoutes(app: { routes: { method: string; path: string }[] }): string[] {
  return [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))];
}

function resolvePointer(doc: Json, ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let at: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object' || !(part in at)) return undefined;
    at = (at as Record<string, Json>)[part];
  }
  return at;
}

/** Everything structurally wrong with `doc` as an OpenAPI 3.1 document of this contract; [] when it is fine. */
export function documentProblems(doc: OpenApiDocument): string[] {
  const p: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) p.push(`openapi is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
  if (!doc.info || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') p.push('info needs a title and a version');
  if (!doc.paths || typeof doc.paths !== 'object') p.push('no paths object');
  if (!doc.components || typeof doc.components !== 'object') p.push('no components object');
  if (p.length) return p;
  const walk = (v: Json, where: string) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, `${where}/${i}`);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref') {
          if (typeof x !== 'string' || resolvePointer(doc as unknown as Json, x) === undefined)
            p.push(`${where}: $ref ${JSON.stringify(x)} does not resolve`);
        } else walk(x, `${where}/${k}`);
      }
    }
  };
  walk(doc as unknown as Json, '#');
  const schemes = doc.components.securitySchemes ?? {};
  const ids = new Set<string>();
  for (const o of operationsOf(doc)) {
    if (!o.path.startsWith('/')) p.push(`${o.key}: path must start with /`);
    if (ids.has(o.operationId)) p.push(`${o.key}: operationId ${o.operationId} is used twice`);
    ids.add(o.operationId);
    const responses = o.op.responses as Record<string, Json> | undefined;
    if (!responses || Object.keys(responses).length === 0) {
      p.push(`${o.key}: no responses`);
      continue;
    }
    for (const [status, r] of Object.entries(responses)) {
      if (!/^[1-5]\d\d$/.test(status)) p.push(`${o.key}: response key ${status} is not a status`);
      if (typeof (r as Record<string, Json>).description !== 'string') p.push(`${o.key} ${status}: a response needs a description`);
    }
    if (!responses[Object.keys(responses).find((s) => /^[123]/.test(s)) ?? '']) p.push(`${o.key}: no success response`);
    for (const req of (o.op.security ?? []) as Record<string, Json>[]) {
      for (const name of Object.keys(req)) if (!(name in schemes)) p.push(`${o.key}: security scheme ${name} is not declared`);
    }
    for (const name of [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)) {
      if (!o.parameters.some((x) => x.in === 'path' && x.name === name && x.required === true))
        p.push(`${o.key}: path parameter ${name} is not declared (required, in: path)`);
    }
    for (const x of o.parameters)
      if (!['path', 'query', 'header', 'cookie'].includes(x.in) || typeof x.name !== 'string' || !x.schema)
        p.push(`${o.key}: malformed parameter ${JSON.stringify(x)}`);
    if (!(ERROR_CODES_EXTENSION in o.op)) {
      p.push(`${o.key}: no ${ERROR_CODES_EXTENSION}`);
      continue;
    }
    for (const [status, codes] of Object.entries(o.errorCodes)) {
      if (!/^[45]\d\d$/.test(status) || !Array.isArray(codes) || codes.length === 0 || codes.some((c) => typeof c !== 'string')) {
        p.push(`${o.key}: ${ERROR_CODES_EXTENSION} ${status} must be a 4xx/5xx with a list of codes`);
        continue;
      }
      const body = resolveSchema(doc, (responses[status] as any)?.content?.['application/json']?.schema);
      const listed = (body as any)?.properties?.error?.enum as string[] | undefined;
      if (!listed || listed.join() !== codes.join())
        p.push(
          `${o.key}: response ${status}'s error enum ${JSON.stringify(listed)} differs from ${ERROR_CODES_EXTENSION} ${JSON.stringify(codes)}`,
        );
    }
    for (const status of Object.keys(responses)) {
      if (/^[45]/.test(status) && !(status in o.errorCodes))
        p.push(`${o.key}: error response ${status} is not in ${ERROR_CODES_EXTENSION}`);
    }
  }
  return p;
}

function resolveSchema(doc: OpenApiDocument, s: Json | undefined): Json | undefined {
  if (s && typeof s === 'object' && !Array.isArray(s) && typeof s.$ref === 'string') return resolvePointer(doc as unknown as Json, s.$ref);
  return s;
}
