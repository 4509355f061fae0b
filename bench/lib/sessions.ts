/** Users and live sessions for benchmarks, made in SQL in one statement each (bcrypt cost 4). */
import type { BenchDatabase } from './db.ts';

export const BENCH_PASSWORD = 'bench-password-7f3a9c1d';

/**
 * Registers `users` users named `<prefix>NN` (each with role `member`) and logs in `count`
 * sessions spread over them; their access tokens, in order.
 */
export async function loginSessions(
  b: BenchDatabase,
  count: number,
  options: { prefix: string; users: number },
): Promise<string[]> {
  const { prefix, users } = options;
  await b.db.exec('update pgauth.settings set bcrypt_cost = 4');
  await b.db.query(
    `select pgauth.grant_role(pgauth.register($3 || lpad(i::text, 2, '0'), $1), 'member')
     from generate_series(0, $2::int - 1) i`,
    [BENCH_PASSWORD, users, prefix],
  );
  // The user agent names g, so that the lateral call is made once per row, not once in all.
  const r = await b.db.query<{ token: string }>(
    `select l.access_token as token
     from generate_series(1, $2::int) g
     cross join lateral pgauth.login($4 || lpad((g % $3::int)::text, 2, '0'), $1,
                                     null, 'pgauth-bench ' || g) l
     order by g`,
    [BENCH_PASSWORD, count, users, prefix],
  );
  if (r.rows.length !== count) throw new Error(`${r.rows.length} of ${count} logins succeeded`);
  return r.rows.map((row) => row.token);
}
