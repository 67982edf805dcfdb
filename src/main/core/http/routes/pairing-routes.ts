// /auth/pair/*: start (desktop UI only), verify (the device that scanned the QR, or another desktop), a code's
// state (the page carrying the code, before it asks for the PIN), and request (another desktop asks to pair).
import { Hono } from 'hono';
import QRCode from 'qrcode';
import { PairRequestHandshake } from '../../../../shared/wire/pair-request.js';
import {
  PAIRING_CODE_MAX_LENGTH,
  type PairCodeStateResponse,
  PairStartRequest,
  type PairStartResponse,
  PairVerifyRequest,
} from '../../../../shared/wire/schemas.js';
import { ApiError } from '../api-error.js';
import type { NodeCore } from '../node-core.js';
import { RateLimiter, rateLimit } from '../rate-limiter.js';
import { readBody } from '../read-body.js';
import { remoteAddress, requireAdmin } from '../request-auth.js';

export function pairingRoutes(core: NodeCore): Hono {
  const app = new Hono();
  // Per source address. Start counts after the admin check (only the desktop UI can start); lookups count
  // before any work (a verify costs a Noise handshake), whatever the code or PIN.
  const starts = rateLimit(new RateLimiter(core.limits.pairStartsPerMinute), 'pairing codes');
  const lookups = rateLimit(new RateLimiter(core.limits.pairLookupsPerMinute), 'pairing attempts');
  const requests = rateLimit(new RateLimiter(core.limits.pairRequestsPerMinute), 'pair requests');

  app.post('/start', requireAdmin(core.adminToken), starts, async (c) => {
    const req = await readBody(c, PairStartRequest);
    const started = core.pairing.start(req.address);
    // The QR is a picture of the first URL, drawn here: the pairing service deals in codes and URLs only.
    const qrSvg = await QRCode.toString(started.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
    const body: PairStartResponse = { ...started, qr_svg: qrSvg };
    return c.json(body);
  });

  // The same bucket as verify: checking codes is no cheaper way to probe for them than trying them.
  app.get('/codes/:code', lookups, (c) => {
    const code = c.req.param('code');
    if (code.length > PAIRING_CODE_MAX_LENGTH)
      throw new ApiError(400, 'invalid_request', `A pairing code is at most ${PAIRING_CODE_MAX_LENGTH} characters.`);
    const body: PairCodeStateResponse = core.pairing.codeState(code);
    return c.json(body);
  });

  app.post('/verify', lookups, async (c) => {
    const req = await readBody(c, PairVerifyRequest);
    const outcome = core.pairing.verify(req, remoteAddress(c));
    if (outcome.pending) {
      core.feed.emit({ type: 'pairing_confirmation', pairing: outcome.pending });
    } else {
      core.feed.emit({ type: 'pairing_completed', code: outcome.code, node_id: outcome.nodeId, name: outcome.name });
    }
    core.feed.changed();
    return c.json({ noise: outcome.noise });
  });

  // Another desktop asks to pair (docs/protocol.md, "Pair requests"). Anyone may send one, so it is bounded: its
  // own rate-limit bucket per source address, a capped list of prompts, each expiring, one per sending node.
  app.post('/request', requests, async (c) => {
    const req = await readBody(c, PairRequestHandshake);
    const { noise, pending } = core.pairing.request(req.noise, remoteAddress(c));
    core.feed.emit({ type: 'pairing_confirmation', pairing: pending });
    core.feed.changed();
    return c.json({ noise });
  });

  return app;
}
