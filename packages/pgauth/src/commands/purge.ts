/**
 * `pgauth purge`: one round of pgauth's retention, then exit, for cron or a systemd timer where
 * the gateways run with --purge-interval 0 (or none runs). Prints what it deleted; a step that
 * another process was running at that moment is reported as skipped.
 */
import { Command } from 'commander';
import type { PurgeReport } from '../operations.ts';
import { withAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { printJson } from './output.ts';

const said = (n: number | null, what: string): string =>
  n === null ? `${what}: skipped (another process was purging)` : `${what}: ${n} deleted`;

export function purgeCommand(): Command {
  return withDatabaseOptions(
    new Command('purge')
      .description(
        'delete ended sessions, spent refresh salts, unread password checks and expired link and service tokens once (what `pgauth serve` does every --purge-interval), then exit; for cron',
      )
      .option('--json', 'print JSON: {"sessions": n, "service_tokens": n} (null: skipped)')
      .action(async (flags: DatabaseFlags & { json?: boolean }) => {
        const report: PurgeReport = await withAdminDatabase(flags, (ops) => ops.purge());
        if (flags.json) {
          printJson({ sessions: report.sessions, service_tokens: report.serviceTokens });
          return;
        }
        console.log(said(report.sessions, 'ended sessions'));
        console.log(said(report.serviceTokens, 'expired service tokens'));
      }),
  );
}
