import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import { PASSWORD, rejects, scalar, withSettings } from '../helpers/sql.ts';

const t = useTestDatabase();

async function user(name: string): Promise<void> {
  await t.db.query('select pgauth.create_user($1, $2, $3)', [name, PASSWORD, `${name}@x.test`]);
}

const queued = (prefix: string) =>
  scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.mail_outbox where to_address like $1 || '%'`,
    [prefix],
  );

test('request_password_reset beyond password_reset_per_ip from one network queues nothing; another network still may', async () => {
  for (const n of ['ip_a', 'ip_b', 'ip_c', 'ip_d']) await user(n);
  await withSettings(t.db, { password_reset_per_ip: 2 }, async () => {
    for (const n of ['ip_a', 'ip_b', 'ip_c']) {
      await t.db.query('select pgauth.request_password_reset($1, $2)', [n, '198.51.100.7']);
    }
    await t.db.query('select pgauth.request_password_reset($1, $2)', ['ip_d', '198.51.100.8']);
  });
  assert.equal(await queued('ip_'), 3);
  assert.equal(await queued('ip_c'), 0, 'the third request of the network was dropped');
  assert.equal(await queued('ip_d'), 1);
});

test('request_password_reset answers nothing for an unknown account and queues nothing, but audits', async () => {
  const r = await t.db.query('select pgauth.request_password_reset($1) as v', ['nobody_here']);
  assert.deepEqual(r.rows, [{ v: '' }]);
  const audited = await scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.audit_log
     where event = 'password_reset_requested' and detail = '{"matched": false}'`,
  );
  assert.equal(audited, 1);
  await rejects(
    t.db.query('select pgauth.request_password_reset($1)', ['']),
    'BADIN',
    'invalid_input',
  );
  await rejects(
    t.db.query('select pgauth.request_password_reset($1)', ['x'.repeat(257)]),
    'BADIN',
    'invalid_input',
  );
});

test('mail_claim hands each due row to one claimer: two concurrent claims never share a row', async () => {
  for (let i = 0; i < 20; i++) {
    await user(`cl_${i}`);
    await t.db.query('select pgauth.request_password_reset($1)', [`cl_${i}`]);
  }
  const claim = () =>
    t.db
      .query<{ id: string }>('select id::text from pgauth.mail_claim(7, 60)')
      .then((r) => r.rows.map((x) => x.id));
  const rounds = await Promise.all([claim(), claim(), claim(), claim()]);
  const ids = rounds.flat();
  assert.equal(new Set(ids).size, ids.length, 'no row claimed twice');
  assert.ok(ids.length >= 20, `every due row claimed once (${ids.length})`);
  const again = await claim();
  assert.deepEqual(again, [], 'leased rows are not handed out again before the lease ends');
  await rejects(t.db.query('select * from pgauth.mail_claim(0, 60)'), 'BADIN', 'invalid_input');
});
