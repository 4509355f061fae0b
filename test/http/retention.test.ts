import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresOnly, useTestDatabaseAs } from '../helpers/db.ts';
import { metric } from '../helpers/metrics.ts';
import { withSettings } from '../helpers/sql.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, createSession, startApp } from './helpers.ts';

const t = useTestDatabaseAs();

const sessionRows = async (ids: string[]): Promise<string[]> =>
  (
    await t.db.query<{ id: string }>(
      'select id::text as id from pgauth.sessions where id = any($1::uuid[]) order by id',
      [ids],
    )
  ).rows.map((r) => r.id);

test('the retention job of the gateway deletes a session that ended longer than session_retention ago, keeps a live one, and counts it in pgauth_purged_total', async () => {
  const a = await startApp({ purgeIntervalMs: 100 }, t);
  try {
    const ended = await createSession(a, 'retention-ended');
    const live = await createSession(a, 'retention-live');
    assert.equal((await call(a, 'POST', '/v1/logout', { token: ended.access_token })).status, 204);
    // The same round that deletes the ended session reads the live one and must keep it.
    await withSettings(a.t.db, { session_retention: '0' }, () =>
      waitFor(
        'the ended session to be purged',
        async () => (await sessionRows([ended.session_id])).length === 0,
        10_000,
      ),
    );
    assert.deepEqual(await sessionRows([live.session_id]), [live.session_id]);
    assert.equal((await call(a, 'GET', '/v1/session', { token: live.access_token })).status, 200);
    const purged = (await metric(a.url, 'pgauth_purged_total{kind="sessions"}')) ?? 0;
    assert.ok(purged >= 1, 'pgauth_purged_total{kind="sessions"} counts it');
    assert.equal(await metric(a.url, 'pgauth_retention_running'), 1);
    assert.ok(((await metric(a.url, 'pgauth_retention_rounds_total{outcome="done"}')) ?? 0) >= 1);
  } finally {
    await a.close();
  }
});

test('a gateway whose role may not purge says so once in an error line, stops the job and keeps serving', {
  skip: postgresOnly,
}, async () => {
  // A role of pgauth_service and pgauth_admin's routes aside: it validates, it may not purge.
  const db = await t.connectAs('pgauth_service');
  const a = await startApp({ db, purgeIntervalMs: 50 }, t);
  try {
    // The job stops before it counts the refused round: once the gauge reads 0, no round can
    // start again, and the counts and the log read then are final.
    await waitFor(
      'the retention job to stop',
      async () => (await metric(a.url, 'pgauth_retention_running')) === 0,
      10_000,
    );
    assert.equal(await metric(a.url, 'pgauth_retention_rounds_total{outcome="refused"}'), 1);
    assert.equal(await metric(a.url, 'pgauth_retention_rounds_total{outcome="done"}'), undefined);
    const lines = a.logs.filter((l) => l.includes('may not run pgauth.purge_expired'));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /"level":50/);
    assert.match(lines[0] ?? '', /--purge-interval 0/);
    assert.equal((await call(a, 'GET', '/healthz')).status, 200);
  } finally {
    await a.close();
    await db.close();
  }
});
