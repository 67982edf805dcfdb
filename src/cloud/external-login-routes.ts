// External login's routes (external-login.ts): the node's (make a session, read it, a socket to hear it) and the
// browser's (the page, the passkey ceremony, the OpenID provider's callback). The browser's pages answer in HTML,
// with a 4xx status and the reason in words when the session cannot go on.
import { randomBytes } from 'node:crypto';
import { upgradeWebSocket } from '@hono/node-server';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { WSContext } from 'hono/ws';
import { webSocketHandshakeGuard } from '../server/http/websocket-upgrade.js';
import {
  CreateExternalSessionRequest,
  EXTERNAL_EVENTS_PATH,
  type ExternalMethodsResponse,
  type ExternalSessionResponse,
  type ExternalSessionState,
  type ExternalSessionUpdate,
  ExternalSubscribe,
} from '../shared/wire/external-login.js';
import type { AuthService } from './auth-service.js';
import { CloudError } from './errors.js';
import type { ExternalLogins } from './external-login.js';
import { pageHeaders, passkeyPage, resultPage, WEBAUTHN_ASSET_PATH, webauthnBrowserScript } from './external-login-page.js';
import { type CloudEnv, readBody, readJson } from './http-env.js';

/** The provider sends the browser back here; register `<public origin>` + this at the provider. */
export const OIDC_CALLBACK_PATH = '/api/auth/external/oidc/callback';
/** A subscriber that names no topic within this long is closed. */
const SUBSCRIBE_WITHIN_MS = 10_000;

export interface ExternalLoginRouteDeps {
  readonly logins: ExternalLogins;
  readonly auth: AuthService;
  /** The registered callback URL (its origin and path), for redeeming the code exactly as it was sent. */
  readonly oidcRedirectUri: () => string;
}

/** A browser (Accept: text/html) gets its answers as pages; any other client JSON, errors as {error, message}. */
function wantsHtml(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/html');
}

function html(c: Context, status: number, body: string, nonce?: string) {
  for (const [k, v] of Object.entries(pageHeaders(nonce))) c.header(k, v);
  return c.html(body, status as 200);
}

export function mountExternalLoginRoutes(app: Hono<CloudEnv>, d: ExternalLoginRouteDeps, admitted: MiddlewareHandler<CloudEnv>): void {
  app.get('/api/auth/external/methods', (c) => c.json(d.logins.methods() satisfies ExternalMethodsResponse));

  app.post('/api/auth/external/sessions', admitted, async (c) => {
    const body = await readBody(c, CreateExternalSessionRequest);
    const header = c.req.header('authorization');
    const principal = header ? await d.auth.authenticate(header) : null;
    return c.json((await d.logins.create(body, principal)) satisfies ExternalSessionResponse);
  });

  app.get('/api/auth/external/sessions/:token', async (c) =>
    c.json((await d.logins.state(c.req.param('token') ?? '')) satisfies ExternalSessionState),
  );

  // Push: {type:'subscribe', topic:'external_session:<token>'} -> session_update now and at every change; the
  // socket closes once the session is over (1000) or for a bad topic (4404) or a bad frame (4400).
  app.get(
    EXTERNAL_EVENTS_PATH,
    webSocketHandshakeGuard(),
    upgradeWebSocket(() => {
      let unsubscribe: (() => void) | undefined;
      /** A topic was asked for (the subscription itself is made asynchronously). */
      let asked = false;
      /** The socket closed, or the session ended: the subscription goes as soon as it exists. */
      let over = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (ws: WSContext, code: number, error: string, message: string) => {
        ws.send(JSON.stringify({ error, message }));
        ws.close(code, error);
      };
      return {
        onOpen(_e, ws) {
          timer = setTimeout(() => fail(ws, 4400, 'invalid_request', 'subscribe to a topic first'), SUBSCRIBE_WITHIN_MS);
        },
        async onMessage(e, ws) {
          if (asked) return;
          asked = true;
          clearTimeout(timer);
          let topic: string;
          try {
            topic = ExternalSubscribe.parse(JSON.parse(String(e.data))).topic;
          } catch {
            return fail(ws, 4400, 'invalid_request', 'send {"type":"subscribe","topic":"external_session:<session_token>"}');
          }
          const token = topic.startsWith('external_session:') ? topic.slice('external_session:'.length) : '';
          try {
            unsubscribe = await d.logins.subscribe(token, (s) => {
              ws.send(JSON.stringify({ type: 'session_update', topic, ...s } satisfies ExternalSessionUpdate));
              if (s.status !== 'pending') {
                over = true;
                queueMicrotask(() => unsubscribe?.());
                ws.close(1000, 'done');
              }
            });
            if (over) unsubscribe();
          } catch (err) {
            if (err instanceof CloudError) return fail(ws, 4404, err.code, err.message);
            throw err;
          }
        },
        onClose() {
          clearTimeout(timer);
          over = true;
          unsubscribe?.();
        },
      };
    }),
  );

  // ---- the browser's side

  app.get(WEBAUTHN_ASSET_PATH, (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(webauthnBrowserScript());
  });

  app.get('/login/external/:browser_id', async (c) => {
    try {
      const row = await d.logins.pending(c.req.param('browser_id') ?? '');
      if (row.method === 'oidc') return c.redirect((await d.logins.oidcStart(row.browserId)).href, 302);
      const nonce = randomBytes(16).toString('base64');
      return html(c, 200, passkeyPage(row.browserId, row.method, nonce, row.nodeName), nonce);
    } catch (err) {
      if (err instanceof CloudError && wantsHtml(c)) return html(c, err.status, resultPage(false, err.message));
      throw err;
    }
  });

  app.post('/api/auth/external/browser/:browser_id/options', admitted, async (c) =>
    c.json({ options: await d.logins.passkeyOptions(c.req.param('browser_id') ?? '') }),
  );

  app.post('/api/auth/external/browser/:browser_id/passkey', admitted, async (c) => {
    const body = (await readJson(c)) as { response?: unknown } | null;
    await d.logins.passkeyFinish(c.req.param('browser_id') ?? '', body?.response);
    return c.json({ status: 'approved' });
  });

  app.get(OIDC_CALLBACK_PATH, admitted, async (c) => {
    // The code is redeemed against the redirect URI exactly as registered, whatever Host the browser used.
    const url = new URL(d.oidcRedirectUri());
    url.search = new URL(c.req.url).search;
    try {
      const r = await d.logins.oidcCallback(url);
      if (wantsHtml(c)) return html(c, r.approved ? 200 : 403, resultPage(r.approved, r.message));
      if (!r.approved) throw new CloudError(403, 'forbidden', r.message);
      return c.json({ status: 'approved' });
    } catch (err) {
      if (err instanceof CloudError && wantsHtml(c)) return html(c, err.status, resultPage(false, err.message));
      throw err;
    }
  });
}
