// One transfer's progress: a bar (role progressbar, with its value for screen readers) and a line with the
// percent, the speed and the time left, or what it waits for. "Waiting to resume" while the node cannot be
// reached: the transfer itself keeps trying and goes on by itself.
import type { TransferView } from './file-transfers.js';
import { percentOf, progressLine, shownState } from './file-words.js';

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
