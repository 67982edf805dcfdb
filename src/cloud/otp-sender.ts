// Where one-time codes go. The default logs them (fine for a self-hosted cloud with one user reading its log);
// plug email/SMS by passing any object with send() to startCloud({ otpSender }) (docs/cloud.md).
export interface OtpMessage {
  challengeId: string;
  deviceId: string;
  /** The account's address the code is for; null for the legacy device-id login (no mail: the log only). */
  email: string | null;
  /** The fingerprint of deviceId as the node's desktop UI shows it (ABCD-EFGH-IJKL-MNOP): whose code this is. */
  fingerprint: string;
  /** The display name the requester gave, cleaned for a log line; a hint for people, it proves nothing. */
  name?: string | undefined;
  code: string;
  expiresAt: string;
}

const MAX_SHOWN_NAME = 64;

/**
 * A requester's name made safe for one log line: no control or bidi characters, one line, at most 64 chars,
 * and never the marker text scripts read codes by (else a name could plant a fake code for another device id,
 * and a script typing it would spend that device's attempts).
 */
export function shownName(name: string | undefined): string | undefined {
  const clean = name
    ?.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .replace(/one-time code/gi, 'code')
    .trim();
  if (!clean) return undefined;
  return [...clean].length > MAX_SHOWN_NAME ? `${[...clean].slice(0, MAX_SHOWN_NAME - 1).join('')}…` : clean;
}

export interface OtpSender {
  send(msg: OtpMessage): void | Promise<void>;
}

export class LogOtpSender implements OtpSender {
  constructor(private readonly log: (line: string) => void = (line) => console.log(line)) {}

  send(msg: OtpMessage): void {
    // The person at the log tells two nodes' codes apart by what their desktop UIs show: name and fingerprint.
    // The start of the line stays `one-time code for device <id>: <code>`, which scripts match.
    const whose = `${msg.email ? `for ${msg.email}, ` : ''}${msg.name ? `node ${JSON.stringify(msg.name)}, ` : ''}fingerprint ${msg.fingerprint}`;
    this.log(`one-time code for device ${msg.deviceId}: ${msg.code} (${whose}; challenge ${msg.challengeId}, expires ${msg.expiresAt})`);
  }
}

/** Keeps codes in memory; tests read them from here. */
export class MemoryOtpSender implements OtpSender {
  readonly sent: OtpMessage[] = [];

  send(msg: OtpMessage): void {
    this.sent.push(msg);
  }

  /** The newest code sent to `email`. */
  codeForEmail(email: string): string {
    const m = this.sent.findLast((s) => s.email === email);
    if (!m) throw new Error(`no code was sent to ${email}`);
    return m.code;
  }

  codeFor(challengeId: string): string {
    const m = this.sent.find((s) => s.challengeId === challengeId);
    if (!m) throw new Error(`no code was sent for challenge ${challengeId}`);
    return m.code;
  }
}
