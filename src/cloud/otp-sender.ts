// Where one-time codes go. The default logs them (fine for a self-hosted cloud with one user reading its log);
// plug email/SMS by passing any object with send() to startCloud({ otpSender }) (docs/cloud.md).
export interface OtpMessage {
  challengeId: string;
  deviceId: string;
  code: string;
  expiresAt: string;
}

export interface OtpSender {
  send(msg: OtpMessage): void | Promise<void>;
}

export class LogOtpSender implements OtpSender {
  constructor(private readonly log: (line: string) => void = (line) => console.log(line)) {}

  send(msg: OtpMessage): void {
    this.log(`one-time code for device ${msg.deviceId}: ${msg.code} (challenge ${msg.challengeId}, expires ${msg.expiresAt})`);
  }
}

/** Keeps codes in memory; tests read them from here. */
export class MemoryOtpSender implements OtpSender {
  readonly sent: OtpMessage[] = [];

  send(msg: OtpMessage): void {
    this.sent.push(msg);
  }

  codeFor(challengeId: string): string {
    const m = this.sent.find((s) => s.challengeId === challengeId);
    if (!m) throw new Error(`no code was sent for challenge ${challengeId}`);
    return m.code;
  }
}
