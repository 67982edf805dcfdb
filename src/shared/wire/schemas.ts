// The wire contract: every JSON body that crosses the node's HTTP/WS boundary is described here once,
// and both the node (validation) and the clients (types) use these definitions.
import { z } from 'zod';
import { DisplayName, PublicKeyB64 } from './primitives.js';
import type { CloudLinkView, InboxPush, MessageStatusPush } from './relay.js';

export { DisplayName, PublicKeyB64 };

/** Node ids are ours (`node-<uuidv7>`) or a phone's; keep them to a safe, printable alphabet. */
export const NodeId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$/, 'node_id: 3-128 chars of A-Z a-z 0-9 . _ : -');
export const Capability = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/);
export const Capabilities = z.array(Capability).max(32);
export const DeviceInfo = z
  .record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean(), z.null()]))
  .refine((o) => Object.keys(o).length <= 32, 'device_info: at most 32 keys');
/** `host:port` or a bare address as a peer reports it; validated loosely, tried strictly later. */
export const AddressText = z.string().min(1).max(300);

export const NodeIdentityPayload = z
  .object({
    node_id: NodeId,
    name: DisplayName,
    capabilities: Capabilities.default([]),
    device_info: DeviceInfo.default({}),
    public_key: PublicKeyB64,
    /** Only desktops listen; phones omit these. */
    port: z.number().int().min(1).max(65535).optional(),
    addresses: z.array(AddressText).max(32).optional(),
  })
  .strict();
export type NodeIdentityPayload = z.infer<typeof NodeIdentityPayload>;

export const PairStartRequest = z
  .object({
    /** The LAN address to put in the QR; must be one of this node's addresses. Default: the first LAN address. */
    address: z.string().max(64).optional(),
  })
  .strict();
export type PairStartRequest = z.infer<typeof PairStartRequest>;

export const PairStartResponse = z.object({
  code: z.string(),
  pin: z.string(),
  linking_code: z.string(),
  url: z.string(),
  /** Every URL under which this node may be reachable (one per LAN address). */
  candidate_urls: z.array(z.string()),
  qr_svg: z.string(),
  expires_at: z.string(),
  fingerprint: z.string(),
});
export type PairStartResponse = z.infer<typeof PairStartResponse>;

/**
 * Pairing runs a Noise handshake (docs/protocol.md) over the request and response of /auth/pair/verify.
 * In clear: only which code is being used. The PIN never crosses the wire; the device's node_identity is
 * inside the first Noise message, the node's answer (PairVerifyResult) inside the second.
 */
export const NoiseMessageB64 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{20,}$/, 'noise: base64url')
  .max(87_400);
/** The longest pairing code a request may name (the node issues UUIDs). */
export const PAIRING_CODE_MAX_LENGTH = 64;

export const PairVerifyRequest = z
  .object({
    code: z.string().min(1).max(PAIRING_CODE_MAX_LENGTH).optional(),
    linking_code: z.string().min(1).max(16).optional(),
    // Any string here: text that is not a Noise message (not base64url, wrong length) is the handshake's
    // refusal, `handshake_failed`, checked once the code is known; the body cap bounds its length.
    noise: z.string(),
  })
  .strict()
  .refine((v) => v.code !== undefined || v.linking_code !== undefined, {
    message: 'code or linking_code is required',
  });
export type PairVerifyRequest = z.infer<typeof PairVerifyRequest>;

/**
 * What a pairing code is, for the page that carries it (GET /auth/pair/codes/:code): the code is public (it is
 * in the QR), so this reveals only whether it can still be used and which desktop issued it, never the PIN.
 */
export const PairCodeState = z.enum(['open', 'expired', 'used', 'locked', 'unknown']);
export type PairCodeState = z.infer<typeof PairCodeState>;
export const PairCodeStateResponse = z.object({
  state: PairCodeState,
  /** ISO 8601; for an `open` or `expired` code. */
  expires_at: z.string().optional(),
  desktop: z.object({ name: z.string(), fingerprint: z.string() }),
});
export type PairCodeStateResponse = z.infer<typeof PairCodeStateResponse>;

export const PairVerifyResponse = z.object({ noise: NoiseMessageB64 });
export type PairVerifyResponse = z.infer<typeof PairVerifyResponse>;

export const DesktopNode = z.object({
  node_id: z.string(),
  name: z.string(),
  hostname: z.string(),
  port: z.number(),
  capabilities: z.array(z.string()),
  public_key: z.string(),
  fingerprint: z.string(),
  addresses: z.array(z.string()),
});
export type DesktopNode = z.infer<typeof DesktopNode>;

/** The payload of the handshake's second message: what the device learns about the node. */
export const PairVerifyResult = z.object({
  ok: z.literal(true),
  session_id: z.string(),
  expires_at: z.string(),
  desktop_node: DesktopNode,
  /** Present when both people must compare a short code before the pairing is active (linking-code pairing). */
  confirmation: z.object({ required: z.literal(true) }).optional(),
});
export type PairVerifyResult = z.infer<typeof PairVerifyResult>;

