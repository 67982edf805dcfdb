// The node's routes that its own pages call (the desktop UI with the admin token, the phone page in public), as
// endpoints: the node's contract (main/core/http/contract/) is built from these objects, the pages call them
// through the typed client. Routes only other nodes call keep their entries in the contract alone.
import {
  AccountResponse,
  ContactsResponse,
  InviteView,
  NodeAcceptInviteRequest,
  NodeInviteResponse,
  RemoveContactResponse,
  RemoveNodeResponse,
  SignOutEverywhereResponse,
} from './cloud.js';
import { endpoint, named } from './endpoint.js';
import { ExternalMethodsResponse } from './external-login.js';
import { FileStatus } from './files.js';
import { OkResponse, PairingConfirmResponse, PairRemoteResponse, UiDeviceResponse } from './http-answers.js';
import { PairRequestCreate, PairRequestCreateResponse } from './pair-request.js';
import {
  CloudCodeRequest,
  CloudExternalLoginRequest,
  CloudLinkView,
  CloudLoginRequest,
  CloudMethodsRequest,
  UiDeviceRequest,
} from './relay.js';
import {
  AdminState,
  DiagnosticsResponse,
  NodeAddressesResponse,
  NodeIdentityResponse,
  NodeSettings,
  PairCodeStateResponse,
  PairRemoteRequest,
  PairStartRequest,
  PairStartResponse,
  RenameRequest,
  SettingsUpdateRequest,
} from './schemas.js';

const ok = named('OkResponse', OkResponse);
const cloudView = named('CloudLinkView', CloudLinkView);

const fileStatus = named('FileStatus', FileStatus);

