/**
 * The console's listings read an index, not the table: the plans PostgreSQL runs inside
 * pgauth.search_users and pgauth.search_audit (caught by auto_explain, with PL/pgSQL's cached
 * generic plans forced) are index scans, on a page in the middle of 100,000 users and 100,000
 * audit rows; docs/console.md has the times at a million. PostgreSQL only: PGlite has no
 * auto_explain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';

const ROWS = 100_000;
const t = useTestDatabase({
  async setup(db) {
    if (postgresOnly) return;
    await db.db.exec(`
      insert into pgauth.users (username, email, password_hash)
      select 'user' || lpad(g::text, 6, '0'), 'user' || g || '@example.com', 'x'
      from generate_series(1, ${ROWS}) g;
      insert into pgauth.audit_log (at, event, detail)
      select now() - g * interval '1 second',
             case when g % 1000 = 0 then 'lockout'
                  else (array['login_success', 'login_failure', 'refresh'])[1 + g % 3] end, '{}'
      from generate_series(1, ${ROWS}) g;
      analyze pgauth.users;
      analyze pgauth.audit_log;`);
  },
});

/** The plans of the statements `sql` runs, nested ones included, as auto_explain logs them. */
async function plans(sql: string, params: unknown[]): Promise<string> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  const logged: string[] = [];
  client.on('notice', (n) => logged.push(n.message ?? ''));
  try {
    await client.query(`load 'auto_explain'`);
    await client.query(`set auto_explain.log_min_duration = 0`);
    await client.query(`set auto_explain.log_nested_statements = on`);
    await client.query(`set plan_cache_mode = force_generic_plan`);
    await client.query(`set client_min_messages = log`);
    await client.query(sql, params);
  } finally {
    await client.end();
  }
  return logged.filter((m) => m.includes('Query Text')).join('\n');
}

test('search_users: a page in the middle, by prefix or after a cursor, is one index scan with no sort', {
  skip: postgresOnly,
}, async () => {
  const plan = await plans('select * from pgauth.search_users($1, $2, $3::uuid, 50)', [
    'user0',
    'user050000',
    '00000000-0000-0000-0000-000000000000',
  ]);
  assert.match(plan, /Index Scan using users_search_username_idx/, plan);
  assert.doesNotMatch(plan, /Seq Scan on users|Sort Key: \(?lower/, plan);
  const email = await plans('select * from pgauth.search_users($1, null, null, 50)', ['user42@']);
  assert.match(email, /Index Scan using users_search_email_idx/, email);
  assert.doesNotMatch(email, /Seq Scan on users/, email);
});

test("search_audit: a page of a rare event reads that event's index; a page of all, in the middle, is one index scan with no sort", {
  skip: postgresOnly,
}, async () => {
  const middle = await t.db.query<{ at: Date; id: string }>(
    'select at, id from pgauth.audit_log order by at desc, id desc offset $1 limit 1',
    [ROWS / 2],
  );
  const row = middle.rows[0];
  const plan = await plans('select * from pgauth.search_audit($1, null, null, null, $2, $3, 50)', [
    'lockout',
    row?.at,
    row?.id,
  ]);
  // Planned with its value: the rare event's own index (its few rows may then be sorted).
  assert.match(plan, /Index Scan (using|on) audit_log_event_at_id_idx/, plan);
  assert.doesNotMatch(plan, /Seq Scan on audit_log|audit_log_at_id_idx/, plan);
  const all = await plans('select * from pgauth.search_audit(null, null, null, null, $1, $2, 50)', [
    row?.at,
    row?.id,
  ]);
  assert.match(all, /Index Scan using audit_log_at_id_idx/, all);
  assert.doesNotMatch(all, /Seq Scan on audit_log|Sort Key/, all);
});
