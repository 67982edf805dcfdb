// GET /api/peer/link: the WebSocket a paired desktop dials for the peer link (docs/protocol.md, "Peer link").
// Not signed: the Noise handshake on the socket authenticates both sides. Before upgrading, the route only
// checks that the named pairing exists (a session id is not a secret; an unknown one gets a plain 401, which
// the dialer must never take as the end of a pairing) and rate-limits per address like the pairing routes.

import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import type { WebSocket } from 'ws';
import { webSocketHandshakeGuard } from '../../../../server/http/websocket-upgrade.js';
import { PEER_LINK_FEATURES_PARAM, PEER_LINK_SESSION_ID, PEER_LINK_SESSION_PARAM } from '../../../../shared/wire/peer-link.js';
import type { PeerLinkService } from '../../peer-link/peer-link-service.js';
import { ApiError } from '../api-error.js';
import type { NodeCore } from '../node-core.js';
import { RateLimiter, rateLimit } from '../rate-limiter.js';
import { remoteAddress } from '../request-auth.js';

export function peerLinkRoutes(core: NodeCore & { readonly peerLinks?: PeerLinkService }): Hono {
  const app = new Hono();
  const limited = rateLimit(new RateLimiter(core.limits.peerLinkUpgradesPerMinute), 'peer link attempts');

  app.get(
    '/peer/link',
    limited,
    webSocketHandshakeGuard(),
    async (c, next) => {
      const session = c.req.query(PEER_LINK_SESSION_PARAM) ?? '';
      if (!PEER_LINK_SESSION_ID.test(session))
        throw new ApiError(400, 'invalid_request', `Name the pairing with ?${PEER_LINK_SESSION_PARAM}=<session id>.`);
      if (!core.peerLinks?.knowsSession(session))
        throw new ApiError(401, 'session_unknown', 'No pairing with this desktop under that session.');
      await next();
    },
    upgradeWebSocket((c) => {
      const session = c.req.query(PEER_LINK_SESSION_PARAM) ?? '';
      const features = c.req.query(PEER_LINK_FEATURES_PARAM);
      const address = remoteAddress(c);
      let hooks: ReturnType<PeerLinkService['accept']> | undefined;
      return {
        onOpen(_evt, ws) {
          const raw = ws.raw as WebSocket;
          hooks = core.peerLinks!.accept(
            {
              send: (d) => raw.send(d),
              close: (code, reason) => raw.close(code, reason),
              get bufferedAmount() {
                return raw.bufferedAmount;
              },
            },
            session,
            address,
            features,
          );
        },
        onMessage(evt) {
          const data = evt.data as unknown;
          hooks?.receive(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
        },
        onClose(evt) {
          hooks?.closed(evt.code, evt.reason);
        },
      };
    }),
  );

  return app;
}
