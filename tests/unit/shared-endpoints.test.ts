// The endpoints the pages and the node's cloud client call are the contract's own entries: same method, path and
// schema objects (so the OpenAPI document, the server's validation and the clients' types cannot drift apart),
// and the typed client fills path parameters, sends the body and turns a refusal into an ApiFailure.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cloudOperations } from '../../src/cloud/contract.js';
import { nodeOperations } from '../../src/main/core/http/contract/node-contract.js';
import type { ContractOperation } from '../../src/server/http/openapi-contract.js';
import { ApiClient, ApiFailure } from '../../src/shared/client/api-client.js';
import { CLOUD_ENDPOINTS } from '../../src/shared/wire/cloud-endpoints.js';
import { type Endpoint, pathWith } from '../../src/shared/wire/endpoint.js';
import { NODE_ENDPOINTS } from '../../src/shared/wire/node-endpoints.js';

function sameAsContract(table: Record<string, Endpoint>, ops: readonly ContractOperation[]): void {
  for (const [name, ep] of Object.entries(table)) {
    const op = ops.find((o) => o.method === ep.method && o.path === ep.path);
    assert.ok(op, `${name}: ${ep.method} ${ep.path} is not in the contract`);
    assert.equal(op.operationId, name, `${name}: the contract calls it ${op.operationId}`);
    assert.equal(op.body?.schema, ep.body?.schema, `${name}: the contract validates another body schema`);
    assert.equal(op.success.schema?.schema, ep.response?.schema, `${name}: the contract answers with another schema`);
  }
}

describe('shared endpoints', () => {
  test("every node endpoint is the node contract's entry, with the same schema objects", () =>
    sameAsContract(NODE_ENDPOINTS, nodeOperations));
  test("every cloud endpoint is the cloud contract's entry, with the same schema objects", () =>
    sameAsContract(CLOUD_ENDPOINTS, cloudOperations));

  test('path parameters are filled and encoded; a missing one is a programming error', () => {
    assert.equal(pathWith('/api/mesh/nodes/:node_id', { node_id: 'a/b c' }), '/api/mesh/nodes/a%2Fb%20c');
    assert.throws(() => pathWith('/api/admin/pairings/:id/confirm', {}), /missing path parameter id/);
  });

  test('the typed client sends method, path, headers and body, and reads a refusal as an ApiFailure', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const answers = [
      new Response(JSON.stringify({ node_id: 'n1', name: 'Den', fingerprint: 'f', public_key: 'k' }), { status: 200 }),
      new Response(JSON.stringify({ error: 'invalid_request', message: 'name: too long' }), { status: 400 }),
      new Response('<html>proxy</html>', { status: 502 }),
    ];
    const client = new ApiClient({
      baseUrl: 'http://node',
      headers: () => ({ authorization: 'Admin t' }),
      fetch: (async (url: string, init: RequestInit) => {
        seen.push({ url, init });
        return answers.shift()!;
      }) as unknown as typeof fetch,
      describe: (status, code) => (code === 'invalid_request' ? `said by the page (${status})` : undefined),
    });
    const ident = await client.call(NODE_ENDPOINTS.renameNode, { body: { name: 'Den' } });
    assert.equal(ident.name, 'Den');
    assert.equal(seen[0]!.url, 'http://node/api/node/identity');
    assert.equal(seen[0]!.init.method, 'PATCH');
    assert.equal(seen[0]!.init.body, JSON.stringify({ name: 'Den' }));
    assert.equal((seen[0]!.init.headers as Record<string, string>).authorization, 'Admin t');

    const refused = await client.call(NODE_ENDPOINTS.unpairNode, { params: { node_id: 'x' } }).catch((e) => e);
    assert.ok(refused instanceof ApiFailure);
    assert.equal(refused.status, 400);
    assert.equal(refused.code, 'invalid_request');
    assert.equal(refused.message, 'said by the page (400)');
    assert.equal(seen[1]!.url, 'http://node/api/mesh/nodes/x');

    const proxied = await client.call(NODE_ENDPOINTS.adminState).catch((e) => e);
    assert.equal(proxied.code, 'http_502', 'a non-JSON refusal keeps its status as the code');

    const down = await new ApiClient({ fetch: (async () => Promise.reject(new TypeError('fetch failed'))) as unknown as typeof fetch })
      .call(NODE_ENDPOINTS.adminState)
      .catch((e) => e);
    assert.equal(down.status, 0);
    assert.equal(down.code, 'network');
  });
});

// Compile-time checks (tsc runs over tests/): wrong shapes do not build.
async function _typesOnly(client: ApiClient): Promise<void> {
  // @ts-expect-error the rename body needs a name
  await client.call(NODE_ENDPOINTS.renameNode, { body: {} });
  // @ts-expect-error unpair needs its node_id path parameter
  await client.call(NODE_ENDPOINTS.unpairNode);
  const state = await client.call(NODE_ENDPOINTS.adminState);
  // @ts-expect-error the admin state has no such field
  void state.no_such_field;
}
void _typesOnly;
