import { Command } from 'commander';
import { openDatabase } from '../db/open.ts';
import { migrate, migrationStatus, reportTo } from '../migrate.ts';
import { type DatabaseFlags, databaseOptions, targetFrom } from './common.ts';

interface MigrateFlags extends DatabaseFlags {
  status?: boolean;
}

/** Applies pending migrations, or with `status` lists every migration and whether it is applied. */
export async function runMigrate(
  flags: MigrateFlags,
  out: (line: string) => void,
): Promise<number> {
  const db = await openDatabase(targetFrom(flags, !flags.status));
  try {
    if (flags.status) {
      const status = await migrationStatus(db);
      let pending = 0;
      for (const s of status) {
        const state = s.changed
          ? 'CHANGED'
          : s.appliedAt
            ? `applied ${s.appliedAt.toISOString()}`
            : 'pending';
        if (!s.appliedAt) pending++;
        out(`${s.name}  ${state}`);
      }
      out(pending ? `${pending} pending` : 'up to date');
      return status.some((s) => s.changed) ? 1 : 0;
    }
    const objects: string[] = [];
    const applied = await migrate(db, undefined, undefined, reportTo(objects));
    for (const name of applied) out(`applied ${name}`);
    for (const line of objects) out(line);
    out(applied.length ? `${applied.length} migration(s) applied` : 'nothing to apply: up to date');
    return 0;
  } finally {
    await db.close();
  }
}

export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .description(
      'apply pending migrations of the pgauth schema (each in one transaction, under an advisory lock)',
    )
    .option(
      '--status',
      'list migrations and whether each is applied; exit 1 if an applied one changed',
    )
    .action(async (flags: MigrateFlags) => {
      process.exitCode = await runMigrate(flags, (line) => console.log(line));
    });
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
