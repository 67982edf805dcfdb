// Property-based fuzzing of every HTTP route of the node and of the reference cloud, both run in this process on
// loopback. What is fuzzed comes from the OpenAPI document each serves at /api/openapi.json (its operations, their
// auth and error codes; bodies and queries from the contract's zod schemas behind it), plus the routes the
// contract leaves out on purpose: valid bodies, mutated and malformed ones, odd queries and path params, wrong
// methods and content types, and broken framing on raw sockets; unauthenticated and with valid auth (admin token,
// a paired device's signed requests, a logged-in cloud token). Every answer must be below 500 (a 5xx only as a
// gateway answer the operation documents, never a 500), every 4xx a JSON {error, message} whose status and
// `error` code the document lists for that operation, no request may be logged as an unhandled error, and the
// process must still serve normal requests afterwards. FUZZ_SEED / FUZZ_RUNS (per route and category) reproduce
// or widen a run.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import type { z } from 'zod';
import { createCloudApp } from '../../src/cloud/app.js';
import { CLOUD_UNDOCUMENTED_ROUTES, cloudOperations } from '../../src/cloud/contract.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { startCloud } from '../../src/cloud/server.js';
import { createApp } from '../../src/main/core/http/app.js';
import { NODE_UNDOCUMENTED_ROUTES, nodeOperations } from '../../src/main/core/http/contract/node-contract.js';
import type { Security } from '../../src/server/http/openapi-contract.js';
import { deriveServerHmacKey, signRequest } from '../../src/shared/auth/request-signing.js';
import { seal } from '../../src/shared/e2ee/index.js';
import { utf8 } from '../../src/shared/encoding.js';
import * as R from '../../src/shared/wire/relay.js';
import * as W from '../../src/shared/wire/schemas.js';
import { appRoutes, honoToOpenApi, type OpenApiDocument } from '../helpers/openapi-document.js';
import { cleanupAll, pairPhone, startTestNode } from '../helpers/test-node.js';
import { bodyCases, contentTypes, pathParams, queries } from './fuzz/cases.js';
import { allowedCodes, type FuzzOperation, fuzzOperations, validQuery } from './fuzz/document-operations.js';
import { type Reply, rawExchange, send } from './fuzz/raw-http.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 24);

after(cleanupAll);

// ---- the two processes under test ----------------------------------------------------------------------------
const node = await startTestNode();
const nodeErrors: string[] = [];
{
  const log = node.core.log as unknown as { error: (...a: unknown[]) => void };
  const orig = log.error.bind(log);
  log.error = (...a: unknown[]) => {
    nodeErrors.push(
      a
        .map((x) => (typeof x === 'string' ? x : ''))
        .join(' ')
        .trim() || 'error',
    );
    orig(...a);
  };
}
const phone = await pairPhone(node);
const sacrificial = await pairPhone(node); // its session is the one POST /api/session/logout may end
const cloudDir = mkdtempSync(join(tmpdir(), 'salita-fuzz-cloud-'));
const cloudErrors: string[] = [];
const otp = new MemoryOtpSender();
const cloud = await startCloud({
  dataDir: cloudDir,
  port: 0,
  otpSender: otp,
  log: (m) => {
    if (/unhandled|unexpected/.test(m)) cloudErrors.push(m.split('\n')[0]!);
  },
});
after(() => cloud.stop().then(() => rmSync(cloudDir, { recursive: true, force: true })));

async function cloudToken(deviceId: string, email = 'home@salita.test'): Promise<string> {
  const post = (path: string, body: unknown) =>
    send(cloud.port, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: utf8.encode(JSON.stringify(body)) });
  const c = JSON.parse((await post('/api/auth/challenge', { device_id: deviceId, email })).body.toString());
  const v = JSON.parse(
    (await post('/api/auth/verify', { challenge_id: c.challenge_id, code: otp.codeFor(c.challenge_id) })).body.toString(),
  );
  return v.noise_session.token as string;
}
const keyId = () => Buffer.from(randomBytes(32)).toString('base64url');
const token = await cloudToken(keyId());
/** For the routes that end tokens (logout, sign-out everywhere, removing a node): in an account of its own. */
const tokenToRevoke = await cloudToken(keyId(), 'sacrificial@salita.test');
const ENDS_TOKENS = new Set(['POST /api/auth/logout', 'POST /api/account/sign-out', 'DELETE /api/account/nodes/{node}']);

/** A port nothing listens on: URLs the node is made to call lead nowhere, and never off this machine. */
const closedPort = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});