export const NODE_ENDPOINTS = {
  // ---- files (a paired device, signed; the desktop UI under /api/admin)
  fileStatus: endpoint({ method: 'get', path: '/api/files/:id/status', response: fileStatus }),
  fileReceived: endpoint({ method: 'post', path: '/api/files/:id/received', response: ok }),
  adminFileStatus: endpoint({ method: 'get', path: '/api/admin/files/:id/status', response: fileStatus }),
  adminFileReceived: endpoint({ method: 'post', path: '/api/admin/files/:id/received', response: ok }),
  // ---- public
  nodeIdentity: endpoint({ method: 'get', path: '/api/node/identity', response: named('NodeIdentityResponse', NodeIdentityResponse) }),
  nodeAddresses: endpoint({ method: 'get', path: '/api/node/addresses', response: named('NodeAddressesResponse', NodeAddressesResponse) }),
  pairCodeState: endpoint({
    method: 'get',
    path: '/auth/pair/codes/:code',
    response: named('PairCodeStateResponse', PairCodeStateResponse),
  }),
  // ---- admin (desktop UI)
  pairStart: endpoint({
    method: 'post',
    path: '/auth/pair/start',
    body: named('PairStartRequest', PairStartRequest),
    response: named('PairStartResponse', PairStartResponse),
  }),
  adminState: endpoint({ method: 'get', path: '/api/admin/state', response: named('AdminState', AdminState) }),
  adminSettings: endpoint({ method: 'get', path: '/api/admin/settings', response: named('NodeSettings', NodeSettings) }),
  updateAdminSettings: endpoint({
    method: 'put',
    path: '/api/admin/settings',
    body: named('SettingsUpdateRequest', SettingsUpdateRequest),
    response: named('NodeSettings', NodeSettings),
  }),
  dismissNotice: endpoint({ method: 'post', path: '/api/admin/notices/:id/dismiss', response: ok }),
  nodeDiagnostics: endpoint({
    method: 'get',
    path: '/api/node/diagnostics',
    response: named('DiagnosticsResponse', DiagnosticsResponse),
  }),
  renameNode: endpoint({
    method: 'patch',
    path: '/api/node/identity',
    body: named('RenameRequest', RenameRequest),
    response: named('NodeIdentityResponse', NodeIdentityResponse),
  }),
  unpairNode: endpoint({ method: 'delete', path: '/api/mesh/nodes/:node_id', response: ok }),
  pairRemote: endpoint({
    method: 'post',
    path: '/api/admin/pair-remote',
    body: named('PairRemoteRequest', PairRemoteRequest),
    response: named('PairRemoteResponse', PairRemoteResponse),
  }),
  pairRequest: endpoint({
    method: 'post',
    path: '/api/admin/pair-requests',
    body: named('PairRequestCreate', PairRequestCreate),
    response: named('PairRequestCreateResponse', PairRequestCreateResponse),
  }),
  confirmPairing: endpoint({
    method: 'post',
    path: '/api/admin/pairings/:id/confirm',
    response: named('PairingConfirmResponse', PairingConfirmResponse),
  }),
  rejectPairing: endpoint({ method: 'post', path: '/api/admin/pairings/:id/reject', response: ok }),
  cloudLink: endpoint({ method: 'get', path: '/api/admin/cloud', response: cloudView }),
  cloudLogin: endpoint({
    method: 'post',
    path: '/api/admin/cloud/login',
    body: named('CloudLoginRequest', CloudLoginRequest),
    response: cloudView,
  }),
  cloudCode: endpoint({
    method: 'post',
    path: '/api/admin/cloud/code',
    body: named('CloudCodeRequest', CloudCodeRequest),
    response: cloudView,
  }),
  cloudLogout: endpoint({ method: 'post', path: '/api/admin/cloud/logout', response: cloudView }),
  cloudMethods: endpoint({
    method: 'post',
    path: '/api/admin/cloud/methods',
    body: named('CloudMethodsRequest', CloudMethodsRequest),
    response: named('CloudMethodsResponse', ExternalMethodsResponse),
  }),
  cloudLoginExternal: endpoint({
    method: 'post',
    path: '/api/admin/cloud/login/external',
    body: named('CloudExternalLoginRequest', CloudExternalLoginRequest),
    response: cloudView,
  }),
  cloudAddPasskey: endpoint({ method: 'post', path: '/api/admin/cloud/passkeys', response: cloudView }),
  cloudKeyLogReset: endpoint({ method: 'post', path: '/api/admin/cloud/key-log/reset', response: cloudView }),
  cloudAccount: endpoint({ method: 'get', path: '/api/admin/cloud/account', response: named('CloudAccountResponse', AccountResponse) }),
  cloudRemoveNode: endpoint({
    method: 'delete',
    path: '/api/admin/cloud/account/nodes/:node',
    response: named('CloudRemoveNodeResponse', RemoveNodeResponse),
  }),
  cloudInvite: endpoint({
    method: 'post',
    path: '/api/admin/cloud/invites',
    response: named('CloudInviteResponse', NodeInviteResponse),
  }),
  cloudAcceptInvite: endpoint({
    method: 'post',
    path: '/api/admin/cloud/invites/accept',
    body: named('CloudAcceptInviteRequest', NodeAcceptInviteRequest),
    response: named('CloudInviteView', InviteView),
  }),
  cloudContacts: endpoint({ method: 'get', path: '/api/admin/cloud/contacts', response: named('CloudContactsResponse', ContactsResponse) }),
  cloudRemoveContact: endpoint({
    method: 'delete',
    path: '/api/admin/cloud/contacts/:account_id',
    response: named('CloudRemoveContactResponse', RemoveContactResponse),
  }),
  cloudSignOutEverywhere: endpoint({
    method: 'post',
    path: '/api/admin/cloud/account/sign-out',
    response: named('CloudSignOutEverywhereResponse', SignOutEverywhereResponse),
  }),
  uiMessagingDevice: endpoint({
    method: 'put',
    path: '/api/admin/messages/device',
    body: named('UiDeviceRequest', UiDeviceRequest),
    response: named('UiDeviceResponse', UiDeviceResponse),
  }),
} as const;
