// Who is calling: the local desktop UI (admin). Device requests are checked by signed-session-auth.ts.
//
// Admin = the per-launch token AND a loopback peer AND a loopback Host header. The Host check stops a web
// page in the user's browser from reaching the admin API through DNS rebinding; the token stops other local
// users and other local pages.

import { createHash, timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { isLoopbackAddress, isLoopbackHost } from '../../../server/http/loopback.js';
import { plainAddress } from '../net/lan-addresses.js';
import { ApiError } from './api-error.js';

export const ADMIN_WS_PROTOCOL = 'salita-admin';

export function remoteAddress(c: Context): string | undefined {
  const addr = getConnInfo(c).remote.address;
  return addr ? plainAddress(addr) : undefined;
}

function tokensEqual(a: string, b: string): boolean {
  // Hash first so the comparison is over fixed-size values whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The admin token from `Authorization: Admin <t>` or, for WebSockets, the subprotocol list. */
function presentedAdminToken(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth?.startsWith('Admin ')) return auth.slice(6).trim();
  const protocols =
    c.req
      .header('sec-websocket-protocol')
      ?.split(',')
      .map((p) => p.trim()) ?? [];
  if (protocols[0] === ADMIN_WS_PROTOCOL && protocols[1]) return protocols[1];
  return undefined;
}

export function requireAdmin(adminToken: string): MiddlewareHandler {
  return async (c, next) => {
    if (!isLoopbackAddress(remoteAddress(c)) || !isLoopbackHost(c.req.header('host'))) {
      throw new ApiError(403, 'forbidden', 'This endpoint is only available to the desktop app on this machine.');
    }
    const token = presentedAdminToken(c);
    if (!token || !tokensEqual(token, adminToken)) {
      throw new ApiError(401, 'unauthorized', 'Missing or wrong admin token.');
    }
    await next();
  };
}