// ---- what to fuzz: the operations of the documents the two processes serve ------------------------------------
type Auth = Security;
type Entry = FuzzOperation;

async function servedDocument(port: number): Promise<OpenApiDocument> {
  const r = await send(port, { method: 'GET', path: '/api/openapi.json' });
  assert.equal(r.status, 200, 'GET /api/openapi.json');
  return JSON.parse(r.body.toString()) as OpenApiDocument;
}
const nodeDoc = await servedDocument(node.port);
const cloudDoc = await servedDocument(cloud.port);
const nodeOps = fuzzOperations(nodeDoc, nodeOperations, NODE_UNDOCUMENTED_ROUTES);
const cloudOps = fuzzOperations(cloudDoc, cloudOperations, CLOUD_UNDOCUMENTED_ROUTES);

// ---- valid values for the fields that make the node call out, or that must match the caller -------------------
const loopbackUrl = fc.constantFrom(
  `http://127.0.0.1:${closedPort}/`,
  `http://127.0.0.1:${closedPort}/pair?code=x&fp=y`,
  cloud.url,
  `${node.base}/pair?code=abc&fp=abcd`,
);
const sealedEnvelope = fc.constant(null).map(() =>
  seal(utf8.encode('{"t":"text","body":"hi"}'), {
    from: { device_id: phone.phone.identity.node_id, privateKey: phone.phone.privateKey, publicKey: phone.phone.publicKey },
    to: [{ device_id: phone.phone.identity.node_id, publicKey: phone.phone.publicKey }],
  }),
);
const overrides = {
  url: loopbackUrl,
  schemas: new Map<z.ZodType, fc.Arbitrary<unknown>>([
    [W.PairRemoteRequest.shape.host, fc.constantFrom('127.0.0.1', '::1', 'localhost')],
    [W.PairRemoteRequest.shape.port, fc.constantFrom(closedPort, node.port)],
    [W.NodeId, fc.oneof(fc.constant(phone.phone.identity.node_id), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{2,20}$/))],
    [R.SendRequest.shape.envelope, fc.oneof(sealedEnvelope, fc.jsonValue({ maxDepth: 3 }))],
  ]),
};

// ---- requests ------------------------------------------------------------------------------------------------
type Target = { name: 'node' | 'cloud'; port: number };
const NODE: Target = { name: 'node', port: node.port };
const CLOUD: Target = { name: 'cloud', port: cloud.port };
type AuthMode = 'none' | 'valid' | 'forged';

