// The HTTP contract (src/main/core/http/contract, src/cloud/contract.ts) against the apps themselves: the
// OpenAPI 3.1 document each serves at GET /api/openapi.json (no auth) is well-formed, names every route the app
// has (method + path) and nothing else, and lists every operation's error codes. The fuzz test
// (tests/security/fuzz-http.test.ts) checks that the listed codes are the ones the routes really answer with.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCloudApp } from '../../src/cloud/app.js';
import { CLOUD_UNDOCUMENTED_ROUTES } from '../../src/cloud/contract.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { createApp } from '../../src/main/core/http/app.js';
import { NODE_UNDOCUMENTED_ROUTES } from '../../src/main/core/http/contract/node-contract.js';
import { ERROR_CODES } from '../../src/shared/wire/errors.js';
import { appRoutes, documentProblems, honoToOpenApi, type OpenApiDocument, operationsOf } from '../helpers/openapi-document.js';
import { cleanupAll, startTestNode, type TestNode } from '../helpers/test-node.js';

let node: TestNode;
let cloud: RunningCloud;
let cloudDir: string;
const served: Record<'node' | 'cloud', OpenApiDocument> = {} as never;

before(async () => {
  node = await startTestNode();
  cloudDir = mkdtempSync(join(tmpdir(), 'salita-openapi-cloud-'));
  cloud = await startCloud({ dataDir: cloudDir, port: 0, otpSender: new MemoryOtpSender(), log: () => {} });
  for (const [name, base] of [
    ['node', node.base],
    ['cloud', cloud.url],
  ] as const) {
    const res = await fetch(`${base.replace(/\/$/, '')}/api/openapi.json`);
    assert.equal(res.status, 200, `${name}: GET /api/openapi.json`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    served[name] = (await res.json()) as OpenApiDocument;
  }
});
after(async () => {
  await cloud?.stop();
  rmSync(cloudDir, { recursive: true, force: true });
  await cleanupAll();
});

const apps = () => [
  {
    name: 'node' as const,
    routes: appRoutes(createApp(node.core)),
    undocumented: NODE_UNDOCUMENTED_ROUTES,
    where: 'src/main/core/http/contract/',
  },
  {
    name: 'cloud' as const,
    routes: appRoutes(createCloudApp({} as never)),
    undocumented: CLOUD_UNDOCUMENTED_ROUTES,
    where: 'src/cloud/contract.ts',
  },
];

describe('the OpenAPI contract of the node and of the cloud', () => {
  test('each served document is a structurally valid OpenAPI 3.1 document (every $ref resolves)', () => {
    for (const name of ['node', 'cloud'] as const) {
      assert.deepEqual(documentProblems(served[name]), [], `${name}'s /api/openapi.json`);
      assert.ok(operationsOf(served[name]).length > 5, `${name}: operations listed`);
    }
  });

  test('the structural check itself refuses a broken document', () => {
    const broken = structuredClone(served.node);
    broken.openapi = '3.0.3';
    assert.ok(documentProblems(broken).some((p) => /3\.1/.test(p)));
    const dangling = structuredClone(served.node);
    (dangling.components.schemas as Record<string, unknown>).AdminState = undefined;
    assert.ok(documentProblems(JSON.parse(JSON.stringify(dangling))).some((p) => /AdminState.*does not resolve/.test(p)));
  });

  test('every route of each app is an operation of its document, and every operation is a route', () => {
    for (const app of apps()) {
      const doc = served[app.name];
      for (const route of Object.keys(app.undocumented))
        assert.ok(app.routes.includes(route), `${app.name}: ${route} is listed as undocumented but is no route`);
      const routes = app.routes
        .filter((r) => !(r in app.undocumented))
        .map((r) => {
          const [m, p] = r.split(' ');
          return `${m} ${honoToOpenApi(p!)}`;
        });
      const documented = operationsOf(doc).map((o) => o.key);
      const missing = routes.filter((r) => !documented.includes(r));
      const extra = documented.filter((o) => !routes.includes(o));
      assert.deepEqual(missing, [], `${app.name} routes without a contract entry (add one in ${app.where})`);
      assert.deepEqual(extra, [], `${app.name} contract entries that are no route`);
    }
  });

  test('every operation lists its error codes, with the ones its auth and its body imply', () => {
    for (const name of ['node', 'cloud'] as const) {
      for (const o of operationsOf(served[name])) {
        assert.equal(typeof o.errorCodes, 'object', `${name} ${o.key}: x-error-codes`);
        const has = (status: number, code: string) => (o.errorCodes[String(status)] ?? []).includes(code);
        if (o.security === 'admin') assert.ok(has(401, 'unauthorized') && has(403, 'forbidden'), `${name} ${o.key}: admin refusals`);
        if (o.security === 'device')
          assert.ok(has(401, 'signature_invalid') && has(401, 'session_unknown'), `${name} ${o.key}: signed-request refusals`);
        if (o.security === 'cloud') assert.ok(has(401, 'token_missing') && has(401, 'token_invalid'), `${name} ${o.key}: token refusals`);
        if (o.hasBody) assert.ok(has(400, 'invalid_request'), `${name} ${o.key}: a body that fails its schema`);
        // GET and HEAD skip the body limit (app.ts); a file chunk (PATCH) is held to its upload's length by tus instead.
        if (name === 'node' && o.method !== 'GET' && o.method !== 'HEAD')
          assert.ok(has(413, 'payload_too_large') || has(413, 'file_too_large'), `${name} ${o.key}: the body limit`);
        if (o.websocket)
          assert.ok(has(400, 'invalid_request') && has(426, 'invalid_request'), `${name} ${o.key}: a bad WebSocket handshake`);
      }
    }
  });

  test("every code the node's document lists is one of its stable error codes (src/shared/wire/errors.ts)", () => {
    const stable = new Set<string>(ERROR_CODES);
    const unknown = operationsOf(served.node).flatMap((o) =>
      Object.values(o.errorCodes)
        .flat()
        .filter((c) => !stable.has(c))
        .map((c) => `${o.key}: ${c}`),
    );
    assert.deepEqual(unknown, []);
  });

  test('the document is public and names itself', () => {
    for (const name of ['node', 'cloud'] as const) {
      const self = operationsOf(served[name]).find((o) => o.key === 'GET /api/openapi.json');
      assert.ok(self, `${name}: GET /api/openapi.json is in its own document`);
      assert.equal(self.security, 'public');
    }
  });
});
