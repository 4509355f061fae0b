/**
 * GET /v1/revocations is opened with an access token and lives only as long as that token would
 * be accepted: it ends when the token expires (a timer to the session's expiry, then the
 * database's word), when it is revoked, and when its account loses the role `introspect`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withSettings } from '../helpers/sql.ts';
import { type EventStream, openRevocationStream } from '../helpers/sse.ts';
import { createUser, login, startApp, type TestApp } from './helpers.ts';

let a: TestApp;
before(async () => {
  a = await startApp({ revocationHeartbeatMs: 200 });
});
after(() => a.close());

/** Opens the stream and waits for its ready event (test/helpers/sse.ts). */
async function open(token: string): Promise<EventStream> {
  const stream = await openRevocationStream(a.url, token);
  assert.ok(stream, 'the gateway offers its revocation stream');
  return stream;
}

/** The stream's end, or a failure once `ms` have passed without it. */
function endsWithin(s: EventStream, ms: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: the stream still open after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([s.end, late]).finally(() => clearTimeout(timer));
}

test('GET /v1/revocations ends when the access token that opened it expires, not before', async () => {
  await createUser(a, 'expiring_watcher', ['introspect']);
  const tokens = await withSettings(a.t.db, { access_token_ttl: '3 seconds' }, () =>
    login(a, 'expiring_watcher'),
  );
  const session = await fetch(`${a.url}/v1/session`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const expiresAt = new Date((await session.json()).expires_at).getTime();
  const stream = await open(tokens.access_token);
  try {
    const end = await endsWithin(stream, 10_000, 'after the expiry');
    const endedAt = Date.now() - (performance.now() - end);
    assert.ok(endedAt >= expiresAt - 250, `ended ${expiresAt - endedAt} ms before the expiry`);
    assert.ok(endedAt <= expiresAt + 2_500, `ended ${endedAt - expiresAt} ms after the expiry`);
  } finally {
    stream.close();
  }
});

test('GET /v1/revocations ends when the token is revoked, and when its account loses the role introspect', async () => {
  const id = await createUser(a, 'revoked_watcher', ['introspect']);
  const first = await login(a, 'revoked_watcher');
  const s1 = await open(first.access_token);
  try {
    await a.t.db.query('select pgauth.logout($1)', [first.access_token]);
    await endsWithin(s1, 5_000, 'after logout');
  } finally {
    s1.close();
  }
  const second = await login(a, 'revoked_watcher');
  const s2 = await open(second.access_token);
  try {
    await a.t.db.query(`select pgauth.revoke_role($1::uuid, 'introspect')`, [id]);
    await endsWithin(s2, 5_000, 'after the role was revoked');
  } finally {
    s2.close();
  }
});
