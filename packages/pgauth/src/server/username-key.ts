/**
 * A username as pgauth tells accounts apart: PostgreSQL's lower() of it, asked of the database.
 *
 * pgauth.users is unique on lower(username), and login and register look accounts up by it, so
 * lower() under the database's own locale is the one normalisation of a username. The gateway's
 * per-username rate limits key by it too, rather than by a folding of their own: JavaScript's
 * toLowerCase() differs from the database's for characters such as 'İ' (U+0130: 'i' + U+0307 in
 * JavaScript, 'i' in PostgreSQL under a UTF-8 locale), and two spellings of one account then
 * counted against two budgets. Limits kept in PostgreSQL key by lower() as well, so both agree.
 *
 * The cost is one trivial query on the paths that are about to hash a password anyway, after
 * the per-IP limit has let the request through.
 */
import type { Queryable } from '@pgauth/client/internal';

export async function usernameKey(db: Queryable, username: string): Promise<string> {
  const r = await db.query<{ key: string }>('select lower($1::text) as key', [username]);
  return r.rows[0]?.key ?? username;
}
