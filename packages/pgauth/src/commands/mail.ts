/**
 * `pgauth mail send-pending`: delivers every due message of the outbox and exits, for cron or a
 * systemd timer where no gateway runs with --smtp-url (several may run at once: each message is
 * claimed by one sender only). Prints how many were sent and how many failed (retried later);
 * never a message, an address or a token.
 */
import { Command, Option } from 'commander';
import { ConfigError, mailConfig, SERVE_OPTIONS } from '../config.ts';
import { type MailConfig, type SendReport, sendPending, smtpTransport } from '../mail/sender.ts';
import { mailerOperations } from '../operations.ts';
import { openAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import { type DatabaseFlags, UsageError } from './common.ts';

interface MailFlags extends DatabaseFlags {
  smtpUrl?: string;
  mailFrom?: string;
  publicUrl?: string;
  batch?: string;
}

/** Sends what is due now with `config`, on the database of `flags`. */
export async function sendPendingMail(
  flags: DatabaseFlags,
  config: MailConfig,
  batch = 10,
): Promise<SendReport> {
  const db = await openAdminDatabase(flags);
  const transport = await smtpTransport(config);
  try {
    return await sendPending(mailerOperations(db), transport, config, { batch });
  } finally {
    transport.close();
    await db.close();
  }
}

export function mailCommand(): Command {
  const mail = new Command('mail').description('deliver the mail outbox (verification, reset)');
  const o = SERVE_OPTIONS;
  mail.addCommand(
    withDatabaseOptions(
      new Command('send-pending')
        .description(
          'send every message of the outbox that is due, then exit (for cron); prints "sent N, failed M"',
        )
        .addOption(new Option(o.smtpUrl.flag, o.smtpUrl.help).env(o.smtpUrl.env))
        .addOption(new Option(o.mailFrom.flag, o.mailFrom.help).env(o.mailFrom.env))
        .addOption(new Option(o.publicUrl.flag, o.publicUrl.help).env(o.publicUrl.env))
        .option('--batch <n>', 'messages claimed at once', '10')
        .action(async (flags: MailFlags) => {
          let config: MailConfig | null;
          try {
            config = mailConfig(flags);
          } catch (err) {
            if (err instanceof ConfigError) throw new UsageError(err.message);
            throw err;
          }
          if (!config) throw new UsageError('--smtp-url / PGAUTH_SMTP_URL is required');
          const batch = Number(flags.batch);
          if (!Number.isInteger(batch) || batch < 1 || batch > 1000) {
            throw new UsageError('--batch must be an integer from 1 to 1000');
          }
          const report = await sendPendingMail(flags, config, batch);
          console.log(`sent ${report.sent}, failed ${report.failed}`);
        }),
    ),
  );
  return mail;
}
