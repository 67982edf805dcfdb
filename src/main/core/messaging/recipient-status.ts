// How per-recipient statuses add up to the status of a sent message: the least advanced recipient's
// (queued < sent < delivered < seen), 'failed' if any recipient failed (one recipient not getting it is what the
// sender must learn), and the farthest route any recipient took (local < lan < cloud).
import type { MessageStatus, Route } from '../../../shared/wire/relay.js';

export interface RecipientState {
  status: MessageStatus;
  route: Route | null;
  error: string | null;
}

const STATUS_RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, seen: 3, failed: 4 };
const ROUTE_RANK: Record<Route, number> = { local: 0, lan: 1, cloud: 2 };

export function aggregateStatus(rows: readonly RecipientState[]): RecipientState {
  let status: MessageStatus | undefined;
  let route: Route | null = null;
  let error: string | null = null;
  for (const r of rows) {
    if (r.route !== null && (route === null || ROUTE_RANK[r.route] > ROUTE_RANK[route])) route = r.route;
    if (r.status === 'failed') {
      if (status !== 'failed') {
        status = 'failed';
        error = r.error;
      }
      continue;
    }
    if (status === 'failed') continue;
    if (status === undefined || STATUS_RANK[r.status] < STATUS_RANK[status]) status = r.status;
  }
  return { status: status ?? 'queued', route, error: status === 'failed' ? error : null };
}

/** `to` is a step forward from `from` (statuses never move back; 'failed' is final). */
export function isForward(from: MessageStatus, to: MessageStatus): boolean {
  if (from === 'failed') return false;
  if (to === 'failed') return true;
  return STATUS_RANK[to] > STATUS_RANK[from];
}
