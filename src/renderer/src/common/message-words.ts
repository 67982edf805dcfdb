// What a sent message's status, route and failure codes say in words, the same on the phone page and in the
// desktop UI. No DOM, so the words can be tested in Node.

import { MAX_TEXT_CHARS } from '../../../shared/client/messaging-client.js';
import { MAX_PERSON_DEVICES } from '../../../shared/people/person.js';
import type { MessageStatus, Route } from '../../../shared/wire/relay.js';

export const STATUS_WORDS: Record<MessageStatus, string> = {
  queued: 'Queued',
  sent: 'Sent',
  delivered: 'Delivered',
  seen: 'Seen',
  failed: 'Failed',
};

/** How a message went (or would go), as a person says it. */
export const ROUTE_WORDS: Record<Route, string> = { local: 'on this desktop', lan: 'over your network', cloud: 'through the cloud' };

export function isMessageStatus(s: unknown): s is MessageStatus {
  return typeof s === 'string' && Object.hasOwn(STATUS_WORDS, s);
}

export function isRoute(r: unknown): r is Route {
  return typeof r === 'string' && Object.hasOwn(ROUTE_WORDS, r);
}

/** Plain words for the codes a message can fail or be refused with. */
export function messagingErrorText(code: string, fallback?: string): string {
  switch (code) {
    case 'unknown_recipient':
      return 'the cloud does not know that device (is its desktop logged in to the same cloud?)';
    case 'sender_not_published':
      return "this device is not in the cloud's key directory yet";
    case 'invalid_envelope':
      return 'the message was malformed';
    case 'envelope_id_conflict':
      return 'another message already has this id';
    // Only for a device outside this home: home devices never need a cloud.
    case 'cloud_not_linked':
      return 'that device is at another home, and this desktop is not logged in to a cloud (Cloud panel on the desktop)';
    case 'sender_mismatch':
      return "this device may not send in another device's name";
    case 'invalid_text':
      return `a message is 1 to ${MAX_TEXT_CHARS} characters`;
    case 'network':
      return 'cannot reach the desktop right now';
    case 'recipient_backlog_full':
      return 'the recipient has too many unread messages';
    case 'sender_backlog_full':
      return 'this desktop has not collected its own messages from the cloud yet';
    case 'outbox_full':
      return 'too many messages are waiting to go out; try again once they have gone';
    case 'person_already_linked':
      return 'this device is linked with other devices already: unlink it from them first';
    case 'person_not_linked':
      return 'this device is not linked with that device';
    case 'person_no_offer':
      return 'that offer to link is no longer waiting';
    case 'person_too_large':
      return `a person has at most ${MAX_PERSON_DEVICES} linked devices`;
    case 'no_prekeys':
      return 'that device has not published its keys yet (open it once, then try again)';
    case 'safety_number_changed':
      return 'Not sent: the safety number you verified changed. Compare it again, then accept the new one above.';
    default:
      return fallback ?? code.replace(/_/g, ' ');
  }
}

/** The status line of a sent message: "Delivered", "Failed: <why>"; the route is said apart (routeText). */
export function statusText(status: MessageStatus, error?: string): string {
  if (status === 'failed' && error)
    return `${error === 'recipient_backlog_full' ? 'Not delivered' : 'Failed'}: ${messagingErrorText(error)}`;
  return STATUS_WORDS[status];
}

/** The route of a sent message in words, or '' while it has none (queued) or when it failed. */
export function routeText(status: MessageStatus, route: Route | undefined): string {
  if (!route || status === 'queued' || status === 'failed') return '';
  return ROUTE_WORDS[route];
}
