/**
 * `pgauth serve` itself: opens the database (PostgreSQL, or the embedded engine served over the
 * wire protocol), builds the gateway and runs it until SIGTERM or SIGINT. Loaded only when
 * `serve` runs, so that every other command starts without the server's dependencies.
 */
import { resolve } from 'node:path';
import type { Database } from '@pgauth/client/internal';
import { openPostgres } from '@pgauth/client/internal';
import { UsageError } from '../commands/common.ts';
import { ConfigError, type ServeConfig, type ServeFlags, serveConfig } from '../config.ts';
import { openDataFolder } from '../db/embedded.ts';
import {
  embeddedUrl,
  readLiveServerInfo,
  removeServerInfo,
  writeServerInfo,
} from '../db/embedded-server.ts';
import { openDatabase } from '../db/open.ts';
import { fromPglite } from '../db/pglite.ts';
import { startWireServer, type WireServer } from '../db/wire-server.ts';
import { migrate, pendingMigrations, reportTo } from '../migrate.ts';
import type { buildApp } from './app.ts';
import { listenMetrics, type MetricsListener } from './metrics-listener.ts';

/** The database the server runs on, and how to let it go. */
interface Backend {
  db: Database;
  /** Whether NOTIFY reaches this process's LISTEN (the revocation feed and the cache need it). */
  notifies: boolean;
  engine: string;
  /** Lines printed at start about where the data is. */
  describe: string[];
  /** Read replicas (PostgreSQL with --read-url). */
  replicas: Database[];
  close(): Promise<void>;
}

/** Migrates at start; returns a line for each object the functions step dropped or kept. */
async function migrateAtStart(db: Database): Promise<string[]> {
  const lines: string[] = [];
  await migrate(db, undefined, undefined, reportTo(lines));
  return lines;
}

/** PostgreSQL: migrated at start, or (with --no-migrate) refused while a migration is pending. */
async function postgresBackend(config: ServeConfig): Promise<Backend> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    listenUrl: config.listenUrl,
    poolSize: config.poolSize,
    statementTimeoutMs: config.statementTimeoutMs,
  });
  const replicas = config.readUrls.map((url, i) =>
    openPostgres({
      connectionString: url,
      max: config.poolSize,
      statementTimeoutMs: config.statementTimeoutMs,
      application_name: `pgauth:replica${i}`,
    }),
  );
  let objectLines: string[] = [];
  try {
    if (config.migrate) {
      objectLines = await migrateAtStart(db);
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
    await Promise.all(replicas.map((r) => r.close().catch(() => {})));
    throw err;
  }
  const where = (u: string): string => {
    const url = new URL(u);
    return `postgres://${url.host}${url.pathname}`;
  };
  const describe = [`database: ${where(config.databaseUrl ?? '')}`];
  if (config.listenUrl) describe.push(`LISTEN: ${where(config.listenUrl)}`);
  for (const url of config.readUrls) describe.push(`read replica: ${where(url)}`);
  describe.push(...objectLines);
  return {
    db,
    notifies: true,
    engine: 'postgres',
    describe,
    replicas,
    async close() {
      await Promise.all([db.close(), ...replicas.map((r) => r.close())]);
    },
  };
}

/**
 * The embedded engine: PGlite on the data folder, migrated, served over the wire protocol on
 * 127.0.0.1 and recorded in the folder so that the CLI and psql reach it while the server holds
 * the files. The gateway itself goes through that endpoint too: it gives one connection at a time
 * the backend, from its first message to the end of its batch or transaction (db/wire-server.ts),
 * which keeps the gateway's transactions apart from the CLI's; in-process calls would not be.
 */
