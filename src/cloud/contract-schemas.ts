// The cloud's request and answer schemas, in one place: src/cloud/app.ts validates with them and
// src/cloud/contract.ts documents the routes with them.
import { z } from 'zod';

export { DirectoryResponse, PublishKeysRequest, PublishKeysResponse } from '../shared/wire/relay.js';

export const ChallengeBody = z.object({ device_id: z.string().min(1).max(100) });
export const RefreshBody = z.object({
  noise_session_id: z.string().min(1).max(100),
  noise_signature: z.string().min(1).max(100),
  last_handshake_at: z.string().min(1).max(64),
});
export const VerifyBody = z.object({
  challenge_id: z.string().min(1).max(100),
  code: z.string().regex(/^\d{6}$/, 'code must be 6 digits'),
  noise_session_id: z.string().min(1).max(100).optional(),
  noise_signature: z.string().min(1).max(100).optional(),
  last_handshake_at: z.string().min(1).max(64).optional(),
});

export const ChallengeResponse = z.object({ challenge_id: z.string(), expires_at: z.string() });
export const NoiseSessionResponse = z.object({
  noise_session: z.object({ token: z.string(), expires_at: z.string(), noise_session_id: z.string().nullable() }),
});
export const MeResponse = z.object({ device_id: z.string(), noise_session_id: z.string().nullable(), expires_at: z.string() });
export const HealthResponse = z.object({ ok: z.literal(true), cloud_static_key: z.string(), flags: z.record(z.string(), z.boolean()) });
export const CloudOkResponse = z.object({ ok: z.literal(true) });
