import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresOnly, useTestDatabaseAs } from '../helpers/db.ts';
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

const purgedSessions = async (url: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^pgauth_purged_total\{kind="sessions"\} (\d+)$/m.exec(text)?.[1] ?? 0);
};

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
    assert.ok((await purgedSessions(a.url)) >= 1, 'pgauth_purged_total{kind="sessions"} counts it');
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
    const line = await waitFor(
      'the error line of the retention job',
      () => a.logs.find((l) => l.includes('may not run pgauth.purge_expired')),
      10_000,
    );
    assert.match(line, /"level":50/);
    assert.match(line, /--purge-interval 0/);
    // Stopped: for half a second more (ten intervals) the gateway answers and says it no more.
    const from = performance.now();
    while (performance.now() - from < 500) {
      assert.equal((await call(a, 'GET', '/healthz')).status, 200);
    }
    assert.equal(a.logs.filter((l) => l.includes('may not run pgauth.purge_expired')).length, 1);
  } finally {
    await a.close();
    await db.close();
  }
});
