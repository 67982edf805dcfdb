// The prekey directory's routes (shared/wire/prekeys.ts): a paired device (signed requests) under /api/messages
// and the desktop UI as its device `<node_id>.ui` (admin token) under /api/admin/messages publish their own
// prekeys, read what is stored, and claim a bundle for a device they may message. Where a claim is answered
// (here, a home desktop over the peer link, the cloud) is prekeys/prekey-directory.ts; this file gives each
// answer its status.
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DeviceId } from '../../../../shared/e2ee/schema.js';
import { PublishPrekeysRequest } from '../../../../shared/wire/prekeys.js';
import type { ClaimRefusal } from '../../prekeys/prekey-directory.js';
import { ApiError } from '../api-error.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { requireAdmin } from '../request-auth.js';
import { requireSignedSession, type SessionEnv } from '../signed-session-auth.js';

/** A refused claim: the device is not there (404) or its server is away now (503, try again; 502 the cloud said no). */
export const CLAIM_STATUS: Record<ClaimRefusal, ContentfulStatusCode> = {
  unknown_recipient: 404,
  no_prekeys: 404,
  peer_unreachable: 503,
  cloud_unreachable: 503,
  cloud_rejected: 502,
};

export function prekeyRoutes(core: NodeCore): Hono<SessionEnv> {
  const app = new Hono<SessionEnv>();
  const prekeys = core.prekeys;

  const handlers = (me: (c: Context) => string) => ({
    publish: async (c: Context) => {
      const req = await readBody(c, PublishPrekeysRequest);
      const status = prekeys.publish(me(c), req);
      if (!status) {
        throw new ApiError(409, 'invalid_request', 'This device has no messaging key here yet: register it before publishing prekeys.');
      }
      return c.json(status);
    },
    status: (c: Context) => c.json(prekeys.status(me(c))),
    claim: async (c: Context) => {
      const target = DeviceId.safeParse(c.req.param('device_id'));
      if (!target.success) throw new ApiError(400, 'invalid_request', 'device_id: not a device id.');
      const r = await prekeys.claim(me(c), target.data);
      if (!r.ok) throw new ApiError(CLAIM_STATUS[r.error], r.error, r.message);
      return c.json(r.bundle);
    },
  });

  const session = requireSignedSession({ sessions: core.sessionsRepo, nonces: core.nonces, windowMs: core.timings.signatureWindowMs });
  const device = handlers((c) => (c as Context<SessionEnv>).get('session').nodeId);
  app.put('/messages/prekeys', session, device.publish);
  app.get('/messages/prekeys', session, device.status);
  app.post('/messages/prekeys/:device_id/claim', session, device.claim);

  const admin = requireAdmin(core.adminToken);
  const ui = handlers(() => core.messaging.uiDeviceId());
  app.put('/admin/messages/prekeys', admin, ui.publish);
  app.get('/admin/messages/prekeys', admin, ui.status);
  app.post('/admin/messages/prekeys/:device_id/claim', admin, ui.claim);

  return app;
}
