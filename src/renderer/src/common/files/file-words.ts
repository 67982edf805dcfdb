// What a file and its transfer say in words: sizes, speed, time left, the kind of file, and why a file was
// refused or a transfer failed. The same on the phone page and in the desktop UI; no DOM, so tested in Node.
import { FILE_INTEGRITY_CODES } from '../../../../shared/client/file-client.js';
import type { TransferView } from './transfer-view.js';

/** 1000-based, as file managers and browsers show sizes: "834 bytes", "12.3 KB", "4.1 MB". */
export function bytesText(n: number): string {
  if (n < 1000) return n === 1 ? '1 byte' : `${n} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

export function speedText(bytesPerSec: number): string {
  return `${bytesText(Math.round(bytesPerSec))}/s`;
}

/** "5 s left", "2 min left", "1 h 5 min left". */
export function timeLeftText(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${Math.max(1, s)} s left`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min left`;
  return `${Math.floor(m / 60)} h ${m % 60} min left`;
}

/** "PNG image", "PDF document", "video (MP4)", else the MIME type itself. */
export function fileKindText(type: string): string {
  const [top, sub = ''] = type.split('/');
  const name = sub.replace(/^x-/, '').replace(/\+.*$/, '').toUpperCase();
  if (top === 'image') return `${name} image`;
  if (top === 'video') return `video (${name})`;
  if (top === 'audio') return `audio (${name})`;
  if (type === 'application/pdf') return 'PDF document';
  if (type === 'text/plain') return 'text';
  if (type === 'application/octet-stream') return 'file';
  return type;
}

/** The codes of a file that arrived but is not what was sent, or whose description was malformed. */
export const REFUSED_FILE_CODES: readonly string[] = [...FILE_INTEGRITY_CODES, 'invalid_file'];

export function isRefusedFile(code: string | undefined): boolean {
  return code !== undefined && REFUSED_FILE_CODES.includes(code);
}

/** Why a file was refused: it is never saved or shown, whatever part of it arrived. */
export function refusedFileText(code: string): string {
  const why: Record<string, string> = {
    file_chunk_invalid: 'a part of it was altered or damaged on the way',
    file_truncated: 'it arrived cut short',
    file_too_long: 'more arrived than was sent',
    file_digest_mismatch: 'it is not the file that was sent (its checksum differs)',
    invalid_file: 'its description (name, type, size or key) was malformed',
  };
  return `This file was refused: ${why[code] ?? code.replace(/_/g, ' ')}. Nothing of it is shown or saved.`;
}

/** Why a transfer stopped, as the person is told. */
export function transferErrorText(code: string, fallback?: string): string {
  if (isRefusedFile(code)) return refusedFileText(code);
  switch (code) {
    case 'file_too_large':
      return 'the file is larger than the desktop accepts';
    case 'quota_exceeded':
      return 'this device has too much waiting on the desktop already';
    case 'insufficient_storage':
      return 'the desktop has no room for it';
    case 'blob_unknown':
      return 'the file is no longer on the desktop (cancelled, expired, or already fetched)';
    case 'blob_not_ready':
      return 'the file did not reach the desktop in time';
    case 'unknown_recipient':
      return 'the desktop does not know that device';
    case 'forbidden':
      return 'this file is not for this device';
    case 'network':
      return 'cannot reach the desktop right now';
    default:
      return fallback ?? code.replace(/_/g, ' ');
  }
}

// ---- a transfer's progress line ----

export function percentOf(v: Pick<TransferView, 'done' | 'total' | 'state'>): number {
  if (v.total <= 0) return v.state === 'done' ? 100 : 0;
  return Math.min(100, Math.floor((v.done * 100) / v.total));
}

/** The state shown: a running transfer is waiting while the page's node is away. */
export function shownState(v: TransferView, nodeReachable: boolean): TransferView['state'] {
  return v.state === 'running' && !nodeReachable ? 'waiting' : v.state;
}

export function progressLine(v: TransferView, nodeReachable: boolean): string {
  const pct = percentOf(v);
  switch (shownState(v, nodeReachable)) {
    case 'queued':
      return 'Queued: waiting for the files before it';
    case 'preparing':
      return pct >= 100 ? '100% · sending its message…' : 'Preparing…';
    case 'waiting':
      return `${pct}% · waiting to resume (the desktop cannot be reached; it goes on by itself)`;
    case 'arriving':
      return `Still on its way to the desktop: ${pct}%`;
    case 'done':
      return v.dir === 'up' ? '100% · sent' : '100% · downloaded and checked';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return 'Stopped';
    default: {
      const parts = [`${pct}%`];
      if (v.bytesPerSec !== undefined && v.bytesPerSec > 0) parts.push(speedText(v.bytesPerSec));
      if (v.secondsLeft !== undefined && pct < 100) parts.push(timeLeftText(v.secondsLeft));
      return parts.join(' · ');
    }
  }
}
