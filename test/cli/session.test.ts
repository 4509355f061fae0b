import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { createEmptyDatabase, onPostgres, postgresOnly } from '../helpers/db.ts';
import { createUser, withSettings } from '../helpers/sql.ts';
import { pgauth, useCliTarget } from './harness.ts';

const PASSWORD = 'correct horse battery staple';

interface JsonSession {
  id: string;
  created_at: string;
  refresh_generation: number;
  client_ip: string | null;
  user_agent: string | null;
}

interface JsonEvent {
  at: string;
  event: string;
  user_id: string | null;
  session_id: string | null;
  detail: Record<string, unknown>;
}

// On PGlite the folder is held by this process behind a wire-protocol socket, as `pgauth serve`
// holds it: every command here is routed through it, with nothing but --data-dir.
const t = useCliTarget();
const { cli } = t;

async function login(username: string, ip: string, agent: string): Promise<string> {
  const r = await t.target.db.query<{ session_id: string }>(
    'select session_id::text from pgauth.login($1, $2, $3::inet, $4)',
    [username, PASSWORD, ip, agent],
  );
  const id = r.rows[0]?.session_id;
  assert.ok(id, 'login succeeded');
  return id;
}

/**
 * A user of the calling test alone (made in SQL) with two live sessions, logged in from two
 * addresses: its id and the ids of the sessions, oldest first.
 */
async function userWithSessions(username: string): Promise<{ id: string; sessions: string[] }> {
  const id = await createUser(t.target.db, username, [], PASSWORD);
  const sessions = [
    await login(username, '192.0.2.10', 'curl/8.0'),
    await login(username, '2001:db8::1', 'Mozilla/5.0 (X11)'),
  ];
  return { id, sessions };
}