function authHeaders(
  route: string,
  auth: Auth,
  mode: AuthMode,
  method: string,
  pathWithQuery: string,
  body: Uint8Array,
): Record<string, string> {
  if (auth === 'public' || mode === 'none') return {};
  if (auth === 'admin') return { authorization: `Admin ${mode === 'valid' ? node.adminToken : `x${node.adminToken.slice(1)}`}` };
  if (auth === 'cloud')
    return { authorization: `Noise ${mode === 'valid' ? (ENDS_TOKENS.has(route) ? tokenToRevoke : token) : 'forged-token'}` };
  const creds = (route === 'POST /api/session/logout' ? sacrificial : phone).creds;
  const h = signRequest({
    sessionId: creds.sessionId,
    serverHmacKey: deriveServerHmacKey(creds.deviceSecret),
    method,
    pathWithQuery,
    body,
    now: Date.now(),
  });
  return mode === 'valid' ? { ...h } : { ...h, 'x-signature': h['x-signature'].replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
}

function errorOf(reply: Reply): string | undefined {
  try {
    const e = (JSON.parse(reply.body.toString()) as { error?: unknown }).error;
    return typeof e === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/** null if the answer is acceptable, else what is wrong with it. `op`: the operation the request is one of, if any. */
function problem(doc: OpenApiDocument, op: Entry | undefined, reply: Reply, opts: { method: string; upgrade?: boolean }): string | null {
  const allowed = allowedCodes(doc, op, reply.status);
  // A 5xx is a defect, except a gateway answer the operation documents (pair-remote: 502 peer_unreachable when
  // the other desktop does not answer). Never a 500.
  if (reply.status >= 500 && (reply.status === 500 || !allowed.includes(errorOf(reply) ?? '')))
    return `${reply.status} ${reply.body.toString().slice(0, 200) || '(empty body)'}`;
  if (reply.status < 400 || opts.method === 'HEAD') return null;
  const where = op ? `${op.route} lists` : 'the document lists for requests no operation takes';
  // @hono/node-server writes only status + headers for a refused WebSocket upgrade (the cloud adds x-cloud-error).
  if (opts.upgrade && reply.body.length === 0) {
    const code = reply.headers['x-cloud-error'];
    if (typeof code === 'string')
      return allowed.includes(code) ? null : `undocumented error: ${reply.status} ${code} (${where} ${JSON.stringify(allowed)})`;
    return allowed.length ? null : `undocumented error status ${reply.status} (${where} none)`;
  }
  try {
    const b = JSON.parse(reply.body.toString()) as { error?: unknown; message?: unknown };
    if (typeof b.error === 'string' && typeof b.message === 'string') {
      return allowed.includes(b.error)
        ? null
        : `undocumented error: ${reply.status} ${b.error} (${where} ${JSON.stringify(allowed)} under ${reply.status})`;
    }
  } catch {
    /* reported below */
  }
  return `${reply.status} without a JSON {error, message}: ${reply.headers['content-type'] ?? '(no content-type)'} ${JSON.stringify(reply.body.toString().slice(0, 200))}`;
}

/** Names the issue-9 item a failure most likely belongs to, so a report says which fix is missing. */
function category(what: string, route: string, entry: Entry | undefined): string {
  if (entry?.ws && /upgrade without connection/i.test(what) && /^5\d\d/.test(what))
    return 'KNOWN issue 9 §5 (WebSocket route: Upgrade without Connection answers 500)';
  if (/logged as an unhandled error/.test(what)) return 'KNOWN issue 9 §6 (bad framing / hang-up logged at error level)';
  if (/Host/.test(what)) return 'KNOWN issue 9 §2 (DNS-rebinding Host check)';
  if (/undocumented error/.test(what)) return `UNDOCUMENTED error code on ${route} (fix the route or list the code in its contract entry)`;
  return `NEW defect on ${route}`;
}

function pathFor(route: string, param: string): string {
  return route
    .split(' ')[1]!
    .replace(/\{[A-Za-z0-9_]+\}/g, param)
    .replace('*', 'index.js');
}

/** The operation of `target`'s document that a request with this method to `route`'s path is (another method may be another operation). */
function operationFor(target: Target, route: string, method: string): Entry | undefined {
  const path = route.split(' ')[1]!;
  return (target.name === 'node' ? nodeOps : cloudOps).find((o) => o.route === `${method} ${path}`);
}

async function check(
  target: Target,
  route: string,
  entry: Entry,
  req: { method: string; path: string; headers: Record<string, string>; body?: Uint8Array; label: string },
): Promise<void> {
  const errorsBefore = target.name === 'node' ? nodeErrors.length : cloudErrors.length;
  const reply = await send(target.port, req);
  const op = req.method === entry.method ? entry : operationFor(target, route, req.method);
  const wrong = problem(target.name === 'node' ? nodeDoc : cloudDoc, op, reply, {
    method: req.method,
    upgrade: req.headers.connection?.toLowerCase() === 'upgrade',
  });
  const logged = (target.name === 'node' ? nodeErrors : cloudErrors).slice(errorsBefore);
  const what = wrong ?? (logged.length ? `logged as an unhandled error: ${logged[0]}` : null);
  if (what) {
    const desc = `${req.method} ${req.path} [${req.label}; ${JSON.stringify(req.headers).slice(0, 200)}]`;
    throw new Error(`${category(`${what} ${req.label}`, route, entry)}: ${desc} -> ${what}`);
  }
}

async function stillServes(target: Target): Promise<void> {
  if (target.name === 'node') {
    assert.equal((await send(node.port, { method: 'GET', path: '/api/node/identity' })).status, 200);
    assert.equal((await node.admin('/api/admin/state')).status, 200);
    assert.equal((await phone.stubborn().request('GET', '/api/session')).status, 200);
  } else {
    assert.equal((await send(cloud.port, { method: 'GET', path: '/healthz' })).status, 200);
    assert.equal((await send(cloud.port, { method: 'GET', path: '/api/me', headers: { authorization: `Noise ${token}` } })).status, 200);
  }
}

async function property<T>(arb: fc.Arbitrary<T>, run: (v: T) => Promise<void>, numRuns = RUNS): Promise<void> {
  try {
    await fc.assert(fc.asyncProperty(arb, run), { seed: SEED, numRuns, endOnFailure: true });
  } catch (err) {
    // The cause (our message, with the known-issue category) first; fast-check's counterexample and seed after.
    const cause = (err as { cause?: unknown }).cause;
    throw new Error(
      `${cause instanceof Error ? cause.message : String(cause)}\n(reproduce: FUZZ_SEED=${SEED} FUZZ_RUNS=${numRuns})\n${(err as Error).message}`,
    );
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const auths = (e: Entry) =>
  fc.constantFrom<AuthMode>(...(e.auth === 'public' ? (['none'] as const) : (['valid', 'valid', 'none', 'forged'] as const)));

// ---- framing on raw sockets ------------------------------------------------------------------------------------
function framingCases(path: string, authLines: string): { label: string; bytes: Buffer; hangUp?: boolean }[] {
  const head = (method: string, extra: string) => Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${authLines}${extra}`);
  const b = (s: string) => Buffer.from(s);
  return [
    {
      label: 'bad chunk size',
      bytes: Buffer.concat([head('POST', 'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'), b('zz\r\n{}\r\n0\r\n\r\n')]),
    },
    {
      label: 'chunk longer than announced',
      bytes: Buffer.concat([head('POST', 'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'), b('2\r\n{"a":1}\r\n0\r\n\r\n')]),
    },
    {
      label: 'Transfer-Encoding: identity',
      bytes: Buffer.concat([head('POST', 'Transfer-Encoding: identity\r\nConnection: close\r\n\r\n'), b('{}')]),
    },
    {
      label: 'Content-Length and chunked',
      bytes: Buffer.concat([
        head('POST', 'Content-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'),
        b('2\r\n{}\r\n0\r\n\r\n'),
      ]),
    },
    {
      label: 'Content-Length shorter than body',
      bytes: Buffer.concat([head('POST', 'Content-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n'), b('{}')]),
    },
    {
      label: 'two Content-Lengths',
      bytes: Buffer.concat([head('POST', 'Content-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n'), b('{}')]),
    },
    {
      label: 'hang-up mid-body (Content-Length)',
      hangUp: true,
      bytes: Buffer.concat([head('POST', 'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n'), b('{"a":')]),
    },
    {
      label: 'hang-up mid-body (chunked)',
      hangUp: true,
      bytes: Buffer.concat([head('POST', 'Transfer-Encoding: chunked\r\n\r\n'), b('10\r\n{"a":')]),
    },
    { label: 'hang-up after headers', hangUp: true, bytes: head('PUT', 'Content-Length: 50\r\n\r\n') },
    {
      label: 'Upgrade without Connection: Upgrade',
      bytes: head('GET', 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
    },
    { label: 'Connection: Upgrade without a key', bytes: head('GET', 'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n') },
    { label: 'obsolete line folding', bytes: head('GET', 'X-A: 1\r\n  folded\r\nConnection: close\r\n\r\n') },
    { label: 'huge header', bytes: head('GET', `X-Big: ${'a'.repeat(70_000)}\r\nConnection: close\r\n\r\n`) },
    { label: 'HTTP/1.0 without Host', bytes: b(`GET ${path} HTTP/1.0\r\n${authLines}\r\n`) },
  ];
}

// ---- the tests -----------------------------------------------------------------------------------------------
const nodeRoutes = appRoutes(createApp(node.core)).map(honoToOpenApi);
const cloudRoutes = appRoutes(createCloudApp({} as never)).map(honoToOpenApi);

for (const [target, ops, routes] of [
  [NODE, nodeOps, nodeRoutes],
  [CLOUD, cloudOps, cloudRoutes],
] as const) {
  describe(`fuzz: every ${target.name} route (seed ${SEED}, ${RUNS} runs per property)`, () => {
    test('every route the app serves is fuzzed (an operation of its document, or a route the contract leaves out)', () => {
      const missing = routes.filter((r) => !ops.some((o) => o.route === r));
      assert.deepEqual(missing, [], `routes neither in /api/openapi.json nor listed as undocumented: ${missing.join(', ')}`);
    });

    for (const entry of ops) {
      const { route, method } = entry;
      const bodies = bodyCases(entry.body, overrides);
      // Valid queries from the operation's query schema as often as the odd ones.
      const query = entry.query ? fc.oneof(validQuery(entry, overrides), queries) : queries;

      test(`${route}: valid, mutated and malformed bodies, queries and params`, async () => {
        await property(
          fc.record({ auth: auths(entry), body: bodies, query, param: pathParams, ct: contentTypes }),
          async ({ auth, body, query, param, ct }) => {
            const path = pathFor(route, param) + query;
            const bytes = method === 'GET' ? new Uint8Array(0) : body.bytes;
            const headers = { ...(ct ? { 'content-type': ct } : {}), ...authHeaders(route, entry.auth, auth, method, path, bytes) };
            await check(target, route, entry, {
              method,
              path,
              headers,
              ...(method === 'GET' ? {} : { body: bytes }),
              label: `${auth} auth, ${method === 'GET' ? 'no' : body.label} body`,
            });
          },
        );
        await stillServes(target);
      });

      test(`${route}: every other method`, async () => {
        await property(
          fc.record({ m: fc.constantFrom(...METHODS.filter((m) => m !== method)), auth: auths(entry), body: bodies }),
          async ({ m, auth, body }) => {
            const path = pathFor(route, 'x1');
            const bytes = m === 'GET' || m === 'HEAD' ? undefined : body.bytes;
            const headers = {
              'content-type': 'application/json',
              ...authHeaders(route, entry.auth, auth, m, path, bytes ?? new Uint8Array(0)),
            };
            await check(target, route, entry, {
              method: m,
              path,
              headers,
              ...(bytes ? { body: bytes } : {}),
              label: `${auth} auth, ${body.label} body`,
            });
          },
          Math.ceil(RUNS / 2),
        );
        await stillServes(target);
      });

      test(`${route}: broken framing on raw sockets`, async () => {
        const path = pathFor(route, 'x1');
        const h = authHeaders(route, entry.auth, 'valid', method, path, method === 'GET' ? new Uint8Array(0) : utf8.encode('{}'));
        const problems: string[] = [];
        const authLines = Object.entries(h)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        for (const c of framingCases(path, authLines)) {
          const errorsBefore = target.name === 'node' ? nodeErrors.length : cloudErrors.length;
          const { reply } = await rawExchange(target.port, c.bytes, c.hangUp ? { hangUp: true } : {});
          await new Promise((r) => setTimeout(r, c.hangUp ? 100 : 0));
          const wrong = reply && reply.status >= 500 ? `${reply.status} ${reply.body.toString().slice(0, 200) || '(empty body)'}` : null;
          const logged = (target.name === 'node' ? nodeErrors : cloudErrors).slice(errorsBefore);
          const what = wrong ?? (logged.length ? `logged as an unhandled error: ${logged[0]}` : null);
          if (what) problems.push(`${category(`${what} ${c.label}`, route, entry)}: ${route} [${c.label}] -> ${what}`);
        }
        await stillServes(target);
        assert.deepEqual(problems, [], `framing problems:\n${problems.join('\n')}`);
      });
    }
  });
}

describe('fuzz: the answer checker holds routes to their documented errors', () => {
  const reply = (status: number, body: unknown): Reply => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  });
  const pairRemote = nodeOps.find((o) => o.route === 'POST /api/admin/pair-remote')!;
  const post = { method: 'POST' };
  test('a listed code passes; an unlisted code, an unlisted status and any 500 do not', () => {
    assert.equal(problem(nodeDoc, pairRemote, reply(401, { error: 'unauthorized', message: 'm' }), post), null);
    assert.equal(
      problem(nodeDoc, pairRemote, reply(502, { error: 'peer_unreachable', message: 'm' }), post),
      null,
      'a documented gateway answer',
    );
    assert.match(problem(nodeDoc, pairRemote, reply(401, { error: 'nonce_reused', message: 'm' }), post) ?? '', /undocumented error/);
    assert.match(problem(nodeDoc, pairRemote, reply(418, { error: 'unauthorized', message: 'm' }), post) ?? '', /undocumented error/);
    assert.notEqual(problem(nodeDoc, pairRemote, reply(500, { error: 'internal_error', message: 'm' }), post), null);
    assert.notEqual(problem(nodeDoc, pairRemote, reply(502, { error: 'internal_error', message: 'm' }), post), null);
    assert.equal(
      problem(nodeDoc, undefined, reply(404, { error: 'not_found', message: 'm' }), post),
      null,
      'what any unrouted request may get',
    );
  });
});

describe('fuzz: admin routes refuse a Host that is not a loopback literal (DNS rebinding)', () => {
  test('no 2xx with the right token and a foreign Host', async () => {
    const host = fc.oneof(
      fc.domain(),
      fc.domain().map((d) => `127.${d}`),
      fc.constantFrom('127.0.0.1.nip.io', '127.evil.example', 'localhost.evil.example', '127.0.0.1.evil:80'),
    );
    await property(
      fc.record({ host, route: fc.constantFrom('/api/admin/state', '/api/admin/settings', '/api/admin/cloud') }),
      async ({ host, route }) => {
        const r = await send(node.port, { method: 'GET', path: route, headers: { host, authorization: `Admin ${node.adminToken}` } });
        if (r.status < 400) throw new Error(`${category('Host', route, undefined)}: GET ${route} with Host: ${host} -> ${r.status}`);
      },
    );
  });
});
