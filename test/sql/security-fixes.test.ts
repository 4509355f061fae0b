/**
 * The SQL side of the security review of issue 14 (migration 0009), one test or more per item:
 * each fails on the functions of 0001–0008 and passes with 0009.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { rejects, withClock as shiftClock } from '../helpers/sql.ts';

const PW = 'a long enough passphrase';
let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

function withClock<T>(offset: string, fn: () => Promise<T>): Promise<T> {
  return shiftClock(t.db, offset, fn);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return (await t.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) x`, params))
    .rows[0]?.n as number;
}

// ---- Item 4: purge_audit with a mixed interval ------------------------------------------------

test('purge_audit with a negative part (-1 month +31 days) fails with BADIN invalid_input and deletes nothing', async () => {
  await t.db.query(`select pgauth.register('sf_purge', $1)`, [PW]);
  const rows = await count('select 1 from pgauth.audit_log');
  assert.ok(rows > 0);
  for (const older of ['-1 month +31 days', '-1 year +366 days', '2 days -1 hour', '-14 months']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
  assert.equal(await count('select 1 from pgauth.audit_log'), rows, 'no audit row was deleted');
});

test('purge_audit checks the cut-off as a point in time: it must lie at least one day back', async () => {
  // 1 month is at least 28 days, whatever the month: accepted, and nothing here is that old.
  const r = await t.db.query<{ n: number }>(`select pgauth.purge_audit('1 month') as n`);
  assert.equal(r.rows[0]?.n, 0);
  for (const older of ['23 hours 59 minutes', '0']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
});