export const NodeIdentityResponse = z.object({
  node_id: z.string(),
  name: z.string(),
  public_key: z.string(),
  fingerprint: z.string(),
  capabilities: z.array(z.string()),
  version: z.string(),
});
export type NodeIdentityResponse = z.infer<typeof NodeIdentityResponse>;

export const RenameRequest = z.object({ name: DisplayName }).strict();

export const AnnounceRequest = z
  .object({
    node_id: NodeId,
    name: DisplayName,
    hostname: z.string().max(253).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    capabilities: Capabilities.optional(),
    metadata: DeviceInfo.optional(),
    addresses: z.array(AddressText).max(32).optional(),
  })
  .strict();
export type AnnounceRequest = z.infer<typeof AnnounceRequest>;

export const HeartbeatRequest = z
  .object({
    addresses: z.array(AddressText).max(32).optional(),
  })
  .strict();
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

/** online: heard within offlineAfterMs/2; degraded: heard within offlineAfterMs; offline: silent longer, or said goodbye. */
export const NodeStatus = z.enum(['online', 'degraded', 'offline']);
export type NodeStatus = z.infer<typeof NodeStatus>;
export const MeshNodeView = z.object({
  node_id: z.string(),
  name: z.string(),
  hostname: z.string().nullable(),
  port: z.number().nullable(),
  status: NodeStatus,
  kind: z.enum(['desktop', 'phone']),
  capabilities: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  last_seen: z.string().nullable(),
  paired_at: z.string().nullable(),
  created_at: z.string(),
  public_key: z.string().nullable(),
  fingerprint: z.string().nullable(),
  addresses: z.array(z.string()),
  /** Set when this paired desktop unpaired us (told over the peer link): the UI says so and offers Remove. */
  ended_by_peer_at: z.string().nullable().optional(),
});
export type MeshNodeView = z.infer<typeof MeshNodeView>;

export const DiscoveredNodeView = z.object({
  node_id: z.string(),
  name: z.string(),
  fingerprint: z.string(),
  host: z.string(),
  port: z.number(),
  addresses: z.array(z.string()),
  version: z.string(),
  paired: z.boolean(),
});
export type DiscoveredNodeView = z.infer<typeof DiscoveredNodeView>;

/** What an interface is, by its name and address (net/lan-addresses.ts); only 'lan' and 'vpn' are advertised by default. */
export const InterfaceKind = z.enum(['lan', 'vpn', 'container', 'loopback', 'link-local']);
export type InterfaceKind = z.infer<typeof InterfaceKind>;

export const LanAddressView = z.object({
  interface: z.string(),
  address: z.string(),
  family: z.enum(['IPv4', 'IPv6']),
  kind: InterfaceKind,
  /**
   * In AdminState: offered to other devices (QR candidate URLs, mDNS, heartbeats): chosen by the interface settings,
   * accepted by the listener and answered when the node connected to itself there at the last check.
   */
  advertised: z.boolean(),
});
export type LanAddressView = z.infer<typeof LanAddressView>;

/** Node settings kept in `<data dir>/settings.json`; GET/PUT /api/admin/settings. */
export const NodeSettings = z.object({
  /** Interface NAMES to advertise; null = automatic (every 'lan' and 'vpn' interface). */
  interfaces: z.array(z.string().trim().min(1).max(64)).max(64).nullable(),
  /**
   * 'all': the HTTP server listens on every interface (default; an interface that appears later works at once).
   * 'advertised': only on the advertised addresses plus loopback, from the next start (a node started with an
   * explicit --host keeps that host).
   */
  listen: z.enum(['all', 'advertised']),
  /** The cloud this node links to (set by a completed cloud login; null/absent = none). docs/operations.md. */
  cloud_url: z.string().trim().url().max(500).nullable().optional(),
});
export type NodeSettings = z.infer<typeof NodeSettings>;
/** A PUT may change either field; the other keeps its value. */
export const SettingsUpdateRequest = NodeSettings.partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'give interfaces, listen and/or cloud_url' });
export type SettingsUpdateRequest = z.infer<typeof SettingsUpdateRequest>;

/** Something the person should know about, shown until dismissed (kept in memory, newest first). */
export const NoticeView = z.discriminatedUnion('type', [
  z.object({
    id: z.string(),
    type: z.literal('device_replaced'),
    /** The device's name (as it paired again). */
    name: z.string(),
    old_node_id: z.string(),
    new_node_id: z.string(),
    at: z.string(),
  }),
  /** A paired desktop unpaired this one (told over the peer link): "<name> unpaired this desktop". */
  z.object({
    id: z.string(),
    type: z.literal('peer_unpaired'),
    /** The other desktop's name as this node knew it. */
    name: z.string(),
    node_id: z.string(),
    at: z.string(),
  }),
]);
export type NoticeView = z.infer<typeof NoticeView>;

/** GET /api/node/addresses (public): every advertised pairing base URL, for the phone page. */
export const NodeAddressesResponse = z.object({ urls: z.array(z.string()) });
export type NodeAddressesResponse = z.infer<typeof NodeAddressesResponse>;

