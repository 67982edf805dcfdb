// The desktop UI's cloud link API (admin token + loopback): the link's view, login (handshake + code request),
// the one-time code, logout. Cloud trouble is a 4xx with a stable code, never a 500: cloud_unreachable (424),
// cloud_key_changed (409), cloud_rejected (422, the cloud's own code in `cloud_error`), cloud_login_not_started
// (409), invalid_request (400). Status changes also go out on the admin socket as {type:'cloud', cloud}.
import { Hono } from 'hono';
import { NodeAcceptInviteRequest } from '../../../../shared/wire/cloud.js';
import { CloudCodeRequest, CloudExternalLoginRequest, CloudLoginRequest, CloudMethodsRequest } from '../../../../shared/wire/relay.js';
import { CloudLinkError } from '../../cloud/cloud-link.js';
import { ApiError } from '../api-error.js';
import { cloudStatusOf } from '../error-status.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { requireAdmin } from '../request-auth.js';

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CloudLinkError) {
      throw new ApiError(cloudStatusOf(err.code), err.code, err.message, err.cloudError ? { cloud_error: err.cloudError } : {});
    }
    throw err;
  }
}

export function cloudRoutes(core: NodeCore): Hono {
  const app = new Hono();
  const admin = requireAdmin(core.adminToken);

  app.get('/admin/cloud', admin, (c) => c.json(core.cloud.view()));

  app.post('/admin/cloud/login', admin, async (c) => {
    const req = await readBody(c, CloudLoginRequest);
    return c.json(await mapped(() => core.cloud.login(req.url, req.email ?? null)));
  });

  app.post('/admin/cloud/code', admin, async (c) => {
    const req = await readBody(c, CloudCodeRequest);
    return c.json(await mapped(() => core.cloud.submitCode(req.code)));
  });

  app.post('/admin/cloud/logout', admin, async (c) => c.json(await mapped(() => core.cloud.logout())));

  // Sign-in in the browser (a passkey, the cloud's OpenID provider): the view says awaiting_browser and the link
  // to open (the desktop UI opens it in the system browser; headless, it is in the log).
  app.post('/admin/cloud/methods', admin, async (c) => {
    const req = await readBody(c, CloudMethodsRequest);
    return c.json(await mapped(() => core.cloud.externalMethods(req.url)));
  });
  app.post('/admin/cloud/login/external', admin, async (c) => {
    const req = await readBody(c, CloudExternalLoginRequest);
    return c.json(await mapped(() => core.cloud.loginExternal(req.url, req.method)));
  });
  app.post('/admin/cloud/passkeys', admin, async (c) => c.json(await mapped(() => core.cloud.addPasskey())));
  // After a key log alarm: the person trusts the cloud's log again (its next read starts a new history).
  app.post('/admin/cloud/key-log/reset', admin, (c) => c.json(core.cloud.resetKeyLog()));

  // The account's household at the cloud: what the Cloud panel lists, removes and signs out.
  app.get('/admin/cloud/account', admin, async (c) => c.json(await mapped(() => core.cloud.account.view())));
  app.delete('/admin/cloud/account/nodes/:node', admin, async (c) =>
    c.json(await mapped(() => core.cloud.account.removeNode(c.req.param('node') ?? ''))),
  );
  // Contacts (other households): an invite link to give, a pasted one to accept, the list, removing one.
  app.post('/admin/cloud/invites', admin, async (c) => c.json(await mapped(() => core.cloud.account.invite())));
  app.post('/admin/cloud/invites/accept', admin, async (c) => {
    const req = await readBody(c, NodeAcceptInviteRequest);
    return c.json(await mapped(() => core.cloud.account.acceptLink(req.link, req.dry_run === true)));
  });
  app.get('/admin/cloud/contacts', admin, async (c) => c.json(await mapped(() => core.cloud.account.contacts())));
  app.delete('/admin/cloud/contacts/:account_id', admin, async (c) =>
    c.json(await mapped(() => core.cloud.account.removeContact(c.req.param('account_id') ?? ''))),
  );
  app.post('/admin/cloud/account/sign-out', admin, async (c) => c.json(await mapped(() => core.cloud.account.signOutEverywhere())));

  return app;
}
