// The node's whole HTTP contract: every route of http/app.ts, from the per-route-file contracts next to this
// file, and the OpenAPI 3.1 document built from them (served at GET /api/openapi.json).
import { type ContractOperation, contractDocument, OPENAPI_PATH, openApiOperation } from '../../../../server/http/openapi-contract.js';
import { adminOperations } from './admin-contract.js';
import { cloudLinkOperations } from './cloud-link-contract.js';
import { UNROUTED } from './common-errors.js';
import { deviceOperations } from './device-contract.js';
import { FILE_OPERATIONS } from './file-contract.js';
import { identityOperations } from './identity-contract.js';
import { messageOperations } from './message-contract.js';
import { pairingOperations } from './pairing-contract.js';
import { peerLinkOperations } from './peer-link-contract.js';

export { OPENAPI_PATH };

export const nodeOperations: readonly ContractOperation[] = [
  ...pairingOperations,
  ...identityOperations,
  ...adminOperations,
  ...cloudLinkOperations,
  ...deviceOperations,
  ...messageOperations,
  ...FILE_OPERATIONS,
  ...peerLinkOperations,
  openApiOperation('nodeOpenApi'),
];

/** Routes of the node app that are not API and so not in the document, each with why. */
export const NODE_UNDOCUMENTED_ROUTES: Readonly<Record<string, string>> = {
  'GET /': "the desktop UI's HTML page (static file, loopback peers only; others are redirected to /pair), not an API",
  'GET /pair': "the phone pairing page's HTML (static file), not an API",
  'GET /assets/*': "the UI's built scripts and styles (static files, catch-all path)",
};

const SECURITY = {
  admin: {
    description:
      '`Authorization: Admin <token>`: the per-launch admin token, accepted only from a loopback peer with a loopback Host header (docs/protocol.md).',
  },
  device: {
    description:
      '`Authorization: Session <session id>` with `X-Timestamp`, `X-Nonce` and `X-Signature` (HMAC over the exact request; docs/protocol.md, "Signed requests"). WebSocket upgrades may carry the four values as query parameters.',
  },
};

export function nodeOpenApiDocument(version: string): Record<string, unknown> {
  return contractDocument({
    title: 'Salita node',
    version,
    description:
      "The HTTP API of a Salita node. Every error answer is JSON `{error, message}`; each operation lists its codes by status in `x-error-codes` (and as the enum of its error bodies' `error`).",
    securitySchemes: SECURITY,
    operations: nodeOperations,
    unroutedErrors: UNROUTED,
  });
}
