/**
 * The pieces of a fleet for the topology tests, all real and all private to the test: a
 * PostgreSQL primary (test/helpers/cluster.ts), PgBouncer in front of it (test/helpers/
 * pgbouncer.ts), and the helpers the tests share (users, logins, polling, percentiles).
 * PostgreSQL only; a machine without PgBouncer skips with the package to install.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  type Cluster,
  createPgauthDatabase,
  type GatewayProcess,
  startCluster,
} from '../helpers/cluster.ts';
import { postgresOnly } from '../helpers/db.ts';
import { type Bouncer, pgbouncerMissing, startPgbouncer } from '../helpers/pgbouncer.ts';
import { needs } from '../helpers/tools.ts';
import { waitForTimed } from '../helpers/wait.ts';

export const PASSWORD = 'a long enough passphrase';

/** The skip option of every topology test. */
export const skipTopology: string | false =
  postgresOnly || needs('topology tests (PgBouncer)', pgbouncerMissing());

export interface Fleet {
  primary: Cluster;
  db: string;
  bouncer: Bouncer;
  /** Direct URL of the primary's database (what --listen-url names). */
  direct: string;
  /** The same through PgBouncer in transaction mode (what --database-url names). */
  pooled: string;
  close(): Promise<void>;
}

export async function startFleet(settings: Record<string, string> = {}): Promise<Fleet> {
  const primary = await startCluster({ settings });
  try {
    const db = await createPgauthDatabase(primary);
    const bouncer = await startPgbouncer({ serverPort: primary.port, databases: [db] });
    return {
      primary,
      db,
      bouncer,
      direct: primary.url(db),
      pooled: bouncer.url(db),
      async close() {
        await bouncer.stop();
        await primary.destroy();
      },
    };
  } catch (err) {
    await primary.destroy();
    throw err;
  }
}

/** Creates a user over SQL on `cluster`; returns its id. */
export async function createUser(
  cluster: Cluster,
  db: string,
  username: string,
  roles: string[] = [],
): Promise<string> {
  const rows = await cluster.query<{ id: string }>(
    'select pgauth.create_user($1, $2, null, $3::text[])::text as id',
    [username, PASSWORD, roles],
    db,
  );
  return rows[0]?.id as string;
}

export interface HttpReply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function http(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; ip?: string } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: r.status, body, headers: r.headers };
}

export async function loginOver(
  gw: GatewayProcess,
  username: string,
): Promise<{ token: string; sessionId: string }> {
  const r = await http(gw.url, 'POST', '/v1/login', { json: { username, password: PASSWORD } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { token: r.body.access_token as string, sessionId: r.body.session_id as string };
}

/** The status `gw` answers GET `path` (default /v1/auth/check) with `token`. */
export async function statusOf(
  gw: GatewayProcess,
  token: string,
  path = '/v1/auth/check',
): Promise<number> {
  return (await http(gw.url, 'GET', path, { token })).status;
}

/**
 * Asks `gw` every `everyMs` until it refuses `token` (401 to GET `path`); resolves with how long
 * that took, fails after `withinMs`.
 */
export async function refusedBy(
  gw: GatewayProcess,
  token: string,
  withinMs: number,
  everyMs: number,
  path = '/v1/auth/check',
): Promise<number> {
  const { ms } = await waitForTimed(
    `the gateway at ${gw.url} refuses the revoked token`,
    async () => ((await statusOf(gw, token, path)) === 401 ? true : undefined),
    withinMs,
    everyMs,
  );
  return ms;
}

/** Revokes a session as an operator would in psql: a raw UPDATE (the triggers notify). */
export async function revokeBySql(cluster: Cluster, db: string, sessionId: string): Promise<void> {
  await cluster.query(
    `update pgauth.sessions set revoked_at = now(), revoked_reason = 'operator' where id = $1`,
    [sessionId],
    db,
  );
}

/** A session id to put in SQL text: only a UUID passes. */
function uuidLiteral(id: string): string {
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  return `'${id}'`;
}

/**
 * Revokes a session behind the triggers' back (session_replication_role = replica: no trigger,
 * so no notification): a cache that still accepts the token afterwards answers from memory.
 */
export function revokeSilently(cluster: Cluster, db: string, sessionId: string): Promise<void> {
  return setRevokedSilently(cluster, db, sessionId, true);
}

/** Undoes revokeSilently, again without a notification. */
export function unrevokeSilently(cluster: Cluster, db: string, sessionId: string): Promise<void> {
  return setRevokedSilently(cluster, db, sessionId, false);
}

async function setRevokedSilently(
  cluster: Cluster,
  db: string,
  sessionId: string,
  revoked: boolean,
): Promise<void> {
  const set = revoked
    ? `revoked_at = now(), revoked_reason = 'silent'`
    : 'revoked_at = null, revoked_reason = null';
  await cluster.query(
    `set session_replication_role = replica;
     update pgauth.sessions set ${set} where id = ${uuidLiteral(sessionId)}`,
    undefined,
    db,
  );
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A connection to any URL, for one statement. */
export async function queryUrl<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
