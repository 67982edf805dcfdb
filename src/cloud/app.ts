// The cloud's HTTP + WebSocket surface. Every failure leaves as JSON `{error, message}` (docs/cloud.md).

import { upgradeWebSocket } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { LogBudget } from '../server/http/log-budget.js';
import { CLIENT_ABORT_BODY, isClientAbort } from '../server/http/server-guards.js';
import { webSocketHandshakeGuard } from '../server/http/websocket-upgrade.js';
import type { KeyPair } from '../shared/crypto/noise/index.js';
import {
  ChallengeRequest,
  type ChallengeResponse,
  CLOUD_ERROR_HEADER,
  type CloudErrorReply,
  type HealthResponse,
  type LogoutResponse,
  type MeResponse,
  type NoiseSessionResponse,
  type ReadyResponse,
  RefreshRequest,
  VerifyRequest,
} from '../shared/wire/cloud.js';
import { MAX_PREKEY_PUBLISH_BODY_BYTES, type PrekeyBundle, type PrekeyStatus } from '../shared/wire/prekeys.js';
import {
  type DirectoryResponse,
  type KeyLogConsistencyResponse,
  type KeyLogHashesResponse,
  KeyLogLeavesRequest,
  type KeyLogLeavesResponse,
  KeyLogProofsRequest,
  type KeyLogProofsResponse,
  PublishKeysRequest,
  type PublishKeysResponse,
  PublishReplacementsRequest,
  type ReplacementsResponse,
} from '../shared/wire/relay.js';
import { mountAccountRoutes } from './account-routes.js';
import type { Accounts } from './accounts.js';
import { type AuthService, LEGACY_DEVICE_LOGIN_FLAG, NOISE_HANDSHAKE_FLAG } from './auth-service.js';
import { type CloudBlobs, isBlobBytes, mountBlobRoutes } from './blob-routes.js';
import { mountContactRoutes } from './contact-routes.js';
import type { Contacts } from './contacts.js';
import { cloudOpenApiDocument, OPENAPI_PATH } from './contract.js';
import { CloudError } from './errors.js';
import type { ExternalLogins } from './external-login.js';
import { mountExternalLoginRoutes } from './external-login-routes.js';
import { type CloudEnv, readBody, readJson } from './http-env.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyLog } from './key-log.js';
import type { Logger } from './log.js';
import { noiseSocket } from './noise-endpoint.js';
import type { CloudPrekeyDirectory } from './prekey-directory.js';
import type { RelayHub } from './relay-hub.js';
import { relaySocket } from './relay-socket.js';
import type { RelayWriter } from './relay-writer.js';
import type { Telemetry } from './telemetry.js';

export interface CloudAppDeps {
  auth: AuthService;
  accounts: Accounts;
  contacts: Contacts;
  telemetry: Telemetry;
  staticKey: KeyPair;
  directory: KeyDirectory;
  keyLog: KeyLog;
  prekeys: CloudPrekeyDirectory;
  relay: { hub: RelayHub; writer: RelayWriter };
  log: Logger;
  /** Rate-limited lines about client mistakes (a flood of them cannot fill the disk). */
  edgeLog: LogBudget;
  /** The blob store and its tus server (blob-routes.ts). */
  blobs: CloudBlobs;
  /** External login: passkeys and the OpenID provider (external-login.ts). */
  logins: ExternalLogins;
  /**
   * For the load balancer: draining (SIGTERM), whether the database answers (rejects when it does not), and the
   * bus ('none' for one instance alone; 'down' while it reconnects).
   */
  readiness: { draining(): boolean; checkDatabase(): Promise<void>; bus(): 'none' | 'ok' | 'down' };
  oidcRedirectUri: () => string;
}

const BODY_LIMIT = 16 * 1024;

