// Contacts between households (contacts.ts): invite, look at an invite, accept it, list, remove. Any node of a
// household acts for it. Invite tokens travel in bodies only.
import type { Hono, MiddlewareHandler } from 'hono';
import {
  AcceptInviteRequest,
  type ContactsResponse,
  InvitePreviewRequest,
  type InviteResponse,
  type InviteView,
  type RemoveContactResponse,
} from '../shared/wire/cloud.js';
import { accountOf } from './account-routes.js';
import type { Contacts } from './contacts.js';
import { type CloudEnv, readBody } from './http-env.js';

export function mountContactRoutes(app: Hono<CloudEnv>, d: { readonly contacts: Contacts }, authed: MiddlewareHandler<CloudEnv>): void {
  app.post('/api/invites', authed, async (c) => {
    const p = c.get('principal');
    return c.json((await d.contacts.invite(accountOf(p), p.deviceId)) satisfies InviteResponse);
  });
  app.post('/api/invites/preview', authed, async (c) => {
    const body = await readBody(c, InvitePreviewRequest);
    return c.json((await d.contacts.preview(accountOf(c.get('principal')), body.token)) satisfies InviteView);
  });
  app.post('/api/invites/accept', authed, async (c) => {
    const body = await readBody(c, AcceptInviteRequest);
    return c.json((await d.contacts.accept(accountOf(c.get('principal')), body.token, body.fingerprint)) satisfies InviteView);
  });
  app.get('/api/contacts', authed, async (c) =>
    c.json({ contacts: await d.contacts.list(accountOf(c.get('principal'))) } satisfies ContactsResponse),
  );
  app.delete('/api/contacts/:account_id', authed, async (c) => {
    const other = c.req.param('account_id') ?? '';
    await d.contacts.remove(accountOf(c.get('principal')), other);
    return c.json({ removed: other } satisfies RemoveContactResponse);
  });
}
