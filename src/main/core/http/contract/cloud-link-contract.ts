// Contract of routes/cloud-routes.ts: the desktop UI's cloud link API (admin token + loopback, mounted at /api).
import { type ContractOperation, type ErrorCodes, fromEndpoint, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { CloudLinkView } from '../../../../shared/wire/relay.js';
import { ADMIN_AUTH, BODY_LIMIT, READS_BODY } from './common-errors.js';

/** CloudLinkError codes with the statuses cloud-routes.ts gives them. */
const CLOUD_LINK_ERRORS: ErrorCodes = {
  400: ['invalid_request'],
  409: ['cloud_key_changed', 'cloud_login_not_started'],
  422: ['cloud_rejected'],
  424: ['cloud_unreachable'],
};
const _view = { status: 200, description: 'The cloud link now.', schema: named('CloudLinkView', CloudLinkView) };

export const cloudLinkOperations: ContractOperation[] = [
  fromEndpoint(NODE_ENDPOINTS.cloudLink, {
    operationId: 'cloudLink',
    security: 'admin',
    summary: "The cloud link's state.",
    success: { status: 200, description: 'The cloud link now.' },
    errors: ADMIN_AUTH,
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudLogin, {
    operationId: 'cloudLogin',
    security: 'admin',
    summary: 'Handshake with a cloud and ask it for a one-time code.',
    success: { status: 200, description: 'The cloud link now.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudCode, {
    operationId: 'cloudCode',
    security: 'admin',
    summary: 'Finish the cloud login with the one-time code.',
    success: { status: 200, description: 'The cloud link now.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudLogout, {
    operationId: 'cloudLogout',
    security: 'admin',
    summary: 'Log out of the cloud.',
    success: { status: 200, description: 'The cloud link now.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
];
