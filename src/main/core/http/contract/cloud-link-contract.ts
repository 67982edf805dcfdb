// Contract of routes/cloud-routes.ts: the desktop UI's cloud link API (admin token + loopback, mounted at /api).

import { z } from 'zod';
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
  fromEndpoint(NODE_ENDPOINTS.cloudMethods, {
    operationId: 'cloudMethods',
    security: 'admin',
    summary: 'Which browser sign-ins (passkey, OpenID provider) the cloud at this URL offers.',
    success: { status: 200, description: 'The methods (none from an older cloud).' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudLoginExternal, {
    operationId: 'cloudLoginExternal',
    security: 'admin',
    summary: "Handshake with the cloud and start a sign-in the person finishes in the browser, on the cloud's page.",
    success: { status: 200, description: 'The cloud link now: awaiting_browser, and `external` with the link to open.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudAddPasskey, {
    operationId: 'cloudAddPasskey',
    security: 'admin',
    summary: "Add a passkey to this node's account (registered in the browser, on the cloud's page).",
    success: { status: 200, description: 'The cloud link now, `external` with the link to open.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudKeyLogReset, {
    operationId: 'cloudKeyLogReset',
    security: 'admin',
    summary: "After a key log alarm: trust the cloud's key log again; its next directory read starts a new history.",
    success: { status: 200, description: 'The cloud link now (key_log unchecked until the next read).' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudAccount, {
    operationId: 'cloudAccount',
    security: 'admin',
    summary: "The account this node is logged in to at its cloud: the household's nodes and their devices.",
    success: { status: 200, description: 'The account, as the cloud answered.' },
    errors: mergeErrors(ADMIN_AUTH, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudRemoveNode, {
    operationId: 'cloudRemoveNode',
    security: 'admin',
    params: z.object({ node: z.string() }),
    summary: "Remove a node from the account (its tokens revoked, its devices out of the household's directory).",
    success: { status: 200, description: 'Removed.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudInvite, {
    operationId: 'cloudInvite',
    security: 'admin',
    summary: 'A new invite for another household to become a contact: its link (to give out of band, or as a QR).',
    success: { status: 200, description: 'The invite and its link.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudAcceptInvite, {
    operationId: 'cloudAcceptInvite',
    security: 'admin',
    summary: "Accept (or with dry_run only look at) a pasted invite link; its fingerprint must be the inviting desktop's.",
    success: { status: 200, description: 'Who the invite is from.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, CLOUD_LINK_ERRORS, { 409: ['invite_mismatch'] }),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudContacts, {
    operationId: 'cloudContacts',
    security: 'admin',
    summary: 'The households that are contacts of this one.',
    success: { status: 200, description: 'The contacts.' },
    errors: mergeErrors(ADMIN_AUTH, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudRemoveContact, {
    operationId: 'cloudRemoveContact',
    security: 'admin',
    params: z.object({ account_id: z.string() }),
    summary: 'End a contact with another household (both ways).',
    success: { status: 200, description: 'Removed.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
  fromEndpoint(NODE_ENDPOINTS.cloudSignOutEverywhere, {
    operationId: 'cloudSignOutEverywhere',
    security: 'admin',
    summary: 'Sign every node of the account out of the cloud, this one too.',
    success: { status: 200, description: 'Signed out.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, CLOUD_LINK_ERRORS),
  }),
];
