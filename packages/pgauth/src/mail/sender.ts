/**
 * Delivers the outbox (pgauth.mail_outbox) over SMTP with nodemailer. Every sender — each gateway
 * started with --smtp-url, and `pgauth mail send-pending` from cron — claims rows through
 * pgauth.mail_claim (FOR UPDATE SKIP LOCKED and a lease), so two senders never send one message;
 * a failure goes back to the database, which schedules the retry with backoff.
 *
 * Threat model: the text of a message holds a live link token, so it exists only in this
 * process's memory and in the mail: nothing here logs a message, its address or an SMTP error's
 * text (which may quote either); a failure is recorded as its error code only.
 */
import type { Database, Unlisten } from '@pgauth/client/internal';
import type { Transporter } from 'nodemailer';
import { type MailerOperations, mailerOperations } from '../operations.ts';
import { composeMail } from './message.ts';

export interface MailConfig {
  /** smtp://host:port or smtps://host:port, with user:password@ when the server asks. */
  smtpUrl: string;
  /** The From address. */
  from: string;
  /** The base of the links in the mails (the web app that handles them). */
  publicUrl: string;
}

export interface SendOptions {
  /** Messages claimed at once (default 10). */
  batch?: number;
  /** How long a claim holds a message before another sender may take it (default 60 s). */
  leaseSeconds?: number;
  /** Told about each message, without its text or address. */
  onResult?: (result: { id: string; kind: string; sent: boolean; error?: string }) => void;
}

export interface SendReport {
  sent: number;
  failed: number;
}

/** A transport for the SMTP URL; closed by whoever made it. nodemailer is loaded here, not with
 * this module: a CLI command that sends no mail does not pay for it. */
export async function smtpTransport(config: MailConfig): Promise<Transporter> {
  const { default: nodemailer } = await import('nodemailer');
  return nodemailer.createTransport(config.smtpUrl, { from: config.from });
}

/** What is safe to store and log of a delivery failure: its codes, never its text. */
export function failureCode(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown };
  const code =
    typeof e?.code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(e.code) ? e.code : 'error';
  return typeof e?.responseCode === 'number' ? `${code} ${e.responseCode}` : code;
}

/** Sends every due message, batch after batch, until the outbox has none left for now. */
export async function sendPending(
  ops: MailerOperations,
  transport: Transporter,
  config: MailConfig,
  options: SendOptions = {},
): Promise<SendReport> {
  const report: SendReport = { sent: 0, failed: 0 };
  for (;;) {
    const claimed = await ops.claim(options.batch ?? 10, options.leaseSeconds ?? 60);
    if (claimed.length === 0) return report;
    for (const mail of claimed) {
      const message = composeMail(mail, config.publicUrl);
      try {
        await transport.sendMail({ from: config.from, ...message });
      } catch (err) {
        const error = failureCode(err);
        await ops.failed(mail.id, error);
        report.failed++;
        options.onResult?.({ id: mail.id, kind: mail.kind, sent: false, error });
        continue;
      }
      await ops.sent(mail.id);
      report.sent++;
      options.onResult?.({ id: mail.id, kind: mail.kind, sent: true });
    }
  }
}

export interface MailSenderOptions extends SendOptions {
  /** Whether NOTIFY pgauth_mail reaches this process (else it only polls). */
  listen: boolean;
  /** Poll for due retries (and, without LISTEN, new mail) this often (default 5,000 ms). */
  pollMs?: number;
  /** Told when a round fails (the database unreachable); the next round retries. */
  onError?: (err: unknown) => void;
}

/** The sender of a gateway: a round at start, on every NOTIFY pgauth_mail, and every pollMs. */
export class MailSender {
  private readonly ops: MailerOperations;
  private transport: Transporter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: Unlisten | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private starting: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly config: MailConfig,
    private readonly options: MailSenderOptions,
  ) {
    this.ops = mailerOperations(db);
  }

  /** Starts once; a stop while it starts (a gateway closed during its start) waits for it and
   * leaves nothing running. */
  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    const transport = await smtpTransport(this.config);
    let unlisten: Unlisten | null = null;
    try {
      if (this.options.listen) unlisten = await this.db.listen('pgauth_mail', () => this.wake());
    } catch (err) {
      transport.close();
      throw err;
    }
    if (this.stopped) {
      transport.close();
      await unlisten?.().catch(() => {});
      return;
    }
    [this.transport, this.unlisten] = [transport, unlisten];
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 5_000);
    this.timer.unref();
    this.wake();
  }

  /** Runs a round now, or right after the one running. */
  wake(): void {
    const transport = this.transport;
    if (this.stopped || !transport) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await sendPending(this.ops, transport, this.config, this.options);
        } catch (err) {
          this.options.onError?.(err);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when no round is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => {});
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
    await this.idle();
    this.transport?.close();
  }
}
