/**
 * The gateway with its mail sender on, delivering to a real SMTP server of the test
 * (test/helpers/smtp.ts): one pair per test file.
 */
import type { AppOptions } from '../../packages/pgauth/src/server/app.ts';
import { useFileFixture } from '../helpers/fixture.ts';
import { type SmtpSink, startSmtp } from '../helpers/smtp.ts';
import { startApp, type TestApp } from './helpers.ts';

export const PUBLIC_URL = 'https://app.example.test';
export const MAIL_FROM = 'no-reply@example.test';

export interface MailApp {
  a: TestApp;
  smtp: SmtpSink;
}

/** Starts an SMTP server, then the app sending to it (polling the outbox every 100 ms). */
export function useMailApp(options: Partial<AppOptions> = {}): MailApp {
  return useFileFixture(
    'the app and its SMTP server',
    async () => {
      const smtp = await startSmtp();
      const a = await startApp({
        mail: { smtpUrl: smtp.url, from: MAIL_FROM, publicUrl: PUBLIC_URL, pollMs: 100 },
        ...options,
      });
      return { a, smtp };
    },
    async ({ a, smtp }) => {
      await a.close();
      await smtp.close();
    },
  );
}