describe(onPostgres ? 'pgauth session and audit' : 'pgauth session and audit, while served', () => {
  test('session list shows the live sessions of a user, newest first, human and --json', async () => {
    const userId = (await cli(['user', 'add', 'carol', '--password-stdin'], PASSWORD)).trim();
    assert.equal(JSON.parse(await cli(['session', 'list', 'carol', '--json'])).length, 0);
    assert.match(await cli(['session', 'list', 'carol']), /^no live sessions$/m);
    const sessions = [
      await login('carol', '192.0.2.10', 'curl/8.0'),
      await login('carol', '2001:db8::1', 'Mozilla/5.0 (X11)'),
    ];

    const list = JSON.parse(await cli(['session', 'list', userId, '--json'])) as JsonSession[];
    assert.deepEqual(list.map((s) => s.id).sort(), [...sessions].sort());
    const newest = list.find((s) => s.id === sessions[1]);
    assert.equal(newest?.client_ip, '2001:db8::1');
    assert.equal(newest?.user_agent, 'Mozilla/5.0 (X11)');
    assert.equal(newest?.refresh_generation, 0);

    const lines = (await cli(['session', 'list', 'carol'])).trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^ID\s+CREATED\s+ACCESS UNTIL\s+REFRESH UNTIL\s+ENDS\s+REFRESHES\s+IP\s+USER AGENT$/,
    );
    assert.equal(lines.length, 3);
    const row = lines.find((l) => l.startsWith(sessions[0] ?? '-')) ?? '';
    assert.match(row, /192\.0\.2\.10\s+curl\/8\.0$/);
    assert.equal(row.indexOf('192.0.2.10'), lines[0]?.indexOf('IP'));

    const shown = JSON.parse(await cli(['user', 'show', 'carol', '--json'])) as {
      live_sessions: number;
    };
    assert.equal(shown.live_sessions, 2);
  });

  test('session revoke prints how many sessions it revoked and leaves none live', async () => {
    const { id } = await userWithSessions('revoke-dan');
    assert.equal(JSON.parse(await cli(['session', 'list', 'revoke-dan', '--json'])).length, 2);
    assert.equal(await cli(['session', 'revoke', 'revoke-dan']), '2\n');
    assert.equal(JSON.parse(await cli(['session', 'list', 'revoke-dan', '--json'])).length, 0);
    assert.equal(await cli(['session', 'revoke', id]), '0\n');
  });

  test('audit lists events newest first, filtered by --user, --since and --limit', async () => {
    const { id: userId } = await userWithSessions('audit-eve');
    assert.equal(await cli(['session', 'revoke', 'audit-eve']), '2\n');
    assert.equal(await cli(['session', 'revoke', userId]), '0\n');
    const events = JSON.parse(await cli(['audit', '--user', 'audit-eve', '--json'])) as JsonEvent[];
    assert.deepEqual(
      events.map((e) => e.event),
      ['sessions_revoked', 'sessions_revoked', 'login_success', 'login_success', 'user_created'],
    );
    assert.deepEqual(events[1]?.detail, { reason: 'admin', count: 2 });
    assert.ok(events.every((e) => e.user_id === userId));
    assert.ok(
      events.every((e, i) => i === 0 || Date.parse(e.at) <= Date.parse(events[i - 1]?.at ?? '')),
    );

    // The newest event of the whole log is this test's last revoke.
    const one = JSON.parse(await cli(['audit', '--limit', '1', '--json'])) as JsonEvent[];
    assert.deepEqual(one, events.slice(0, 1));
    const recent = JSON.parse(
      await cli(['audit', '--user', 'audit-eve', '--since', '1h', '--json']),
    ) as JsonEvent[];
    assert.equal(recent.length, events.length);
    assert.deepEqual(
      JSON.parse(await cli(['audit', '--since', '2999-01-01T00:00:00Z', '--json'])),
      [],
    );

    const lines = (await cli(['audit', '--user', 'audit-eve', '--limit', '2']))
      .trimEnd()
      .split('\n');
    assert.match(lines[0] ?? '', /^AT\s+EVENT\s+USER\s+SESSION\s+IP\s+DETAIL$/);
    assert.equal(lines.length, 3);
    assert.match(
      lines[2] ?? '',
      /sessions_revoked\s+\S+\s+-\s+-\s+\{"count":2,"reason":"admin"\}$/,
    );
  });

  test('purge deletes the sessions that ended longer than session_retention ago and prints what it deleted', async () => {
    const { sessions } = await userWithSessions('purge-fay');
    const live = await userWithSessions('purge-gus');
    assert.equal(await cli(['session', 'revoke', 'purge-fay']), '2\n');
    const report = await withSettings(t.target.db, { session_retention: '0' }, async () =>
      JSON.parse(await cli(['purge', '--json'])),
    );
    assert.ok(report.sessions >= 2, `deleted ${report.sessions}`);
    assert.equal(typeof report.service_tokens, 'number');
    const left = await t.target.db.query<{ id: string }>(
      'select id::text as id from pgauth.sessions where id = any($1::uuid[])',
      [[...sessions, ...live.sessions]],
    );
    assert.deepEqual(left.rows.map((r) => r.id).sort(), [...live.sessions].sort());
    assert.match(
      await cli(['purge']),
      /^ended sessions: \d+ deleted\nexpired service tokens: \d+ deleted\n$/,
    );
  });

  test('audit --limit out of range is a usage error with exit 1', async () => {
    const r = await pgauth(['audit', '--limit', '0', ...t.target.args]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--limit.*positive whole number/);
    const big = await pgauth(['audit', '--limit', '10001', ...t.target.args]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /^pgauth: invalid_input: /);
  });
});

test('a PostgreSQL database with pending migrations is refused with a hint to run pgauth migrate', {
  skip: postgresOnly,
}, async () => {
  const empty = await createEmptyDatabase();
  try {
    const r = await pgauth(['user', 'list', '--database-url', empty.url]);
    assert.equal(r.code, 1);
    const files = (
      await readdir(new URL('../../packages/pgauth/sql/migrations/', import.meta.url))
    ).filter((f) => f.endsWith('.sql'));
    assert.match(
      r.stderr,
      new RegExp(
        `^pgauth: .*${files.length + 1} pending migration\\(s\\).*, functions\\): run \`pgauth migrate\` first\\n$`,
      ),
    );
  } finally {
    await empty.drop();
  }
});