const INVITE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A Salita contact invite</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}</style></head>
<body><h1>A Salita contact invite</h1>
<p>Someone invited your household to be their contact on this cloud. To accept:</p>
<ol><li>Open Salita on your desktop, and its <strong>Cloud</strong> panel.</li>
<li>Under <strong>Contacts</strong>, paste this whole link (the address bar of this page) and press <strong>Check</strong>.</li>
<li>If the fingerprint it shows is the one their Cloud panel shows, press <strong>Accept</strong>.</li></ol>
<p>The link works once. The part after <code>#</code> never left this browser.</p></body></html>`;
/**
 * PUT /api/keys carries up to PUBLISH_PAGE_SIZE (256) devices (about 300 bytes each, more with escaped names);
 * a prekey publish up to MAX_PREKEY_PUBLISH_BODY_BYTES (the same 256 KiB).
 */
const KEYS_BODY_LIMIT = Math.max(256 * 1024, MAX_PREKEY_PUBLISH_BODY_BYTES);

/** PUT /api/keys/:device_id/prekeys carries up to 101 ML-KEM-768 keys (about 1.7 KB each): it shares that limit. */
const PREKEY_PUBLISH_PATH = /^\/api\/keys\/[^/]+\/prekeys$/;

type Env = CloudEnv;

