// A real SMTP server on loopback (smtp-server) that keeps every mail it is given: the cloud's code mails go
// through nodemailer to it exactly as to an operator's mail server, and tests read the code out of the mail.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The whole message as sent (headers and body). */
  raw: string;
}

export class SmtpInbox {
  readonly mails: ReceivedMail[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(): Promise<SmtpInbox> {
    let inbox: SmtpInbox | undefined;
    const server = new SMTPServer({
      // Plain SMTP on loopback: no TLS certificate to make, and no login (the cloud may send without one).
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          inbox!.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          for (const w of [...inbox!.waiters]) w();
          done();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    inbox = new SmtpInbox(server, (server.server.address() as AddressInfo).port);
    return inbox;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** The mails to `address`, oldest first. */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.includes(address));
  }

  /**
   * The 6-digit code in mail number `n` (1-based) to `address`, waiting for it; by default the newest one (a
   * mail is here before the cloud answers the request that sent it: smtp-server hands it over before its 250).
   */
  async code(address: string, n = Math.max(1, this.to(address).length), limitMs = 15_000): Promise<string> {
    const mail = await new Promise<ReceivedMail>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no mail #${n} to ${address} within ${limitMs} ms (have ${this.to(address).length})`));
      }, limitMs);
      const check = () => {
        const m = this.to(address)[n - 1];
        if (!m) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.add(check);
      check();
    });
    const code = /one-time code: (\d{6})/.exec(mail.raw)?.[1];
    if (!code) throw new Error(`no code in the mail to ${address}:\n${mail.raw}`);
    return code;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