export const HeartbeatAttemptView = z.object({ address: z.string(), ok: z.boolean(), error: z.string().optional() });
export type HeartbeatAttemptView = z.infer<typeof HeartbeatAttemptView>;

/** GET /api/node/diagnostics (admin): what the "Network" panel shows. */
export const DiagnosticsResponse = z.object({
  interfaces: z.array(
    z.object({
      name: z.string(),
      address: z.string(),
      family: z.enum(['IPv4', 'IPv6']),
      kind: InterfaceKind,
      advertised: z.boolean(),
    }),
  ),
  /** Interface names chosen in the settings that this machine does not have right now. */
  missing_interfaces: z.array(z.string()),
  port: z.number(),
  /** `pending_restart`: the listen setting differs from what this run listens on. */
  listen: z.object({ host: z.string(), addresses: z.array(z.string()), pending_restart: z.boolean().optional() }),
  /** This machine calling its own advertised address:port (GET /api/node/identity, short timeout). */
  reachability: z.array(z.object({ address: z.string(), url: z.string(), ok: z.boolean(), error: z.string().optional() })),
  mdns: z.object({
    enabled: z.boolean(),
    running: z.boolean(),
    instance_name: z.string().optional(),
    advertised_addresses: z.array(z.string()),
    discovered: z.number(),
    last_error: z.string().optional(),
  }),
  peers: z.array(
    z.object({
      node_id: z.string(),
      name: z.string(),
      status: NodeStatus,
      last_seen: z.string().nullable(),
      addresses: z.array(z.string()),
      last_attempt: z.object({ at: z.string(), tried: z.array(HeartbeatAttemptView) }).optional(),
    }),
  ),
  firewall_hints: z.array(z.object({ os: z.enum(['linux', 'macos', 'windows']), text: z.string() })),
});
export type DiagnosticsResponse = z.infer<typeof DiagnosticsResponse>;

/**
 * A desktop pairing waiting for its person to confirm that both screens show the same short code
 * (pairing by linking code after mDNS discovery; see docs/threat-model.md). `outgoing`: this node started it.
 */
export const PendingPairingView = z.object({
  pairing_id: z.string(),
  direction: z.enum(['incoming', 'outgoing']),
  node_id: z.string(),
  name: z.string(),
  fingerprint: z.string(),
  /** 6 digits, shown as "123 456" on both screens. */
  sas: z.string(),
  expires_at: z.string(),
  /**
   * Pair requests (docs/protocol.md, "Pair requests") only. Outgoing: waiting for the other desktop's person, or
   * what became of it (declined / expired / failed, with `message`), shown until dismissed (reject) or expiry.
   */
  status: z.enum(['waiting', 'declined', 'expired', 'failed']).optional(),
  message: z.string().optional(),
  /** False when the fingerprint was only learned from the other node itself (no mDNS record or link to check it). */
  fingerprint_pinned: z.boolean().optional(),
});
export type PendingPairingView = z.infer<typeof PendingPairingView>;

/** What the desktop UI renders; pushed whole on every change over the admin WebSocket. */
export const AdminState = z.object({
  identity: NodeIdentityResponse,
  port: z.number(),
  devices: z.array(MeshNodeView),
  discovered: z.array(DiscoveredNodeView),
  lan_addresses: z.array(LanAddressView),
  pending_pairings: z.array(PendingPairingView),
  /** Newest first, at most 20. */
  notices: z.array(NoticeView),
});
export type AdminState = z.infer<typeof AdminState>;

/** Admin asks this node to pair with another desktop, using what that desktop's screen shows. */
export const PairRemoteRequest = z
  .object({
    /** The other desktop's pairing URL (from its QR / screen) ... */
    url: z.string().url().max(2048).optional(),
    /** ... or its address plus the linking code shown on its screen (e.g. after mDNS discovery). */
    host: z.string().max(253).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    linking_code: z.string().max(16).optional(),
    /** Fingerprint to expect (from the URL or the mDNS record); the pairing is refused if it differs. */
    fingerprint: z.string().max(32).optional(),
    pin: z.string().regex(/^\d{6}$/, 'pin: exactly 6 digits'),
  })
  .strict()
  .refine((v) => v.url !== undefined || (v.host !== undefined && v.port !== undefined && v.linking_code !== undefined), {
    message: 'give url, or host + port + linking_code',
  });
export type PairRemoteRequest = z.infer<typeof PairRemoteRequest>;

/** pair-remote's answer: paired at once (URL with fingerprint), or waiting for both people to compare codes. */
export type PairRemoteResponse = { ok: true; node: MeshNodeView } | { ok: true; pending: PendingPairingView };

/** Messages the node pushes to the desktop UI over `/api/admin/events`. */
export type AdminEvent =
  | { type: 'state'; state: AdminState }
  | { type: 'pairing_completed'; code: string; node_id: string; name: string }
  | { type: 'pairing_confirmation'; pairing: PendingPairingView }
  /** The cloud link's state changed (src/main/core/cloud/cloud-link.ts). */
  | { type: 'cloud'; cloud: CloudLinkView }
  /** For the desktop UI's own messaging device: an envelope arrived / a sent message's status changed. */
  | InboxPush
  | MessageStatusPush;
