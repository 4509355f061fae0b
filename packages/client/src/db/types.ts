/** A row as drivers return it: column name to value. */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** What can run a query: the database itself, or one transaction of it. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements, without parameters. */
  exec(sql: string): Promise<void>;
}

export type Unlisten = () => Promise<void>;

/**
 * The small database interface every part of pgauth goes through. Two drivers implement it:
 * node-postgres (a pool, for a PostgreSQL URL) and PGlite (embedded, a folder or in memory).
 */
export interface Database extends Queryable {
  readonly engine: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to one NOTIFY channel or several (on one connection). `onLost` is called if the
   * subscription drops (PostgreSQL connection lost); the subscriber must treat everything it
   * cached as stale.
   */
  listen(
    channel: string | readonly string[],
    onNotify: (payload: string, channel: string) => void,
    onLost?: (err: Error) => void,
  ): Promise<Unlisten>;
  close(): Promise<void>;
}
