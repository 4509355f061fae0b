/**
 * A real SMTP server for the tests (the smtp-server package) on a free port of 127.0.0.1: it
 * accepts every message and keeps it, so that a test reads what pgauth sent (the link, the token)
 * as a user would. `refuse` makes it answer the next messages with a temporary failure.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './wait.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The whole message as it came (headers and body, transfer-encoded). */
  raw: string;
  /** The body decoded from quoted-printable, soft line breaks joined. */
  body: string;
  subject: string;
}

export interface SmtpSink {
  url: string;
  received: ReceivedMail[];
  /** Answer the next `n` messages with 451 (a temporary failure: the sender retries). */
  refuse(n: number): void;
  /** How many messages were refused so far. */
  refused(): number;
  /** Waits until `n` messages have arrived for `to`; resolves with them. */
  waitFor(to: string, n?: number, ms?: number): Promise<ReceivedMail[]>;
  /** The token of the link in a message body. */
  tokenOf(mail: ReceivedMail): string;
  close(): Promise<void>;
}

function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = Buffer.from(
    joined.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  return bytes.toString('utf8');
}

export async function startSmtp(): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  let toRefuse = 0;
  let refusedCount = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (toRefuse > 0) {
          toRefuse--;
          refusedCount++;
          const err = Object.assign(new Error('try again later'), { responseCode: 451 });
          callback(err);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.search(/\r?\n\r?\n/);
        const headers = raw.slice(0, split);
        const encoded = raw.slice(split).trim();
        const qp = /content-transfer-encoding:\s*quoted-printable/i.test(headers);
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          body: qp ? decodeQuotedPrintable(encoded) : encoded,
          subject: /^subject:\s*(.*)$/im.exec(headers)?.[1]?.trim() ?? '',
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const forTo = (to: string) => received.filter((m) => m.to.includes(to));
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuse: (n) => {
      toRefuse = n;
    },
    refused: () => refusedCount,
    waitFor: (to, n = 1, ms = 10_000) =>
      waitFor(`${n} mail(s) to ${to}`, () => forTo(to).length >= n && forTo(to), ms),
    tokenOf(mail) {
      const m = /#token=([A-Za-z0-9_-]+)/.exec(mail.body);
      if (!m?.[1]) throw new Error(`no token in the mail "${mail.subject}"`);
      return m[1];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
