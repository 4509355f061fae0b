import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import type { Database, Queryable, QueryResult, Row, Unlisten } from '@pgauth/client/internal';

export interface PgliteOptions {
  /** Folder that holds the data; omitted or `memory://` for an in-memory database. */
  dataDir?: string;
  /** A data folder dump (from `dumpDataDir`) to start from instead of running initdb. */
  loadDataDir?: Blob | File;
}

type PgliteQueryable = Pick<PGlite, 'query' | 'exec'>;

function wrap(q: PgliteQueryable): Queryable {
  return {
    async query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await q.query<R>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  };
}

/** Wraps an open PGlite instance; `close()` closes it. */
export function fromPglite(pg: PGlite): Database {
  return {
    engine: 'pglite',
    ...wrap(pg),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return pg.transaction((tx) => fn(wrap(tx)));
    },
    async listen(channel, onNotify): Promise<Unlisten> {
      // In process: the subscription cannot drop while the instance is open.
      const channels: readonly string[] = typeof channel === 'string' ? [channel] : channel;
      const unsubscribes: (() => Promise<void>)[] = [];
      for (const c of channels) {
        unsubscribes.push(await pg.listen(c, (payload) => onNotify(payload, c)));
      }
      return async () => {
        for (const unsubscribe of unsubscribes) await unsubscribe();
      };
    },
    async close(): Promise<void> {
      if (!pg.closed) await pg.close();
    },
  };
}

/**
 * PGlite's own start parameters, and a smaller buffer pool than PostgreSQL's default 128 MB:
 * PGlite touches all of it at start, which alone is about 110 MB of the process's resident memory
 * and 0.4 s of CPU. pgauth's tables are small and the files stay in the operating system's page
 * cache anyway; 32 MB still holds the working set of many thousands of sessions. Given on the
 * command line of the engine, so a data folder's postgresql.conf is left alone.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'];

/**
 * PostgreSQL's WASM stays compiled by V8's baseline compiler (Liftoff). By default V8 compiles the
 * functions it finds hot again with its optimising compiler, on background threads, and keeps both
 * codes. Measured here: `pgauth serve` on the embedded engine holds 260–285 MiB instead of
 * 320–370 after a validation load, at the same request rate, listens 1.8–2.2 s after it starts on
 * a new folder instead of 2.1–2.9, and spends less CPU on the start and a warm-up load (6.3 s
 * instead of 6.8–7.2); bcrypt at cost 10 takes about 70 ms either way. What it costs:
 * the long DDL of a full migration, about 0.9 → 1.3 s, once. The flags are the process's: any
 * WASM compiled after the first engine opens is compiled alike.
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--no-wasm-dynamic-tiering');
  setFlagsFromString('--no-wasm-tier-up');
}

/** PostgreSQL compiled to WASM, in this process, with pgcrypto loaded and pgauth's settings. */
export function createPglite(options: PgliteOptions = {}): Promise<PGlite> {
  baselineWasmOnly();
  return PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.loadDataDir,
    extensions: { pgcrypto },
    startParams: START_PARAMS,
  });
}

/** The PGlite driver: `createPglite` as a `Database`. */
export async function openPglite(options: PgliteOptions = {}): Promise<Database> {
  return fromPglite(await createPglite(options));
}
