// One node's WS /v1/relay: reads its frames (docs/cloud.md "Relay"), answers in the order the frames came,
// and never lets a bad frame take the socket down (it gets an `error` frame with a stable code instead).
import type { WSEvents } from 'hono/ws';
import { E2eeError, type Envelope, MAX_ENVELOPE_JSON_BYTES, parseEnvelope } from '../shared/e2ee/index.js';
import { type CloudToNodeFrame, NodeToCloudFrame } from '../shared/wire/relay.js';
import type { RelayHub, RelayLink } from './relay-hub.js';
import type { RelayWriter } from './relay-writer.js';

/** A send frame is `{"type":"send","envelope":…}` around at most MAX_ENVELOPE_JSON_BYTES; room for whitespace. */
export const MAX_RELAY_FRAME_BYTES = MAX_ENVELOPE_JSON_BYTES + 1024;

/** Codes of the `error` frame. */
export type RelayFrameError = 'binary_frame' | 'frame_too_large' | 'invalid_json' | 'unknown_type' | 'invalid_frame';

const frame = (f: CloudToNodeFrame) => JSON.stringify(f);
const error = (code: RelayFrameError, message: string) => frame({ type: 'error', error: code, message });

export function relaySocket(d: { hub: RelayHub; writer: RelayWriter; node: string; token: string }): WSEvents {
  let link: RelayLink | undefined;
  // Answers leave in frame order even though a send waits for its commit and a bad frame does not.
  let tail: Promise<void> = Promise.resolve();
  const answer = (next: Promise<string | null> | string | null) => {
    tail = tail
      .then(() => next)
      .then(
        (f) => {
          if (f) link?.send(f);
        },
        (err: unknown) => {
          if (link) d.hub.fail(link, err);
        },
      );
  };

  const handle = (data: unknown): Promise<string | null> | string | null => {
    if (typeof data !== 'string') return error('binary_frame', 'Relay frames are text frames with one JSON object each.');
    if (Buffer.byteLength(data) > MAX_RELAY_FRAME_BYTES)
      return error('frame_too_large', `Relay frames are limited to ${MAX_RELAY_FRAME_BYTES} bytes.`);
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      return error('invalid_json', 'The frame is not JSON.');
    }
    const type = raw !== null && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
    if (type !== 'send' && type !== 'ack')
      return error('unknown_type', `Unknown frame type ${JSON.stringify(type)?.slice(0, 40) ?? '(none)'}; a node sends "send" or "ack".`);
    const parsed = NodeToCloudFrame.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      return error('invalid_frame', `${type}: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'}`);
    }
    const f = parsed.data;
    if (f.type === 'ack') {
      link?.acked(f.seq);
      return d.writer.ack(d.node, f.seq, f.refused).then(() => null);
    }
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(f.envelope);
    } catch (err) {
      const id = (f.envelope as { id?: unknown } | null)?.id;
      return frame({
        type: 'rejected',
        id: typeof id === 'string' ? id.slice(0, 100) : '',
        error: 'invalid_envelope',
        message: err instanceof E2eeError ? err.message : 'not an envelope',
      });
    }
    // The validated object re-serialized: the stored body and the bytes idempotence compares (zod emits the
    // schema's key order, so a resend compares equal whatever order its sender wrote).
    const body = JSON.stringify(envelope);
    return d.writer
      .send(d.node, envelope, body)
      .then((r) =>
        r.ok
          ? frame({ type: 'accepted', id: envelope.id })
          : frame({ type: 'rejected', id: envelope.id, error: r.error, message: r.message }),
      );
  };

  return {
    onOpen(_evt, ws) {
      link = d.hub.attach(d.node, d.token, ws);
    },
    onMessage(evt) {
      let next: Promise<string | null> | string | null;
      try {
        next = handle(evt.data);
      } catch (err) {
        next = Promise.reject(err);
      }
      answer(next);
    },
    onClose() {
      if (link) d.hub.detach(link);
    },
  };
}
