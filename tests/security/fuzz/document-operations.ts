// What the HTTP fuzz test fuzzes, read from the OpenAPI document a process serves: its operations, each one's
// auth, its error codes by status, and the zod schemas of its body and query (the contract entry the document
// was generated from, found by operationId), plus the routes the contract leaves out on purpose.
import fc from 'fast-check';
import type { z } from 'zod';
import type { ContractOperation, Security } from '../../../src/server/http/openapi-contract.js';
import { type OpenApiDocument, operationsOf, unroutedErrors } from '../../helpers/openapi-document.js';
import { type ArbitraryOverrides, validArbitrary } from './zod-arbitrary.js';

export interface FuzzOperation {
  /** `POST /api/mesh/nodes/{node_id}` (document operations) or `GET /assets/*` (undocumented routes). */
  route: string;
  method: string;
  auth: Security;
  ws: boolean;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Status -> codes the document lists; undefined for a route the document leaves out. */
  errors?: Record<string, string[]>;
}

export function fuzzOperations(
  doc: OpenApiDocument,
  contract: readonly ContractOperation[],
  undocumented: Readonly<Record<string, string>>,
): FuzzOperation[] {
  const byId = new Map(contract.map((c) => [c.operationId, c]));
  const documented = operationsOf(doc).map((o): FuzzOperation => {
    const c = byId.get(o.operationId);
    if (!c) throw new Error(`the document's operation ${o.operationId} has no contract entry`);
    if (o.hasBody && !c.body) throw new Error(`${o.key}: the document has a request body but the contract entry no schema`);
    return {
      route: o.key,
      method: o.method,
      auth: o.security,
      ws: o.websocket,
      errors: o.errorCodes,
      ...(c.body ? { body: c.body.schema } : {}),
      ...(c.query ? { query: c.query } : {}),
    };
  });
  const rest = Object.keys(undocumented).map(
    (route): FuzzOperation => ({ route, method: route.split(' ')[0]!, auth: 'public', ws: false }),
  );
  return [...documented, ...rest];
}

/** The codes an answer with `status` may carry for `op` (its own, plus what any unrouted request may get). */
export function allowedCodes(doc: OpenApiDocument, op: FuzzOperation | undefined, status: number): string[] {
  return [...(op?.errors?.[String(status)] ?? []), ...(unroutedErrors(doc)[String(status)] ?? [])];
}

/** Query strings from the operation's query schema (valid ones, by the schema), or '' when it has none. */
export function validQuery(op: FuzzOperation, o: ArbitraryOverrides): fc.Arbitrary<string> {
  if (!op.query) return fc.constant('');
  return validArbitrary(op.query, o).map((v) => {
    const q = new URLSearchParams();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) q.set(k, String(x));
    const s = q.toString();
    return s ? `?${s}` : '';
  });
}
