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

/** The PGlite driver: PostgreSQL compiled to WASM, in this process, with pgcrypto loaded. */
export async function openPglite(options: PgliteOptions = {}): Promise<Database> {
  const pg = await PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.loadDataDir,
    extensions: { pgcrypto },
  });
  return fromPglite(pg);
}
