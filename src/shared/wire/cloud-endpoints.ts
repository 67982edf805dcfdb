// The cloud's routes a node calls, as endpoints: the cloud's contract (src/cloud/contract.ts) is built from these
// objects and the node's cloud client (main/core/cloud/cloud-api.ts) sends their bodies and parses their answers
// with them, so a changed schema breaks the build (and the parse) of both sides.

import { z } from 'zod';
import {
  AcceptInviteRequest,
  AccountResponse,
  ChallengeRequest,
  ChallengeResponse,
  ContactsResponse,
  HealthResponse,
  InvitePreviewRequest,
  InviteResponse,
  InviteView,
  LogoutResponse,
  MeResponse,
  NoiseSessionResponse,
  RefreshRequest,
  RemoveContactResponse,
  RemoveNodeResponse,
  SignOutEverywhereResponse,
  VerifyRequest,
} from './cloud.js';
import { BlobReceivedResponse, IncomingBlobsResponse, OfferBlobRequest, OfferBlobResponse } from './cloud-blobs.js';
import { endpoint, named } from './endpoint.js';
import { CreateExternalSessionRequest, ExternalMethodsResponse, ExternalSessionResponse, ExternalSessionState } from './external-login.js';
import { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from './prekeys.js';
import {
  DirectoryResponse,
  KeyLogConsistencyResponse,
  KeyLogHashesResponse,
  KeyLogHeadSchema,
  KeyLogLeavesRequest,
  KeyLogLeavesResponse,
  KeyLogProofsRequest,
  KeyLogProofsResponse,
  PublishKeysRequest,
  PublishKeysResponse,
  PublishReplacementsRequest,
  ReplacementsResponse,
} from './relay.js';

const session = named('NoiseSessionResponse', NoiseSessionResponse);

export const CLOUD_ENDPOINTS = {
  health: endpoint({ method: 'get', path: '/healthz', response: named('HealthResponse', HealthResponse) }),
  authChallenge: endpoint({
    method: 'post',
    path: '/api/auth/challenge',
    body: named('ChallengeBody', ChallengeRequest),
    response: named('ChallengeResponse', ChallengeResponse),
  }),
  authVerify: endpoint({ method: 'post', path: '/api/auth/verify', body: named('VerifyBody', VerifyRequest), response: session }),
  authRefresh: endpoint({ method: 'post', path: '/api/auth/refresh', body: named('RefreshBody', RefreshRequest), response: session }),
  authLogout: endpoint({ method: 'post', path: '/api/auth/logout', response: named('CloudOkResponse', LogoutResponse) }),
  me: endpoint({ method: 'get', path: '/api/me', response: named('MeResponse', MeResponse) }),
  publishKeys: endpoint({
    method: 'put',
    path: '/api/keys',
    body: named('PublishKeysRequest', PublishKeysRequest),
    response: named('PublishKeysResponse', PublishKeysResponse),
  }),
  keyDirectory: endpoint({ method: 'get', path: '/api/keys', response: named('DirectoryResponse', DirectoryResponse) }),
  // ---- re-paired devices' older ids (a cloud without them answers 404: the node then does without)
  publishReplacements: endpoint({
    method: 'put',
    path: '/api/keys/replacements',
    body: named('PublishReplacementsRequest', PublishReplacementsRequest),
    response: named('ReplacementsResponse', ReplacementsResponse),
  }),
  keyReplacements: endpoint({
    method: 'get',
    path: '/api/keys/replacements',
    response: named('ReplacementsResponse', ReplacementsResponse),
  }),
  // ---- prekeys (docs/e2ee.md "Prekeys and the directory"): a node's own devices publish, anyone logged in claims
  publishPrekeys: endpoint({
    method: 'put',
    path: '/api/keys/:device_id/prekeys',
    body: named('PublishPrekeysRequest', PublishPrekeysRequest),
    response: named('PrekeyStatus', PrekeyStatus),
  }),
  prekeyStatus: endpoint({ method: 'get', path: '/api/keys/:device_id/prekeys', response: named('PrekeyStatus', PrekeyStatus) }),
  claimPrekeys: endpoint({
    method: 'post',
    path: '/api/keys/:device_id/prekeys/claim',
    response: named('PrekeyBundle', PrekeyBundle),
  }),
  // ---- blobs (the bytes go by tus and HTTP Range: their routes are in the contract alone)
  blobOffer: endpoint({
    method: 'put',
    path: '/api/blobs/:sha256/recipients',
    body: named('OfferBlobRequest', OfferBlobRequest),
    response: named('OfferBlobResponse', OfferBlobResponse),
  }),
  // ---- the key directory's log (docs/key-transparency.md)
  keyLogHead: endpoint({ method: 'get', path: '/api/keys/log/head', response: named('KeyLogHead', KeyLogHeadSchema) }),
  keyLogProofs: endpoint({
    method: 'post',
    path: '/api/keys/log/proofs',
    body: named('KeyLogProofsRequest', KeyLogProofsRequest),
    response: named('KeyLogProofsResponse', KeyLogProofsResponse),
  }),
  keyLogConsistency: endpoint({
    method: 'get',
    path: '/api/keys/log/consistency',
    query: z.object({ from: z.string(), to: z.string() }),
    response: named('KeyLogConsistencyResponse', KeyLogConsistencyResponse),
  }),
  keyLogHashes: endpoint({
    method: 'get',
    path: '/api/keys/log/hashes',
    query: z.object({ from: z.string(), to: z.string() }),
    response: named('KeyLogHashesResponse', KeyLogHashesResponse),
  }),
  keyLogLeaves: endpoint({
    method: 'post',
    path: '/api/keys/log/leaves',
    body: named('KeyLogLeavesRequest', KeyLogLeavesRequest),
    response: named('KeyLogLeavesResponse', KeyLogLeavesResponse),
  }),
  // ---- the account (docs/cloud.md "Accounts")
  account: endpoint({ method: 'get', path: '/api/account', response: named('AccountResponse', AccountResponse) }),
  removeAccountNode: endpoint({
    method: 'delete',
    path: '/api/account/nodes/:node',
    response: named('RemoveNodeResponse', RemoveNodeResponse),
  }),
  signOutEverywhere: endpoint({
    method: 'post',
    path: '/api/account/sign-out',
    response: named('SignOutEverywhereResponse', SignOutEverywhereResponse),
  }),
  // ---- contacts between households (docs/cloud.md "Contacts")
  createInvite: endpoint({ method: 'post', path: '/api/invites', response: named('InviteResponse', InviteResponse) }),
  previewInvite: endpoint({
    method: 'post',
    path: '/api/invites/preview',
    body: named('InvitePreviewRequest', InvitePreviewRequest),
    response: named('InviteView', InviteView),
  }),
  acceptInvite: endpoint({
    method: 'post',
    path: '/api/invites/accept',
    body: named('AcceptInviteRequest', AcceptInviteRequest),
    response: named('InviteView', InviteView),
  }),
  contacts: endpoint({ method: 'get', path: '/api/contacts', response: named('ContactsResponse', ContactsResponse) }),
  removeContact: endpoint({
    method: 'delete',
    path: '/api/contacts/:account_id',
    response: named('RemoveContactResponse', RemoveContactResponse),
  }),
  externalMethods: endpoint({
    method: 'get',
    path: '/api/auth/external/methods',
    response: named('ExternalMethodsResponse', ExternalMethodsResponse),
  }),
  externalCreate: endpoint({
    method: 'post',
    path: '/api/auth/external/sessions',
    body: named('CreateExternalSessionRequest', CreateExternalSessionRequest),
    response: named('ExternalSessionResponse', ExternalSessionResponse),
  }),
  externalState: endpoint({
    method: 'get',
    path: '/api/auth/external/sessions/:token',
    response: named('ExternalSessionState', ExternalSessionState),
  }),
  blobIncoming: endpoint({ method: 'get', path: '/api/blobs/incoming', response: named('IncomingBlobsResponse', IncomingBlobsResponse) }),
  blobReceived: endpoint({
    method: 'post',
    path: '/api/blobs/:sha256/received',
    response: named('BlobReceivedResponse', BlobReceivedResponse),
  }),
} as const;
