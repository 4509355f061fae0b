import pg from 'pg';
import { withDeadline } from './deadline.ts';
import type { Database, Queryable, QueryResult, Row, Unlisten } from './types.ts';

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; bounds how much of the server one process can take. */
  max?: number;
  /** Server-side statement timeout in milliseconds (0 = none). */
  statementTimeoutMs?: number;
  application_name?: string;
  /** How long to wait for a new connection before failing (default 5000 ms). */
  connectionTimeoutMs?: number;
  /**
   * The longest a query may take, measured here rather than by the server: a server that froze or
   * a dropped route never answers, and only a client-side bound turns that into an error. Default:
   * statement timeout + 1 s, or none without a statement timeout.
   */
  queryDeadlineMs?: number;
}

type PgQueryable = Pick<pg.PoolClient, 'query'>;

/**
 * How often a LISTEN connection proves it is alive, and how long the proof may take: a cache
 * that relies on it stops serving within twice this after the server stops answering.
 */
const LISTEN_HEARTBEAT_MS = 1_000;

function wrap(q: PgQueryable, deadlineMs?: number): Queryable {
  return {
    async query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await withDeadline(q.query<R>(sql, params as unknown[] | undefined), deadlineMs);
      return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  };
}

/** The node-postgres driver: a pool for queries, a dedicated client per LISTEN subscription. */
export function openPostgres(options: PostgresOptions): Database {
  const config: pg.PoolConfig = {
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.application_name ?? 'pgauth',
    // A server that drops packets must fail a request within a bound, not hang it.
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
  };
  if (options.statementTimeoutMs) config.statement_timeout = options.statementTimeoutMs;
  const deadlineMs =
    options.queryDeadlineMs ??
    (options.statementTimeoutMs ? options.statementTimeoutMs + 1_000 : undefined);
  const pool = new pg.Pool(config);
  // An idle client that loses its connection emits 'error' on the pool; without a listener the
  // process would crash. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  const listeners = new Set<pg.Client>();

  return {
    engine: 'postgres',
    ...wrap(pool, deadlineMs),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn(wrap(client));
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify, onLost): Promise<Unlisten> {
      const client = new pg.Client({
        connectionString: options.connectionString,
        connectionTimeoutMillis: config.connectionTimeoutMillis,
        application_name: `${config.application_name}:listen`,
        keepAlive: true,
        // The heartbeat below fails within this bound when the server stops answering.
        query_timeout: LISTEN_HEARTBEAT_MS,
      });
      let heartbeat: NodeJS.Timeout | undefined;
      let closing = false;
      const lost = (err: Error): void => {
        if (closing) return;
        closing = true;
        clearInterval(heartbeat);
        listeners.delete(client);
        client.end().catch(() => {});
        onLost?.(err);
      };
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      client.on('notification', (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '');
      });
      await client.connect();
      try {
        await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        closing = true;
        await client.end().catch(() => {});
        throw err;
      }
      listeners.add(client);
      // A connection cut without a FIN (a server that froze, a dropped route) is only noticed
      // by asking: a query every few seconds turns silence into onLost.
      heartbeat = setInterval(() => {
        client.query('select 1').catch((err: Error) => lost(err));
      }, LISTEN_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        if (closing) return;
        closing = true;
        clearInterval(heartbeat);
        listeners.delete(client);
        await client.end().catch(() => {});
      };
    },
    async close(): Promise<void> {
      await Promise.all([...listeners].map((c) => c.end().catch(() => {})));
      listeners.clear();
      await pool.end();
    },
  };
}
