// Contract of routes/message-routes.ts: the same five calls for a paired device (signed) and for the desktop
// UI as its own messaging device (admin), plus the UI device's key (mounted at /api).

import { z } from 'zod';
import {
  type ContractOperation,
  type ErrorCodes,
  fromEndpoint,
  mergeErrors,
  named,
  type Security,
} from '../../../../server/http/openapi-contract.js';
import { DeviceId } from '../../../../shared/e2ee/schema.js';
import { InboxAckResponse, InboxQuery, OutboxResponse } from '../../../../shared/wire/http-answers.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../../../../shared/wire/prekeys.js';
import { InboxAckRequest, InboxPage, MessagingDirectory, SendAccepted, SendRequest } from '../../../../shared/wire/relay.js';
import { ADMIN_AUTH, BODY_LIMIT, READS_BODY, SIGNED, SIGNED_GET } from './common-errors.js';

/** Refusals of a send after its body parsed (routes, router, message store). */
const SEND_ERRORS: ErrorCodes = {
  400: ['invalid_envelope'],
  403: ['sender_mismatch'],
  409: ['cloud_not_linked', 'invalid_envelope'],
  429: ['outbox_full'],
};

function messagingOperations(
  who: 'device' | 'admin',
  prefix: string,
  idPrefix: string,
  auth: { get: ErrorCodes; other: ErrorCodes },
  sendExtra: ErrorCodes,
): ContractOperation[] {
  const security: Security = who;
  const by = who === 'device' ? 'the calling device' : "the desktop UI's device";
  return [
    {
      operationId: `${idPrefix}Directory`,
      method: 'get',
      path: `${prefix}/messages/directory`,
      security,
      summary: `The messaging directory as ${by} sees it.`,
      success: { status: 200, description: 'The directory.', schema: named('MessagingDirectory', MessagingDirectory) },
      errors: auth.get,
    },
    {
      operationId: `${idPrefix}Send`,
      method: 'post',
      path: `${prefix}/messages`,
      security,
      summary: `Hand an envelope from ${by} to this node.`,
      body: named('SendRequest', SendRequest),
      success: { status: 202, description: 'Committed; on its way.', schema: named('SendAccepted', SendAccepted) },
      errors: mergeErrors(auth.other, READS_BODY, SEND_ERRORS, sendExtra),
    },
    {
      operationId: `${idPrefix}Inbox`,
      method: 'get',
      path: `${prefix}/messages/inbox`,
      security,
      query: InboxQuery,
      summary: `A page of ${by}'s inbox.`,
      success: { status: 200, description: 'The page.', schema: named('InboxPage', InboxPage) },
      errors: mergeErrors(auth.get, { 400: ['invalid_request'] }),
    },
    {
      operationId: `${idPrefix}InboxAck`,
      method: 'post',
      path: `${prefix}/messages/inbox/ack`,
      security,
      summary: 'Drop the inbox up to a seq.',
      body: named('InboxAckRequest', InboxAckRequest),
      success: { status: 200, description: 'Dropped.', schema: named('InboxAckResponse', InboxAckResponse) },
      errors: mergeErrors(auth.other, READS_BODY),
    },
    {
      operationId: `${idPrefix}PublishPrekeys`,
      method: 'put',
      path: `${prefix}/messages/prekeys`,
      security,
      summary: `Publish ${by}'s PQXDH prekeys (checked against its identity key in the directory).`,
      body: named('PublishPrekeysRequest', PublishPrekeysRequest),
      success: { status: 200, description: 'What is stored now.', schema: named('PrekeyStatus', PrekeyStatus) },
      errors: mergeErrors(auth.other, READS_BODY, {
        400: ['invalid_prekey'],
        409: ['prekey_id_taken', 'prekey_limit', 'invalid_request'],
      }),
    },
    {
      operationId: `${idPrefix}PrekeyStatus`,
      method: 'get',
      path: `${prefix}/messages/prekeys`,
      security,
      summary: `What ${by} has stored in the prekey directory.`,
      success: { status: 200, description: 'The status.', schema: named('PrekeyStatus', PrekeyStatus) },
      errors: auth.get,
    },
    {
      operationId: `${idPrefix}ClaimPrekeys`,
      method: 'post',
      path: `${prefix}/messages/prekeys/:device_id/claim`,
      security,
      params: z.object({ device_id: DeviceId }),
      summary: `A prekey bundle for a device ${by} may message (here, from a home desktop, or from the cloud).`,
      success: { status: 200, description: 'The bundle (its one-time prekey gone).', schema: named('PrekeyBundle', PrekeyBundle) },
      errors: mergeErrors(auth.other, BODY_LIMIT, {
        400: ['invalid_request'],
        404: ['unknown_recipient', 'no_prekeys'],
        502: ['cloud_rejected'],
        503: ['peer_unreachable', 'cloud_unreachable'],
      }),
    },
    {
      operationId: `${idPrefix}Outbox`,
      method: 'get',
      path: `${prefix}/messages/outbox`,
      security,
      summary: `The status of what ${by} sent.`,
      success: { status: 200, description: 'The statuses.', schema: named('OutboxResponse', OutboxResponse) },
      errors: auth.get,
    },
  ];
}

export const messageOperations: ContractOperation[] = [
  ...messagingOperations('device', '/api', 'device', { get: SIGNED_GET, other: SIGNED }, {}),
  fromEndpoint(NODE_ENDPOINTS.uiMessagingDevice, {
    operationId: 'uiMessagingDevice',
    security: 'admin',
    summary: "Register the desktop UI's messaging public key.",
    success: { status: 200, description: 'Its device id.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY),
  }),
  // The UI must register its key before it sends: a 409 invalid_request until then.
  ...messagingOperations('admin', '/api/admin', 'ui', { get: ADMIN_AUTH, other: ADMIN_AUTH }, { 409: ['invalid_request'] }),
];
