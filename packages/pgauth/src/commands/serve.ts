import { Command, Option } from 'commander';
import { SERVE_OPTIONS, type ServeFlags } from '../config.ts';
import { databaseOptions } from './common.ts';

/** Where SERVE_OPTIONS has no say: switches, and where the command runs. */
const SWITCHES = [
  new Option(
    '--no-migrate',
    'with --database-url: do not apply migrations at start (a pending one stops the start)',
  ),
  new Option(
    '--no-cache',
    'do not cache validations of GET /v1/session and /v1/auth/check (the cache needs PostgreSQL; the embedded database never caches)',
  ),
];

export function serveCommand(): Command {
  const cmd = new Command('serve').description(
    'run the HTTP gateway: embedded database in --data-dir by default, or PostgreSQL with --database-url',
  );
  for (const option of SWITCHES) cmd.addOption(option);
  for (const spec of Object.values(SERVE_OPTIONS)) {
    const option = new Option(spec.flag, spec.help).env(spec.env);
    if ('repeatable' in spec) {
      // Each flag adds one value; the variable gives them all at once (a string, split later).
      option.argParser((value: string, previous: unknown) =>
        Array.isArray(previous) ? [...previous, value] : [value],
      );
    }
    cmd.addOption(spec.default === undefined ? option : option.default(String(spec.default)));
  }
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd.action(async (flags: ServeFlags) => {
    const { runServe } = await import('../server/run.ts');
    process.exitCode = await runServe(flags, (line) => console.log(line));
  });
}
