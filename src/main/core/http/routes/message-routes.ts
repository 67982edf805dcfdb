// Messaging routes (src/shared/wire/relay.ts): a paired device (signed requests) or the desktop UI (admin token,
// as the UI device `<node_id>.ui`) hands envelopes to this node, reads its inbox and the status of what it sent.
// The node only ever sees envelopes. The router (routing/router.ts) decides where each goes; a send is committed
// (to a local recipient's inbox, or to the outbox) before the 202.
import { type Context, Hono } from 'hono';
import { parseEnvelope } from '../../../../shared/e2ee/envelope.js';
import { isE2eeError } from '../../../../shared/e2ee/errors.js';
import type { Envelope } from '../../../../shared/e2ee/schema.js';
import { InboxAckRequest, SendRequest, UiDeviceRequest } from '../../../../shared/wire/relay.js';
import { INBOX_PAGE_DEFAULT, INBOX_PAGE_MAX } from '../../messaging/message-store.js';
import { ApiError } from '../api-error.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { requireAdmin } from '../request-auth.js';
import { requireSignedSession, type SessionEnv } from '../signed-session-auth.js';

function queryInt(c: Context, name: string, dflt: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError(400, 'invalid_request', `${name}: a whole number from ${min} to ${max}.`);
  const n = Number(raw);
  if (n < min || n > max) throw new ApiError(400, 'invalid_request', `${name}: a whole number from ${min} to ${max}.`);
  return n;
}

/** Body -> validated envelope from `me`, or the right 4xx. */
async function envelopeFrom(c: Context, me: string): Promise<Envelope> {
  const req = await readBody(c, SendRequest);
  let envelope: Envelope;
  try {
    envelope = parseEnvelope(req.envelope);
  } catch (err) {
    if (isE2eeError(err)) throw new ApiError(400, 'invalid_envelope', `Not a valid v1 envelope: ${err.message}.`, { reason: err.code });
    throw err;
  }
  if (envelope.from_device !== me) {
    throw new ApiError(403, 'sender_mismatch', `from_device is ${envelope.from_device}, but this request comes from ${me}.`);
  }
  return envelope;
}

export function messageRoutes(core: NodeCore): Hono<SessionEnv> {
  const app = new Hono<SessionEnv>();
  const m = core.messaging;
  const router = core.router;

  /** The five calls, shared by the device API and the admin API; `me` says who calls. */
  const handlers = (me: (c: Context) => string, beforeSend?: () => void) => ({
    directory: (c: Context) => {
      // Answer from the cache at once, and look at the cloud's directory again soon (rate-limited): a device
      // asking is usually waiting for one just paired at another home.
      core.cloud.requestDirectoryRefresh();
      return c.json(router.directory(me(c)));
    },
    send: async (c: Context) => {
      const from = me(c);
      const envelope = await envelopeFrom(c, from);
      beforeSend?.();
      return c.json(await router.send(from, envelope), 202);
    },
    inbox: (c: Context) => {
      const after = queryInt(c, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = queryInt(c, 'limit', INBOX_PAGE_DEFAULT, 1, INBOX_PAGE_MAX);
      return c.json(m.inboxPage(me(c), after, limit));
    },
    ack: async (c: Context) => {
      const req = await readBody(c, InboxAckRequest);
      return c.json({ ok: true, removed: router.ack(me(c), req.up_to_seq) });
    },
    outbox: (c: Context) => c.json({ messages: m.outboxFor(me(c)) }),
  });

  // ---- device API: signed requests; the caller is the session's device (its node_id) ----------------------
  const session = requireSignedSession({ sessions: core.sessionsRepo, nonces: core.nonces, windowMs: core.timings.signatureWindowMs });
  const device = handlers((c) => (c as Context<SessionEnv>).get('session').nodeId);
  app.get('/messages/directory', session, device.directory);
  app.post('/messages', session, device.send);
  app.get('/messages/inbox', session, device.inbox);
  app.post('/messages/inbox/ack', session, device.ack);
  app.get('/messages/outbox', session, device.outbox);

  // ---- admin API: the desktop UI, as its own messaging device `<node_id>.ui` ------------------------------
  const admin = requireAdmin(core.adminToken);
  const ui = handlers(
    () => m.uiDeviceId(),
    () => {
      if (!m.uiPublicKey()) {
        throw new ApiError(409, 'invalid_request', "Register the desktop UI's messaging key first (PUT /api/admin/messages/device).");
      }
    },
  );
  app.put('/admin/messages/device', admin, async (c) => {
    const req = await readBody(c, UiDeviceRequest);
    return c.json({ device_id: m.setUiPublicKey(req.public_key) });
  });
  app.get('/admin/messages/directory', admin, ui.directory);
  app.post('/admin/messages', admin, ui.send);
  app.get('/admin/messages/inbox', admin, ui.inbox);
  app.post('/admin/messages/inbox/ack', admin, ui.ack);
  app.get('/admin/messages/outbox', admin, ui.outbox);

  return app;
}
