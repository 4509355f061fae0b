import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Database } from '@pgauth/client/internal';
import { openPostgres } from '@pgauth/client/internal';
import { Command, Option } from 'commander';
import { ConfigError, type ServeConfig, type ServeFlags, serveConfig } from '../config.ts';
import {
  embeddedUrl,
  readLiveServerInfo,
  removeServerInfo,
  writeServerInfo,
} from '../db/embedded-server.ts';
import { openDatabase } from '../db/open.ts';
import { fromPglite } from '../db/pglite.ts';
import { migrate, pendingMigrations } from '../migrate.ts';
import { buildApp } from '../server/app.ts';
import { databaseOptions, UsageError } from './common.ts';

/** The database the server runs on, and how to let it go. */
interface Backend {
  db: Database;
  /** Whether NOTIFY reaches this process's LISTEN (the revocation feed and the cache need it). */
  notifies: boolean;
  engine: string;
  /** Lines printed at start about where the data is. */
  describe: string[];
  close(): Promise<void>;
}

/** PostgreSQL: migrated at start, or (with --no-migrate) refused while a migration is pending. */
async function postgresBackend(config: ServeConfig): Promise<Backend> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    poolSize: config.poolSize,
    statementTimeoutMs: config.statementTimeoutMs,
  });
  try {
    if (config.migrate) {
      await migrate(db);
    } else {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) {
        throw new UsageError(
          `the pgauth schema of this database is not up to date (${pending.length} pending migration(s): ${pending.join(', ')}); run \`pgauth migrate\` or start without --no-migrate`,
        );
      }
    }
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  const url = new URL(config.databaseUrl ?? '');
  return {
    db,
    notifies: true,
    engine: 'postgres',
    describe: [`database: postgres://${url.host}${url.pathname}`],
    close: () => db.close(),
  };
}

/**
 * The embedded engine: PGlite on the data folder, migrated, served over the wire protocol on
 * 127.0.0.1 and recorded in the folder so that the CLI and psql reach it while the server holds
 * the files. The gateway itself goes through that endpoint too: the socket server keeps each
 * client's transaction apart from the others' statements, which in-process calls would not be.
 */
async function embeddedBackend(config: ServeConfig): Promise<Backend> {
  const dataDir = resolve(config.dataDir);
  const holder = await readLiveServerInfo(dataDir);
  if (holder) {
    throw new UsageError(
      `the data folder ${dataDir} is held by another pgauth serve (pid ${holder.pid}); stop it first or use another --data-dir`,
    );
  }
  await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir, extensions: { pgcrypto } });
  const direct = fromPglite(pglite);
  let socket: PGLiteSocketServer | undefined;
  try {
    await migrate(direct);
    socket = new PGLiteSocketServer({
      db: pglite,
      host: '127.0.0.1',
      port: config.sqlPort,
      maxConnections: config.poolSize + 16,
    });
    await socket.start();
    const port = Number(socket.getServerConn().split(':').pop());
    const info = { pid: process.pid, host: '127.0.0.1', port };
    await writeServerInfo(dataDir, info);
    const url = embeddedUrl(info);
    const db = openPostgres({ connectionString: url, max: config.poolSize });
    const server = socket;
    return {
      db,
      // The socket endpoint does not pass notifications on: no revocation feed, so no cache.
      notifies: false,
      engine: 'pglite (embedded)',
      describe: [`data folder: ${dataDir}`, `SQL (wire protocol, while serve runs): psql "${url}"`],
      async close() {
        await db.close().catch(() => {});
        await removeServerInfo(dataDir);
        await server.stop();
        await direct.close();
      },
    };
  } catch (err) {
    await socket?.stop().catch(() => {});
    await removeServerInfo(dataDir).catch(() => {});
    await direct.close().catch(() => {});
    throw err;
  }
}

/**
 * Runs the gateway until SIGTERM or SIGINT, then shuts down gracefully: stops accepting, lets
 * requests in flight finish, closes the pool and the embedded database.
 */
export async function runServe(flags: ServeFlags, out: (line: string) => void): Promise<number> {
  let config: ServeConfig;
  try {
    config = serveConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const backend = config.databaseUrl
    ? await postgresBackend(config)
    : await embeddedBackend(config);
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    app = await buildApp({
      db: backend.db,
      bodyLimit: config.bodyLimit,
      trustProxy: config.trustProxy,
      rateLimit: config.rateLimit,
      poolSize: config.poolSize,
      hashConcurrency: config.hashConcurrency,
      logger: { level: config.logLevel },
      defaultMetrics: true,
      revocations: backend.notifies,
      cache: config.cache,
    });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await backend.close().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  out(`pgauth listening on http://${host}:${port}`);
  out(`engine: ${backend.engine}`);
  out(
    `validation cache: ${config.cache && backend.notifies ? 'on (evicted by revocation events)' : config.cache ? 'off (the embedded database has no revocation feed)' : 'off (--no-cache)'}`,
  );
  for (const line of backend.describe) out(line);
  out(
    `create the first admin: npx pgauth user add admin --role admin${config.databaseUrl ? ' --database-url <url>' : config.dataDir === '.pgauth' ? '' : ` --data-dir ${config.dataDir}`}`,
  );
  out(`API docs: http://${host}:${port}/docs`);

  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      app.log.info({ signal }, 'shutting down');
      app
        .close()
        .catch((err: unknown) => app.log.error({ err }, 'error while closing the server'))
        .then(() => backend.close())
        .catch((err: unknown) => app.log.error({ err }, 'error while closing the database'))
        .finally(done);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  out('pgauth stopped');
  return 0;
}

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
      process.exitCode = await runServe(flags, (line) => console.log(line));
    });
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
