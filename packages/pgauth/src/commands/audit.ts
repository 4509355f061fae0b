import { Command } from 'commander';
import type { AuditRow, TimeArg } from '../operations.ts';
import { withAdminDatabase } from './admin-db.ts';
import { type DatabaseFlags, databaseOptions } from './common.ts';
import { humanTime, parsePositiveInt, parseTimeArg, printAs, printTable } from './output.ts';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function printEvents(events: readonly AuditRow[]): void {
  printTable(events, 'no events', ['AT', 'EVENT', 'USER', 'SESSION', 'IP', 'DETAIL'], (e) => [
    humanTime(e.at),
    e.event,
    e.user_id ?? '-',
    e.session_id ?? '-',
    e.client_ip ?? '-',
    Object.keys(e.detail ?? {}).length ? JSON.stringify(e.detail) : '',
  ]);
}

interface AuditFlags extends DatabaseFlags {
  user?: string;
  since?: TimeArg;
  limit: number;
  json?: boolean;
}

/** `pgauth audit`: read the audit log. */
export function auditCommand(): Command {
  const cmd = new Command('audit')
    .description('show audit events, newest first')
    .option(
      '--user <user>',
      'only the events of one user: a username, or an id (an id also finds a deleted user)',
    )
    .option(
      '--since <time>',
      'only events at or after a time (2030-01-31, 2030-01-31T12:00:00Z) or that long ago (30m, 12h, 7d, 2w)',
      parseTimeArg,
    )
    .option('--limit <n>', 'at most n events (1 to 10000)', parsePositiveInt, 100)
    .option('--json', 'print JSON (an array of events)')
    .action(async (flags: AuditFlags) => {
      const events = await withAdminDatabase(flags, async (ops) => {
        // Audit rows outlive their user: an id is used as given, so a deleted user's events
        // stay readable; a username must name a current user.
        const userId =
          flags.user === undefined
            ? undefined
            : UUID.test(flags.user)
              ? flags.user
              : await ops.findUser(flags.user);
        return ops.auditEvents({ userId, since: flags.since, limit: flags.limit });
      });
      printAs(flags.json, events, printEvents);
    });
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
