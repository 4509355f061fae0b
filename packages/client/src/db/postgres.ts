import pg from 'pg';
import { DeadlineError, withDeadline } from './deadline.ts';
import type { Database, Queryable, QueryResult, Row, Unlisten } from './types.ts';

export interface PostgresOptions {
  /** Where queries go: the server, or a pooler in front of it (PgBouncer in transaction mode). */
  connectionString: string;
  /**
   * Where LISTEN goes (default: connectionString). A transaction pooler accepts LISTEN and then
   * delivers nothing, so behind one this must be a direct (or session-pooled) connection.
   */
  listenConnectionString?: string;
  /** Pool size; bounds how much of the server one process can take. */
  max?: number;
  /**
   * Server-side statement timeout in milliseconds (0 = none). Set by `SET LOCAL` in each call's
   * own transaction, never as a startup parameter: a pooler refuses those it does not know
   * (PgBouncer does statement_timeout), and a plain `SET` would stay on a server connection that
   * the pooler then hands to somebody else.
   */
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

/** A statement that calls a procedure, which may commit on its own. */
const PROCEDURE_CALL = /^\s*call\s/i;

type PgQueryable = Pick<pg.PoolClient, 'query'>;

/**
 * How often a LISTEN connection proves it is alive, and how long the proof may take: a cache
 * that relies on it stops serving within twice this after the server stops answering.
 */
const LISTEN_HEARTBEAT_MS = 1_000;

/** A result of node-postgres as the Database interface gives it. */
function result<R extends Row>(r: pg.QueryResult<R>): QueryResult<R> {
  return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
}

/** A client inside a transaction as a Queryable. */
function wrap(q: PgQueryable): Queryable {
  return {
    query: async (sql, params) => result(await q.query(sql, params as unknown[] | undefined)),
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  };
}

/** A client checked out of a pool, and how to give it back. */
interface Held {
  client: pg.PoolClient;
  /** Back to the pool; closed instead if its connection failed meanwhile, or `doubt` is given. */
  release(doubt?: Error): void;
}

/**
 * A client of `used`. A checked-out client that loses its connection emits 'error' on itself, not
 * on the pool: unheard, that would crash the process (the statement in flight fails anyway).
 */
async function checkout(used: pg.Pool): Promise<Held> {
  const client = await used.connect();
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  return {
    client,
    release(doubt) {
      client.off('error', onError);
      client.release(broken ?? doubt);
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
  const timeoutMs = options.statementTimeoutMs ?? 0;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) {
    throw new TypeError('statementTimeoutMs must be an integer ≥ 0');
  }
  const deadlineMs =
    options.queryDeadlineMs ??
    (options.statementTimeoutMs ? options.statementTimeoutMs + 1_000 : undefined);
  /**
   * How the statement timeout is set: as a startup parameter (no cost: one round trip a call)
   * until a server refuses it, as PgBouncer does; from then on by SET LOCAL in each call's own
   * transaction (three round trips a call, which a pooled server connection cannot keep apart
   * from anybody else's otherwise).
   */
  let mode: 'none' | 'startup' | 'local' = timeoutMs ? 'startup' : 'none';
  /** Pools that send the timeout as a startup parameter: a refusal of theirs is worth a retry. */
  const sendsStartup = new WeakSet<pg.Pool>();
  const newPool = (): pg.Pool => {
    const p = new pg.Pool(
      mode === 'startup' ? { ...config, statement_timeout: timeoutMs } : config,
    );
    if (mode === 'startup') sendsStartup.add(p);
    // An idle client that loses its connection emits 'error' on the pool; without a listener
    // the process would crash. The next query simply gets a fresh connection.
    p.on('error', () => {});
    return p;
  };
  let pool = newPool();
  /**
   * Whether `err`, from `used`, is a pooler refusing the timeout as a startup parameter: then
   * every call from now on sets it by SET LOCAL, and this one is tried again.
   */
  const refusedStartup = (err: unknown, used: pg.Pool): boolean => {
    if (!sendsStartup.has(used)) return false;
    if (!/unsupported startup parameter/i.test(String((err as Error)?.message))) return false;
    if (mode === 'startup') {
      mode = 'local';
      const old = pool;
      pool = newPool();
      void old.end().catch(() => {});
    }
    return true;
  };
  const listeners = new Set<pg.Client>();
  /**
   * One statement on a client of `used` (parameters: extended protocol; none: simple, which may
   * hold several), within `deadline` from now if given (the wait for a connection included). Not
   * pg's Pool.query: that closes the connection after any error, also one the server answered (a
   * pgauth error such as user_not_found, a constraint), and a new connection costs the server a
   * backend start and cold function caches (26 ms against 0.6 for a failing call and the next,
   * measured). Here a client goes back to the pool after an error the server answered to a
   * statement with parameters (see harmless); one whose connection failed, or that failed any
   * other way, is closed. A client is released when its statement ends, also after the deadline
   * answered the caller; one that comes after the deadline runs nothing.
   */
  const onClient = <R extends Row>(
    used: pg.Pool,
    sql: string,
    params?: readonly unknown[],
    deadline?: number,
  ): Promise<pg.QueryResult<R>> => {
    let late = false;
    const run = async (): Promise<pg.QueryResult<R>> => {
      const held = await checkout(used);
      if (late) {
        held.release();
        throw new Error('the caller stopped waiting');
      }
      const release = (err?: unknown): void =>
        held.release(err === undefined || harmless(err) ? undefined : (err as Error));
      /**
       * An error that leaves the connection as it was: one the server answered to a statement
       * sent with parameters (a single statement, which cannot leave a transaction open), not
       * FATAL or PANIC (the server is closing the connection). Statements without parameters may
       * be several, `begin; …` among them, and an error can leave the session in a failed
       * transaction: such a connection is closed, as Pool.query did.
       */
      const harmless = (err: unknown): boolean =>
        err instanceof pg.DatabaseError &&
        err.severity !== 'FATAL' &&
        err.severity !== 'PANIC' &&
        (params?.length ?? 0) > 0;
      let running: Promise<pg.QueryResult<R>>;
      try {
        running = held.client.query<R>(sql, params as unknown[] | undefined);
      } catch (err) {
        release(err);
        throw err;
      }
      running.then(() => release(), release);
      return running;
    };
    return withDeadline(run(), deadline).catch((err: unknown) => {
      if (err instanceof DeadlineError) late = true;
      throw err;
    });
  };
  const transaction = async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    let held: Held;
    const used = pool;
    try {
      held = await checkout(used);
    } catch (err) {
      if (refusedStartup(err, used)) return transaction(fn);
      throw err;
    }
    const { client } = held;
    let doubt: Error | undefined;
    try {
      await client.query(
        mode === 'local' ? `begin; set local statement_timeout = ${timeoutMs}` : 'begin',
      );
      const value = await fn(wrap(client));
      await client.query('commit');
      return value;
    } catch (err) {
      // A connection that cannot even roll back is not handed out again.
      await client.query('rollback').catch((e: Error) => {
        doubt = e;
      });
      throw err;
    } finally {
      held.release(doubt);
    }
  };
  const query = async <R extends Row>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>> => {
    // A procedure that commits (pgauth.login_durably) cannot run inside the call's transaction:
    // through a pooler it runs under the login role's statement_timeout (docs/deployment.md).
    if (mode === 'local' && !PROCEDURE_CALL.test(sql)) {
      return withDeadline(
        transaction((tx) => tx.query<R>(sql, params)),
        deadlineMs,
      );
    }
    const used = pool;
    try {
      return result(await onClient<R>(used, sql, params, deadlineMs));
    } catch (err) {
      if (refusedStartup(err, used)) return query<R>(sql, params);
      throw err;
    }
  };
  const exec = async (sql: string): Promise<void> => {
    const used = pool;
    try {
      await onClient(used, sql);
    } catch (err) {
      if (refusedStartup(err, used)) return exec(sql);
      throw err;
    }
  };

  return {
    engine: 'postgres',
    query,
    exec,
    transaction,
    async listen(channel, onNotify, onLost): Promise<Unlisten> {
      const client = new pg.Client({
        connectionString: options.listenConnectionString ?? options.connectionString,
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
      const channels: readonly string[] = typeof channel === 'string' ? [channel] : channel;
      client.on('notification', (msg) => {
        if (channels.includes(msg.channel)) onNotify(msg.payload ?? '', msg.channel);
      });
      await client.connect();
      try {
        for (const c of channels) await client.query(`listen ${pg.escapeIdentifier(c)}`);
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
