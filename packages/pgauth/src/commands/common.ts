import { InvalidArgumentError, Option } from 'commander';
import { isPostgresUrl } from '../config.ts';
import { type DatabaseTarget, DEFAULT_DATA_DIR } from '../db/open.ts';
import { UsageError } from '../usage-error.ts';

/** The options every command that opens the database takes. */
export function databaseOptions(): Option[] {
  return [
    new Option('--database-url <url>', 'PostgreSQL URL (default: the embedded database)')
      .env('DATABASE_URL')
      .argParser(postgresUrlArg),
    new Option(
      '--data-dir <dir>',
      `folder of the embedded database (default: ${DEFAULT_DATA_DIR} in the current folder, which must exist)`,
    ).env('PGAUTH_DATA_DIR'),
  ];
}

/**
 * A --database-url: a postgres:// or postgresql:// URL, or empty (unset). Checked as the command
 * line is read, so that an empty variable before another option (`--database-url
 * $DATABASE_URL --password-stdin`) is said as such, instead of that option being taken for the URL.
 * Any other value is not repeated: a mistyped URL may hold a password.
 */
function postgresUrlArg(value: string): string {
  if (value.trim() === '' || isPostgresUrl(value.trim())) return value;
  if (value.startsWith('-')) {
    throw new InvalidArgumentError(
      `It must be a postgres:// or postgresql:// URL (it is the option ${value}: is a variable before it empty?)`,
    );
  }
  throw new UsageError(
    '--database-url / DATABASE_URL: It must be a postgres:// or postgresql:// URL',
  );
}

export interface DatabaseFlags {
  databaseUrl?: string;
  dataDir?: string;
}

/**
 * Where a command's database is. An embedded folder named with --data-dir or PGAUTH_DATA_DIR is
 * created when it holds no database yet; the default one only by `serve` and `migrate`, so that a
 * command run in the wrong folder says so instead of creating a database there. Creating one (the
 * longest wait) is said on stderr, and so is opening one on a terminal; stdout stays the command's.
 */
export function targetFrom(flags: DatabaseFlags, create?: boolean): DatabaseTarget {
  return {
    databaseUrl: flags.databaseUrl || undefined,
    dataDir: flags.dataDir || undefined,
    create,
    say: (line) => {
      if (process.stderr.isTTY || line.startsWith('creating')) console.error(line);
    },
  };
}

export { UsageError };
