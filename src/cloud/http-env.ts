// What the cloud's route groups share: the hono environment (the authenticated principal and its token) and
// reading a JSON body against its schema (400 invalid_request on any mismatch, in words).
import type { Context } from 'hono';
import type { z } from 'zod';
import type { Principal } from './auth-service.js';
import { CloudError } from './errors.js';

export type CloudEnv = { Variables: { principal: Principal; token: string } };

/** The body as parsed JSON, unchecked (a route that checks it itself, with its own code). */
export async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new CloudError(400, 'invalid_request', 'The body must be JSON.');
  }
}

export async function readBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const raw = await readJson(c);
  const r = schema.safeParse(raw);
  if (!r.success)
    throw new CloudError(400, 'invalid_request', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}
