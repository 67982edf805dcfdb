// Contract of routes/cloud-routes.ts: the desktop UI's cloud link API (admin token + loopback, mounted at /api).
import { type ContractOperation, type ErrorCodes, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { CloudCodeRequest, CloudLinkView, CloudLoginRequest } from '../../../../shared/wire/relay.js';
import { ADMIN_AUTH, BODY_LIMIT, READS_BODY } from './common-errors.js';

/** CloudLinkError codes with the statuses cloud-routes.ts gives them. */
const CLOUD_LINK_ERRORS: ErrorCodes = {
  400: ['invalid_request'],
  409: ['cloud_key_changed', 'cloud_login_not_started'],
  422: ['cloud_rejected'],
  424: ['cloud_unreachable'],
};
const view = { status: 200, description: 'The cloud link now.', schema: named('CloudLinkView', CloudLinkView) };

export const cloudLinkOperations: ContractOperation[] = [
  {
    operationId: 'cloudLink',
    method: 'get',
    path: '/api/admin/cloud',
    security: 'admin',
    summary: "The cloud link's state.",
    success: view,
    errors: ADMIN_AUTH,
  },
  {
    operationId: 'cloudLogin',
    method: 'post',
    path: '/api/admin/cloud/login',
    security: 'admin',
    summary: 'Handshake with a cloud and ask it for a one-time code.',
    body: named('CloudLoginRequest', CloudLoginRequest),
    success: view,
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  },
  {
    operationId: 'cloudCode',
    method: 'post',
    path: '/api/admin/cloud/code',
    security: 'admin',
    summary: 'Finish the cloud login with the one-time code.',
    body: named('CloudCodeRequest', CloudCodeRequest),
    success: view,
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  },
  {
    operationId: 'cloudLogout',
    method: 'post',
    path: '/api/admin/cloud/logout',
    security: 'admin',
    summary: 'Log out of the cloud.',
    success: view,
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  },
];
