// Parses and validates a JSON body against a schema from src/shared/wire, turning every way a body can be
// wrong (not JSON, wrong types, unknown fields) into one 400 `invalid_request` that says what was wrong.
import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from './api-error.js';

export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let raw: unknown;
  try {
    raw = text.length === 0 ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_request', 'The request body is not valid JSON.');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message }));
    const first = issues[0];
    throw new ApiError(
      400,
      'invalid_request',
      `The request body is invalid${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}.`,
      { issues },
    );
  }
  return parsed.data;
}
