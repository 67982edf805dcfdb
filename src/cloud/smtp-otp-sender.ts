// Codes by email: one message per challenge through the operator's SMTP server (nodemailer). A login without an
// email (the flag-guarded legacy device-id login) has no address to mail; its code goes to the cloud's log.
import { createTransport, type Transporter } from 'nodemailer';
import type { OtpMessage, OtpSender } from './otp-sender.js';

export interface SmtpOtpOptions {
  /** smtp://user:pass@host:587 (STARTTLS when the server offers it) or smtps://… (TLS from the start). */
  url: string;
  /** The From: of the mails, e.g. `Salita <login@example.org>`. */
  from: string;
  /** Where codes of the legacy login go (the log sender). */
  fallback: OtpSender;
  /** Tests: certificates of a loopback server are self-signed. */
  allowSelfSigned?: boolean;
  /** Hears why a mail could not be sent (the caller only gets mail_unavailable): the operator's log. */
  onError?: (err: Error, to: string) => void;
}

export class SmtpOtpSender implements OtpSender {
  private readonly transport: Transporter;

  constructor(private readonly opts: SmtpOtpOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`--smtp-url must be smtp://… or smtps://…, not ${u.protocol}`);
    const secure = u.protocol === 'smtps:';
    this.transport = createTransport({
      host: u.hostname,
      port: u.port ? Number(u.port) : secure ? 465 : 587,
      secure,
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      // A stalled mail server must not hold a login request (and its HTTP client) for minutes.
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
      ...(opts.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
    });
  }

  async send(msg: OtpMessage): Promise<void> {
    if (msg.email === null) return this.opts.fallback.send(msg);
    const minutes = Math.max(1, Math.round((Date.parse(msg.expiresAt) - Date.now()) / 60_000));
    // The node's name and fingerprint let the reader check that the code is for the node they are signing in
    // (a code asked for by someone else's node must not be typed there); both are what the node's UI shows.
    const node = `${msg.name ? `"${msg.name}",\n` : ''}fingerprint ${msg.fingerprint},`;
    await this.mail(msg.email, {
      from: this.opts.from,
      to: msg.email,
      subject: `Your Salita sign-in code: ${msg.code}`,
      // Short lines: nothing gets wrapped on the way (quoted-printable breaks lines past 76 characters).
      text: [
        `Your one-time code: ${msg.code}`,
        '',
        `It signs in the node ${node}`,
        `and is good for ${minutes} minutes.`,
        '',
        'If you did not ask for it, do not pass it on:',
        'nobody gets into your account without it.',
        '',
      ].join('\n'),
    });
  }

  private async mail(to: string, m: { from: string; to: string; subject: string; text: string }): Promise<void> {
    try {
      await this.transport.sendMail(m);
    } catch (err) {
      this.opts.onError?.(err as Error, to);
      throw err;
    }
  }

  close(): void {
    this.transport.close();
  }
}
