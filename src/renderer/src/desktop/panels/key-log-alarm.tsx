// The key directory's alarm in the Cloud panel: the node caught its cloud's key log lying (a key outside the
// log, a rewritten or forked history, a key for one of our devices we never published). It is as loud as the
// "cloud key changed" warning, says what was found in words, and offers the one way out: trusting the log again
// (after checking, e.g. that the operator restored a backup). Messages go on with the last verified keys.
import { useState } from 'preact/hooks';
import type { KeyLogView } from '../../../../shared/wire/relay.js';

const WHAT: Record<NonNullable<KeyLogView['alarm']>['code'], string> = {
  key_log_bad_signature: 'The cloud answered with a key log its own key did not sign.',
  key_log_inconsistent: 'The cloud rewrote the history of its key directory.',
  key_log_not_included: 'The cloud offered a device key that is not in its public key log.',
  key_log_foreign_key: 'The cloud lists a key for one of your devices that this desktop never published.',
  key_log_forked: 'The cloud shows different keys to different desktops of your home.',
};

export function keyLogText(v: KeyLogView): string {
  switch (v.status) {
    case 'verified':
      return v.size === null ? 'verified' : `verified (${v.size} ${v.size === 1 ? 'entry' : 'entries'} in the log)`;
    case 'unsupported':
      return 'not checked: this cloud keeps no key log';
    case 'alarm':
      return 'ALARM: not trusted';
    default:
      return 'not checked yet';
  }
}

export function KeyLogAlarm(props: { view: KeyLogView; busy: boolean; onReset: () => void }) {
  const [asking, setAsking] = useState(false);
  const a = props.view.alarm;
  if (props.view.status !== 'alarm' || !a) return null;
  return (
    <div data-testid="key-log-alarm" data-code={a.code} class="banner warning" role="alert">
      <strong>Warning: {WHAT[a.code]}</strong>{' '}
      <span>
        {'Someone with access to the cloud may be trying to read your messages. Salita stopped taking key changes from it; ' +
          `messages go on to the keys it verified before. Details (${new Date(a.at).toLocaleString()}): ${a.message}`}
      </span>{' '}
      {asking ? (
        <span class="inline-form">
          <span>Only if you know why it changed (for example, your cloud was restored from a backup).</span>
          <button type="button" class="danger" data-testid="key-log-reset-confirm" disabled={props.busy} onClick={props.onReset}>
            Trust it again
          </button>
          <button type="button" class="secondary" disabled={props.busy} onClick={() => setAsking(false)}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" class="secondary" data-testid="key-log-reset" disabled={props.busy} onClick={() => setAsking(true)}>
          Trust the cloud's key log again…
        </button>
      )}
    </div>
  );
}
