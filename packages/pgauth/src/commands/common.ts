import { Option } from 'commander';
import { type DatabaseTarget, DEFAULT_DATA_DIR } from '../db/open.ts';

/** The options every command that opens the database takes. */
export function databaseOptions(): Option[] {
  return [
    new Option('--database-url <url>', 'PostgreSQL URL (default: the embedded database)').env(
      'DATABASE_URL',
    ),
    new Option('--data-dir <dir>', 'folder of the embedded database')
      .env('PGAUTH_DATA_DIR')
      .default(DEFAULT_DATA_DIR),
  ];
}

export interface DatabaseFlags {
  databaseUrl?: string;
  dataDir?: string;
}

export function targetFrom(flags: DatabaseFlags): DatabaseTarget {
  return { databaseUrl: flags.databaseUrl || undefined, dataDir: flags.dataDir };
}

/** A failure the CLI reports as one line on stderr with exit code 1, without a stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}
