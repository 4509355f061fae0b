/**
 * Sessions inserted straight into pgauth.sessions as the superuser, in one statement per range:
 * the columns pgauth._start_session fills, without a login each (a million logins would be a
 * million bcrypt hashes). Bench session i has the access token `tokenSql('i')`, so that a pgbench
 * script can name one from a random integer (docs/benchmarks.md, scenario `sql`).
 */
import type { Database } from '../../packages/client/src/db/types.ts';

/**
 * The token of bench session i: 'pga_' and 43 base64url characters, the length and alphabet of a
 * real access token. Real tokens are random; these are derived from i so that the pgbench script
 * can name one from a random integer without a second lookup (docs/benchmarks.md). Validation
 * hashes whatever it gets with SHA-256, so the hashes in the index are as uniform as real ones.
 */
export const tokenSql = (i: string, prefix: 'pga_' | 'pgr_' = 'pga_'): string =>
  `'${prefix}' || lpad(${i}::text, 43, '0')`;

/** The pgbench script validating a random bench token out of sessions 1..n (as tokenSql). */
export function validateScript(n: number): string {
  // The same expression as tokenSql; :id becomes a parameter, inferred text by lpad.
  return `\\set id random(1, ${n})\nselect * from pgauth.validate('pga_' || lpad(:id, 43, '0'));\n`;
}

/** The times of a bench session, as SQL expressions of its number `i`. */
export interface SessionTimes {
  createdAt: string;
  accessExpiresAt: string;
  refreshExpiresAt: string;
  expiresAt: string;
}

/** Live for the whole run: access tokens valid for an hour (a run takes minutes). */
export const LIVE: SessionTimes = {
  createdAt: `now() - (i % 3600) * interval '1 second'`,
  accessExpiresAt: `now() + interval '1 hour'`,
  refreshExpiresAt: `now() + interval '14 days'`,
  expiresAt: `now() + interval '30 days'`,
};

/** Username of numbered user k (SQL of k): the prefix and 8 digits. */
const numberedName = (k: string): string => `$3 || lpad((${k})::text, 8, '0')`;

/**
 * Inserts users `<prefix>00000001`… `<prefix><n>` directly, each with the id md5(username)::uuid
 * (so that a session can name its owner without a lookup) and one bcrypt hash (cost 4) for all.
 * They hold no role: the sessions carry the snapshot `{member}` themselves.
 */
export async function insertNumberedUsers(db: Database, prefix: string, n: number): Promise<void> {
  await db.query(
    `insert into pgauth.users (id, username, password_hash)
     select md5(${numberedName('i')})::uuid, ${numberedName('i')},
            (select pgauth.crypt(pgauth._prehash($1), pgauth.gen_salt('bf', 4)))
     from generate_series(1, $2::int) i`,
    ['bench-password-7f3a9c1d', n, prefix],
  );
}

/**
 * Inserts bench sessions from..to (inclusive) with the role snapshot `{member}`. Session i is
 * owned by user number i modulo the count of users whose name starts with `userPrefix` (in the
 * order of their names); with `numberedUsers` (made by insertNumberedUsers, that many), user
 * 1 + i modulo it, named and identified without reading the users table, which a million users
 * would make slow. Those owners exist by construction, so their foreign key is not checked
 * (session_replication_role = replica, superuser only): the check locks every owner row once per
 * statement, which with a million users doubled the time of the insert. Returns the number of
 * rows inserted.
 */
export async function insertSessions(
  db: Database,
  range: {
    from: number;
    to: number;
    userPrefix: string;
    numberedUsers?: number;
    times?: SessionTimes;
  },
): Promise<number> {
  const t = range.times ?? LIVE;
  if (range.numberedUsers !== undefined) {
    const name = numberedName(`1 + i % ${Math.trunc(range.numberedUsers)}`);
    return db.transaction(async (tx) => {
      await tx.exec('set local session_replication_role = replica');
      const r = await tx.query(
        `insert into pgauth.sessions (
           user_id, username, roles, access_token_hash, access_expires_at, refresh_token_hash,
           refresh_expires_at, expires_at, created_at)
         select md5(${name})::uuid, ${name}, '{member}',
           pgauth._token_hash(${tokenSql('i')}), ${t.accessExpiresAt},
           pgauth._token_hash(${tokenSql('i', 'pgr_')}), ${t.refreshExpiresAt},
           ${t.expiresAt}, ${t.createdAt}
         from generate_series($1::int, $2::int) i`,
        [range.from, range.to, range.userPrefix],
      );
      return r.rowCount;
    });
  }
  const r = await db.query(
    `with u as (
       select array_agg(u.id order by u.username) as ids,
              array_agg(u.username order by u.username) as names,
              count(*)::int as n
       from pgauth.users u where starts_with(u.username, $3)
     )
     insert into pgauth.sessions (
       user_id, username, roles, access_token_hash, access_expires_at, refresh_token_hash,
       refresh_expires_at, expires_at, created_at)
     select u.ids[1 + i % u.n], u.names[1 + i % u.n], '{member}',
       pgauth._token_hash(${tokenSql('i')}), ${t.accessExpiresAt},
       pgauth._token_hash(${tokenSql('i', 'pgr_')}), ${t.refreshExpiresAt},
       ${t.expiresAt}, ${t.createdAt}
     from u, generate_series($1::int, $2::int) i`,
    [range.from, range.to, range.userPrefix],
  );
  return r.rowCount;
}

/**
 * How many of the bench tokens from..to (every `step`-th) pgauth.validate accepts, and how many
 * were asked.
 */
export async function countValidTokens(
  db: Database,
  from: number,
  to: number,
  step = 1,
): Promise<{ valid: number; asked: number }> {
  const r = await db.query<{ valid: number; asked: number }>(
    `select count(v.session_id)::int as valid, count(*)::int as asked
     from generate_series($1::int, $2::int, $3::int) i
     left join lateral pgauth.validate(${tokenSql('i')}) v on true`,
    [from, to, step],
  );
  return r.rows[0] ?? { valid: 0, asked: 0 };
}
