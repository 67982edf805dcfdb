// The headless node's pairing code in the terminal: QR, PIN, link and "expires in 1:58" (a duration, which a
// person reads at a glance, not a UTC time). When a code expires unused a new one is printed, until a device
// pairs or after MAX_RENEWALS (an unattended server should not print QR codes forever).
import QRCode from 'qrcode';
import type { SalitaNode } from './core/node.js';

const MAX_RENEWALS = 15;

/** "1:58" for 118 s left (rounded up: a code with 0.4 s left is not yet "0:00"). */
export function minutesSeconds(ms: number): string {
  const left = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

export interface TerminalPairing {
  stop(): void;
}

export async function printPairingCodes(node: SalitaNode, out: (text: string) => void): Promise<TerminalPairing> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: string | undefined;
  let renewals = 0;
  let stopped = false;

  const show = async (heading: string) => {
    const p = node.core.pairing.start();
    current = p.code;
    const qr = await QRCode.toString(p.url, { type: 'terminal', small: true });
    if (stopped) return;
    out(
      `\n${heading} (expires in ${minutesSeconds(Date.parse(p.expires_at) - Date.now())}):\n${qr}\n` +
        `  URL:          ${p.url}\n  PIN:          ${p.pin}\n  Linking code: ${p.linking_code}\n` +
        (p.candidate_urls.length > 1 ? `  Other URLs:   ${p.candidate_urls.slice(1).join('\n                ')}\n` : '') +
        `  A new code any time: "Connect device" in the desktop UI.\n\n`,
    );
    timer = setTimeout(
      () => {
        if (stopped) return;
        if (renewals >= MAX_RENEWALS) {
          out('The pairing code expired. "Connect device" in the desktop UI makes a new one.\n');
          return;
        }
        renewals++;
        void show('New pairing code, the one above expired');
      },
      Math.max(0, Date.parse(p.expires_at) - Date.now()),
    );
    timer.unref();
  };

  const unsubscribe = node.core.feed.subscribe((e) => {
    if (e.type !== 'pairing_completed' || e.code !== current || stopped) return;
    stopped = true;
    clearTimeout(timer);
    out(`Paired with ${e.name}.\n`);
  });
  await show('Scan to pair a phone');
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    },
  };
}
