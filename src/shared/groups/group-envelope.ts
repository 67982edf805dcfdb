// A group message in envelopes (v3) for the nodes to carry: the same Sender Key message to every other member
// device, in envelopes of at most MAX_RECIPIENTS devices each (every one with its own id, so each node's
// "one copy per envelope id" still holds). A member opens whichever one reached it; a copy of the same message
// in two of them opens once (the chain refuses the second as group_duplicate).
import { v7 as uuidv7 } from 'uuid';
import { ENVELOPE_VERSION_3, type EnvelopeV3, MAX_RECIPIENTS } from '../e2ee/schema.js';
import { GroupError } from './errors.js';
import type { GroupMessage } from './sender-key.js';

/** `devices` in parts of at most MAX_RECIPIENTS, each one envelope's `to` (a group's payloads and messages). */
export function envelopeSized<T>(devices: readonly T[]): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < devices.length; i += MAX_RECIPIENTS) parts.push(devices.slice(i, i + MAX_RECIPIENTS));
  return parts;
}

/** The envelopes of one group message to `toDevices` (sorted, in chunks). */
export function groupEnvelopes(message: GroupMessage, toDevices: readonly string[], now: () => number = Date.now): EnvelopeV3[] {
  const to = [...new Set(toDevices)].filter((d) => d !== message.sender_device).sort();
  if (to.length === 0) throw new GroupError('group_invalid_argument', 'a group message needs another member to go to');
  const sent_at = new Date(now()).toISOString();
  return envelopeSized(to).map((part) => ({
    v: ENVELOPE_VERSION_3,
    id: uuidv7(),
    from_device: message.sender_device,
    to: part,
    sent_at,
    group: { group_id: message.group_id, epoch: message.epoch, iteration: message.iteration, signature: message.signature },
    ciphertext: message.ciphertext,
  }));
}

/** The group message an envelope carries (its sender is the envelope's sender, whom the node vouched for). */
export function groupMessageOf(env: EnvelopeV3): GroupMessage {
  return {
    group_id: env.group.group_id,
    sender_device: env.from_device,
    epoch: env.group.epoch,
    iteration: env.group.iteration,
    ciphertext: env.ciphertext,
    signature: env.group.signature,
  };
}
