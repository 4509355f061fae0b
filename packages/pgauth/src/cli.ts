import { AuthError, fromDatabaseError, isUnavailable } from '@pgauth/client/internal';
import { Command, CommanderError } from 'commander';
import { auditCommand } from './commands/audit.ts';
import { UsageError } from './commands/common.ts';
import { keysCommand } from './commands/keys.ts';
import { mailCommand } from './commands/mail.ts';
import { migrateCommand } from './commands/migrate.ts';
import { purgeCommand } from './commands/purge.ts';
import { serveCommand } from './commands/serve.ts';
import { apiKeyCommand, serviceAccountCommand } from './commands/service-account.ts';
import { sessionCommand } from './commands/session.ts';
import { userCommand } from './commands/user.ts';
import { MigrationError } from './migrate.ts';
import { VERSION } from './version.ts';

/** Registers the commands; maps errors to one line on stderr and an exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('pgauth')
    .description('pgauth: authentication for microservices, with the logic in PostgreSQL')
    .version(VERSION, '-V, --version', 'print the version of pgauth')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(serveCommand());
  program.addCommand(migrateCommand());
  program.addCommand(userCommand());
  program.addCommand(sessionCommand());
  program.addCommand(auditCommand());
  program.addCommand(mailCommand());
  program.addCommand(purgeCommand());
  program.addCommand(serviceAccountCommand());
  program.addCommand(apiKeyCommand());
  program.addCommand(keysCommand());
  try {
    process.exitCode = 0;
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const known = err instanceof AuthError ? err : fromDatabaseError(err);
    if (known) {
      // The DETAIL of a pgauth error is fixed policy wording (e.g. the minimum length): safe to show.
      const detail = (known.cause as { detail?: unknown } | undefined)?.detail;
      const extra = typeof detail === 'string' && detail ? ` (${detail})` : '';
      console.error(`pgauth: ${known.code}: ${known.message}${extra}`);
    } else if (err instanceof MigrationError || err instanceof UsageError) {
      console.error(`pgauth: ${err.message}`);
    } else {
      const e = err as { message?: string; code?: string };
      const where = isConnectionFailure(err) ? 'cannot connect to the database: ' : '';
      console.error(`pgauth: ${where}${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`);
    }
    return 1;
  }
}

/** A failure to reach or authenticate to the database: network, TLS, or the server refusing. */
function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return isUnavailable(err);
  return (
    isUnavailable(err) ||
    /^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED|UNABLE_TO_/.test(code) ||
    /^28...$/.test(code)
  );
}