export function createCloudApp(d: CloudAppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new CloudError(400, 'invalid_request', `Request bodies are limited to ${maxSize / 1024} KiB here.`);
      },
    });
  const small = limit(BODY_LIMIT);
  const keys = limit(KEYS_BODY_LIMIT);
  app.use('*', (c, next) => {
    // Blob bytes stream to disk (tus holds them to their Upload-Length); everything else is small JSON.
    if (isBlobBytes(c.req.method, c.req.path)) return next();
    const big = c.req.path === '/api/keys' || c.req.path === '/api/keys/replacements' || PREKEY_PUBLISH_PATH.test(c.req.path);
    return (big ? keys : small)(c, next);
  });

  const authed = async (c: Context<Env>, next: () => Promise<void>) => {
    const header = c.req.header('authorization');
    c.set('principal', await d.auth.authenticate(header));
    c.set('token', header!.slice('Noise '.length));
    await next();
  };

  // Every login step shares the cloud-wide rate limit (a 429 before any work, and before the upgrade).
  const admitted = async (_c: Context<Env>, next: () => Promise<void>) => {
    await d.auth.admit();
    await next();
  };
  const sourceAddress = (c: Context<Env>): string | undefined => {
    try {
      return getConnInfo(c).remote.address;
    } catch {
      return undefined;
    }
  };

  app.get('/healthz', async (c) =>
    c.json({
      ok: true,
      cloud_static_key: Buffer.from(d.staticKey.publicKey).toString('base64url'),
      flags: {
        [NOISE_HANDSHAKE_FLAG]: await d.auth.isEnabled(NOISE_HANDSHAKE_FLAG),
        [LEGACY_DEVICE_LOGIN_FLAG]: await d.auth.isEnabled(LEGACY_DEVICE_LOGIN_FLAG),
      },
    } satisfies HealthResponse),
  );

  // Readiness for a load balancer: 503 while draining (new sockets go elsewhere) or when the database does not
  // answer; /healthz above stays 200 as long as the process serves at all.
  app.get('/readyz', async (c) => {
    if (d.readiness.draining()) throw new CloudError(503, 'draining', 'This instance is shutting down: use another one.');
    try {
      await d.readiness.checkDatabase();
    } catch (err) {
      throw new CloudError(503, 'not_ready', `The database does not answer: ${(err as Error).message}`);
    }
    // Without the bus an instance still serves (delivery falls back to its sweep), but more slowly than the
    // others: the load balancer sends new sockets elsewhere until it is back.
    const bus = d.readiness.bus();
    if (bus === 'down') throw new CloudError(503, 'not_ready', 'The bus does not answer; this instance reconnects to it.');
    return c.json({ ready: true, database: 'ok', bus } satisfies ReadyResponse);
  });
  const notDraining = async (_c: Context<Env>, next: () => Promise<void>) => {
    if (d.readiness.draining()) throw new CloudError(503, 'draining', 'This instance is shutting down: reconnect to take another one.', 1);
    await next();
  };

  // The cloud's HTTP contract as OpenAPI 3.1 (src/cloud/contract.ts), built on the first call.
  let openApi: Record<string, unknown> | undefined;
  app.get(OPENAPI_PATH, (c) => {
    openApi ??= cloudOpenApiDocument();
    return c.json(openApi);
  });

  // An invite link opened in a browser: the secret is after `#`, so it never arrives here; say what to do with it.
  app.get('/invite', (c) => {
    c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
    c.header('referrer-policy', 'no-referrer');
    return c.html(INVITE_PAGE);
  });

  app.get('/metrics', async (c) => {
    c.header('content-type', d.telemetry.contentType);
    return c.body(await d.telemetry.metrics());
  });

  app.get(
    '/v1/noise',
    notDraining,
    admitted,
    webSocketHandshakeGuard(),
    upgradeWebSocket((c) =>
      noiseSocket({ pattern: c.req.query('pattern'), staticKey: d.staticKey, auth: d.auth, telemetry: d.telemetry, log: d.log }),
    ),
  );

  app.post('/api/auth/challenge', admitted, async (c) => {
    const body = await readBody(c, ChallengeRequest);
    const { challengeId, expiresAt } = await d.auth.createChallenge(
      { deviceId: body.device_id, email: body.email ?? null, name: body.name },
      sourceAddress(c),
    );
    return c.json({ challenge_id: challengeId, expires_at: expiresAt } satisfies ChallengeResponse);
  });

  app.post('/api/auth/verify', admitted, async (c) => {
    const body = await readBody(c, VerifyRequest);
    const r = await d.auth.verify(body, sourceAddress(c));
    return c.json({
      noise_session: { token: r.token, expires_at: r.expiresAt, noise_session_id: r.noiseSessionId },
    } satisfies NoiseSessionResponse);
  });

  // A fresh token for a node holding a valid one and proving its key again with IK (docs/cloud.md §4).
  app.post('/api/auth/refresh', authed, async (c) => {
    const body = await readBody(c, RefreshRequest);
    const r = await d.auth.refresh(c.get('token'), body);
    return c.json({
      noise_session: { token: r.token, expires_at: r.expiresAt, noise_session_id: r.noiseSessionId },
    } satisfies NoiseSessionResponse);
  });

  app.post('/api/auth/logout', authed, async (c) => {
    await d.auth.revokeToken(c.get('token'));
    d.relay.hub.closeToken(c.get('token'), 'token_revoked');
    return c.json({ ok: true } satisfies LogoutResponse);
  });

  app.get('/api/me', authed, (c) => {
    const p = c.get('principal');
    return c.json({ device_id: p.deviceId, noise_session_id: p.noiseSessionId, expires_at: p.expiresAt } satisfies MeResponse);
  });

  /** The nodes whose devices the caller may see: its household (and contacts). */
  const visible = (c: Context<Env>) => d.accounts.visibleNodes(c.get('principal').deviceId);

  // The key directory: the caller (one node) replaces its own set, and reads what its household publishes.
  app.put('/api/keys', authed, async (c) => {
    const body = await readBody(c, PublishKeysRequest);
    // 200 even when some devices are refused: each one stands on its own (the answer lists the refused).
    const r = await d.directory.publish(c.get('principal').deviceId, body.devices, body.range);
    return c.json({ devices: r.devices, refused: r.refused } satisfies PublishKeysResponse);
  });

  app.get('/api/keys', authed, async (c) => c.json({ devices: await d.directory.list(await visible(c)) } satisfies DirectoryResponse));

  // The key directory's log (key-log.ts). Proofs only for devices the caller may see: a leaf names its node.
  app.get('/api/keys/log/head', authed, async (c) => c.json(await d.keyLog.head()));
  app.post('/api/keys/log/proofs', authed, async (c) => {
    const body = await readBody(c, KeyLogProofsRequest);
    const r = await d.keyLog.proofs(body.device_ids);
    const mine = await visible(c);
    return c.json({ head: r.head, entries: r.entries.filter((e) => mine.has(e.leaf.node)) } satisfies KeyLogProofsResponse);
  });
  const logSize = (c: Context<Env>, name: string) => {
    const v = c.req.query(name);
    if (v === undefined || !/^\d{1,15}$/.test(v)) throw new CloudError(400, 'invalid_request', `${name}: a log size (0 or more).`);
    return Number(v);
  };
  app.get('/api/keys/log/consistency', authed, async (c) =>
    c.json({ proof: await d.keyLog.consistency(logSize(c, 'from'), logSize(c, 'to')) } satisfies KeyLogConsistencyResponse),
  );
  // Every entry's tag and content hash, to every caller: they say nothing of whose device changed.
  app.get('/api/keys/log/hashes', authed, async (c) =>
    c.json({ entries: await d.keyLog.hashes(logSize(c, 'from'), logSize(c, 'to')) } satisfies KeyLogHashesResponse),
  );
  app.post('/api/keys/log/leaves', authed, async (c) => {
    const body = await readBody(c, KeyLogLeavesRequest);
    const entries = await d.keyLog.leaves(body.indices);
    const mine = await visible(c);
    return c.json({ entries: entries.filter((e) => mine.has(e.leaf.node)) } satisfies KeyLogLeavesResponse);
  });

  // Re-paired devices' older ids: the caller states them for its own devices and reads its household's.
  app.put('/api/keys/replacements', authed, async (c) => {
    const body = await readBody(c, PublishReplacementsRequest);
    return c.json({
      replacements: await d.directory.publishReplacements(c.get('principal').deviceId, body.replacements),
    } satisfies ReplacementsResponse);
  });
  app.get('/api/keys/replacements', authed, async (c) =>
    c.json({ replacements: await d.directory.replacements(await visible(c)) } satisfies ReplacementsResponse),
  );

  // The prekey directory (prekey-directory.ts): a node publishes for its own devices; a node claims a bundle for
  // any device it may see in the key directory. The body is checked there, signatures
  // and all, so a malformed one is invalid_prekey like a forged one.
  app.put('/api/keys/:device_id/prekeys', authed, async (c) => {
    const body = await readJson(c);
    return c.json((await d.prekeys.publish(c.get('principal').deviceId, c.req.param('device_id') ?? '', body)) satisfies PrekeyStatus);
  });
  app.get('/api/keys/:device_id/prekeys', authed, async (c) =>
    c.json((await d.prekeys.status(c.get('principal').deviceId, c.req.param('device_id') ?? '')) satisfies PrekeyStatus),
  );
  app.post('/api/keys/:device_id/prekeys/claim', authed, async (c) =>
    c.json(
      (await d.prekeys.claim(c.req.param('device_id') ?? '', (owner, tx) =>
        d.accounts.canSee(c.get('principal').deviceId, owner, tx),
      )) satisfies PrekeyBundle,
    ),
  );

  // The relay: `authed` runs before the upgrade, so a bad token is refused with a 401 and no socket.
  app.get(
    '/v1/relay',
    notDraining,
    authed,
    webSocketHandshakeGuard(),
    upgradeWebSocket((c) => relaySocket({ ...d.relay, node: c.get('principal').deviceId, token: c.get('token') })),
  );

  mountBlobRoutes(app, d, authed);
  mountAccountRoutes(app, d, authed);
  mountContactRoutes(app, d, authed);
  mountExternalLoginRoutes(app, d, admitted);

  app.notFound((c) =>
    c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } satisfies CloudErrorReply, 404),
  );
  app.onError((err, c) => {
    if (err instanceof CloudError) {
      // A refused WebSocket upgrade loses its body on the way out (@hono/node-server writes status + headers
      // only), so the stable code also travels as a header.
      c.header(CLOUD_ERROR_HEADER, err.code);
      if (err.retryAfterSec !== undefined) c.header('retry-after', String(err.retryAfterSec));
      return c.json(err.body(), err.status);
    }
    if (isClientAbort(err)) {
      // The client hung up or broke the framing mid-body: its mistake, worth one quiet line at most.
      d.edgeLog.write('client_abort', 'info', 'a request body could not be read', {
        path: c.req.path,
        code: (err as NodeJS.ErrnoException).code,
      });
      return c.json(CLIENT_ABORT_BODY, 400);
    }
    d.log.error({ err, path: c.req.path }, `unhandled error on ${c.req.path}`);
    return c.json({ error: 'internal_error', message: 'The cloud hit an unexpected error; it was logged.' } satisfies CloudErrorReply, 500);
  });
  return app;
}