async function embeddedBackend(config: ServeConfig, say: (line: string) => void): Promise<Backend> {
  const dataDir = resolve(config.dataDir);
  const holder = await readLiveServerInfo(dataDir);
  if (holder) {
    throw new UsageError(
      `the data folder ${dataDir} is held by another pgauth serve (pid ${holder.pid}); stop it first or use another --data-dir`,
    );
  }
  const pglite = await openDataFolder(dataDir, { create: true, say });
  const direct = fromPglite(pglite);
  let socket: WireServer | undefined;
  try {
    const objectLines = await migrateAtStart(direct);
    socket = await startWireServer({
      db: pglite,
      host: '127.0.0.1',
      port: config.sqlPort,
      maxConnections: config.poolSize + 16,
    });
    const info = { pid: process.pid, host: socket.host, port: socket.port };
    await writeServerInfo(dataDir, info);
    const url = embeddedUrl(info);
    const db = openPostgres({ connectionString: url, max: config.poolSize });
    const server = socket;
    return {
      db,
      // The socket endpoint does not pass notifications on: no revocation feed, so no cache.
      notifies: false,
      engine: 'pglite (embedded)',
      replicas: [],
      describe: [
        `data folder: ${dataDir}`,
        `SQL (wire protocol, while serve runs): psql "${url}"`,
        ...objectLines,
      ],
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
  // The gateway's modules load while the database opens.
  const appModule = import('./app.ts');
  appModule.catch(() => {}); // awaited below; not an unhandled rejection if the database fails first
  const backend = config.databaseUrl
    ? await postgresBackend(config)
    : await embeddedBackend(config, out);
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let metrics: MetricsListener | undefined;
  try {
    app = await (await appModule).buildApp({
      db: backend.db,
      bodyLimit: config.bodyLimit,
      trustProxy: config.trustProxy,
      corsOrigins: config.corsOrigins,
      metricsOnMainPort: config.metricsListen ? false : 'loopback',
      rateLimit: config.rateLimit,
      poolSize: config.poolSize,
      hashConcurrency: config.hashConcurrency,
      logger: { level: config.logLevel },
      defaultMetrics: true,
      revocations: backend.notifies,
      cache: config.cache,
      replicas: backend.replicas,
      maxReplicaLagMs: config.maxReplicaLagMs,
      mail: config.mail ?? undefined,
      keyEncryptionKey: config.keyEncryptionKey,
      purgeIntervalMs: config.purgeIntervalMs,
      issuer: config.issuer,
    });
    await app.listen({ port: config.port, host: config.host });
    if (config.metricsListen) metrics = await listenMetrics(app, config.metricsListen);
  } catch (err) {
    await app?.close().catch(() => {});
    await backend.close().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  out(`pgauth listening on http://${host}:${port}`);
  out(`engine: ${backend.engine}`);
  out(
    `validation cache: ${config.cache && backend.notifies ? 'on while its probes prove that revocation events arrive (GET /readyz tells)' : config.cache ? 'off (the embedded database has no revocation feed)' : 'off (--no-cache)'}`,
  );
  for (const line of backend.describe) out(line);
  out(
    config.mail
      ? `mail: sent from this process through ${new URL(config.mail.smtpUrl).host}`
      : 'mail: not sent from this process (--smtp-url); `pgauth mail send-pending` delivers the outbox',
  );
  out(
    config.purgeIntervalMs
      ? `retention: ended sessions and expired tokens purged every ${config.purgeIntervalMs / 1000} s (--purge-interval)`
      : 'retention: not run by this process (--purge-interval 0); run `pgauth purge` from cron',
  );
  out(
    config.keyEncryptionKey
      ? `JWT access tokens: signed here (keys stored encrypted under the key-encryption key), issuer ${config.issuer ?? "each request's origin (set --issuer behind a load balancer)"}`
      : 'JWT access tokens: off: logins and clients in jwt format get 503 signing_unavailable (set PGAUTH_KEY_ENCRYPTION_KEY or --key-encryption-key to sign)',
  );
  out(
    `create the first admin: npx pgauth user add admin --role admin${config.databaseUrl ? ' --database-url <url>' : config.dataDir === '.pgauth' ? '' : ` --data-dir ${config.dataDir}`}`,
  );
  out(`API docs: http://${host}:${port}/docs`);
  out(
    metrics
      ? `metrics on ${metrics.url}/metrics`
      : `metrics: http://${host}:${port}/metrics, to clients on this host only (--metrics-listen to serve them elsewhere)`,
  );

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
