import { Command, Option } from 'commander';
import type { ServeFlags } from '../config.ts';
import { databaseOptions } from './common.ts';

function env(option: Option, name: string): Option {
  return option.env(name);
}

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description(
      'run the HTTP gateway: embedded database in --data-dir by default, or PostgreSQL with --database-url',
    )
    .addOption(
      new Option(
        '--no-migrate',
        'with --database-url: do not apply migrations at start (a pending one stops the start)',
      ),
    )
    .addOption(
      env(new Option('--port <port>', 'HTTP port (0: any free port)').default('8080'), 'PORT'),
    )
    .addOption(
      env(
        new Option('--host <host>', 'address to listen on (0.0.0.0: every interface)').default(
          '127.0.0.1',
        ),
        'HOST',
      ),
    )
    .addOption(
      env(
        new Option(
          '--sql-port <port>',
          'embedded database: port of its PostgreSQL wire-protocol endpoint on 127.0.0.1 (0: any free port)',
        ).default('0'),
        'PGAUTH_SQL_PORT',
      ),
    )
    .addOption(
      env(new Option('--pool-size <n>', 'database connections').default('10'), 'PGAUTH_POOL_SIZE'),
    )
    .addOption(
      env(
        new Option('--statement-timeout-ms <ms>', 'PostgreSQL statement timeout (0: none)').default(
          '5000',
        ),
        'PGAUTH_STATEMENT_TIMEOUT_MS',
      ),
    )
    .addOption(
      env(
        new Option(
          '--hash-concurrency <n>',
          'password-hashing calls at once (default: half the pool); excess queue, then 503',
        ),
        'PGAUTH_HASH_CONCURRENCY',
      ),
    )
    .addOption(
      env(
        new Option(
          '--trust-proxy <value>',
          'true, or addresses/CIDRs of proxies whose X-Forwarded-For gives the client IP',
        ).default('false'),
        'PGAUTH_TRUST_PROXY',
      ),
    )
    .addOption(
      env(
        new Option('--body-limit <bytes>', 'largest request body').default('16384'),
        'PGAUTH_BODY_LIMIT',
      ),
    )
    .addOption(
      env(
        new Option(
          '--log-level <level>',
          'fatal, error, warn, info, debug, trace or silent',
        ).default('info'),
        'PGAUTH_LOG_LEVEL',
      ),
    )
    .addOption(
      new Option(
        '--no-cache',
        'do not cache validations of GET /v1/session and /v1/auth/check (the cache needs PostgreSQL; the embedded database never caches)',
      ),
    )
    .addOption(
      env(
        new Option('--cache-max-entries <n>', 'validations kept in the cache').default('10000'),
        'PGAUTH_CACHE_MAX_ENTRIES',
      ),
    )
    .addOption(
      env(
        new Option(
          '--cache-max-age-ms <ms>',
          'longest a validation is served from the cache (never past the session expiry)',
        ).default('60000'),
        'PGAUTH_CACHE_MAX_AGE_MS',
      ),
    )
    .addOption(
      env(
        new Option('--rate-window-ms <ms>', 'rate-limit window').default('60000'),
        'PGAUTH_RATE_WINDOW_MS',
      ),
    )
    .addOption(
      env(
        new Option('--login-rate-ip <n>', 'logins per client IP and window').default('30'),
        'PGAUTH_LOGIN_RATE_IP',
      ),
    )
    .addOption(
      env(
        new Option('--login-rate-user <n>', 'logins per username and window').default('10'),
        'PGAUTH_LOGIN_RATE_USER',
      ),
    )
    .addOption(
      env(
        new Option('--register-rate-ip <n>', 'registrations per client IP and window').default(
          '10',
        ),
        'PGAUTH_REGISTER_RATE_IP',
      ),
    )
    .addOption(
      env(
        new Option('--register-rate-user <n>', 'registrations per username and window').default(
          '5',
        ),
        'PGAUTH_REGISTER_RATE_USER',
      ),
    )
    .addOption(
      env(
        new Option('--refresh-rate-ip <n>', 'refreshes per client IP and window').default('60'),
        'PGAUTH_REFRESH_RATE_IP',
      ),
    )
    .action(async (flags: ServeFlags) => {
      const { runServe } = await import('../server/run.ts');
      process.exitCode = await runServe(flags, (line) => console.log(line));
    });
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
