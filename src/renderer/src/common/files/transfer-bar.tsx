// One transfer's progress: a bar (role progressbar, with its value for screen readers) and a line with the
// percent, the speed and the time left, or what it waits for. "Waiting to resume" while the node cannot be
// reached: the transfer itself keeps trying and goes on by itself.
import type { TransferView } from './file-transfers.js';
import { speedText, timeLeftText } from './file-words.js';

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

export function TransferBar({ view, nodeReachable }: { view: TransferView; nodeReachable: boolean }) {
  const pct = percentOf(view);
  const state = shownState(view, nodeReachable);
  const line = progressLine(view, nodeReachable);
  return (
    <div class="transfer" data-testid="file-transfer" data-dir={view.dir} data-state={state} data-percent={pct}>
      <div
        class="transfer-bar"
        role="progressbar"
        aria-label={`${view.dir === 'up' ? 'Sending' : 'Downloading'} ${view.name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={line}
        data-testid="file-progress"
      >
        {/* Set through the CSSOM (preact's style object), which the pages' CSP allows. */}
        <span class="transfer-fill" style={{ width: `${pct}%` }} />
      </div>
      <span class="transfer-line" data-testid="file-progress-text" aria-hidden="true">
        {line}
      </span>
    </div>
  );
}
