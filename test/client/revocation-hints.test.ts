/**
 * Revocation events are hints, on real engines: the SDK in SQL and HTTP mode, the gateway's cache
 * and its event stream GET /v1/revocations. PostgreSQL lets any role that can connect NOTIFY
 * pgauth_revocations (here, on PostgreSQL, a role with nothing but CONNECT): a forged message —
 * garbage, or one shaped like pgauth's — costs at most cache misses. The next validation asks the
 * database and answers as before, the subscriptions stay live, and no stream ends because of it.
 * TRUNCATE pgauth.sessions empties every cache.
 *
 * A cache is shown to answer from memory by revoking a session behind the triggers' back
 * (session_replication_role = replica: no event): it still accepts the token. Rejecting that
 * token after an event proves the cache asked the database again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuthClient, createAuthClient, type TokenPair } from '@pgauth/client';
import type { Database } from '../../packages/client/src/db/types.ts';
import { cacheKey } from '../../packages/client/src/revocations.ts';
import { adminQuery, onPostgres, randomName, type TestDatabase } from '../helpers/db.ts';
import { type EventStream, openRevocationStream, type StreamEvent } from '../helpers/sse.ts';
import { createUser, PASSWORD, startApp, type TestApp } from '../http/helpers.ts';

let app: TestApp;
let t: TestDatabase;
/** The SDK in SQL mode, with its cache. */
let sdk: AuthClient;
/** The SDK in HTTP mode against the gateway, with its cache fed by GET /v1/revocations. */
let overHttp: AuthClient;
/** A token of role introspect, for reading the gateway's stream. */
let watcher: TokenPair;
/** Who forges: on PostgreSQL a role with nothing but CONNECT; on PGlite the one connection. */
let forger: Database;
let outsider: string | null = null;

before(async () => {
  app = await startApp({ revocationHeartbeatMs: 200 });
  t = app.t;
  if (onPostgres) {
    outsider = randomName('pgauth_forger');
    await adminQuery(`create role ${outsider} login`);
    forger = t.connect({ user: outsider, max: 1 });
  } else {
    forger = t.db;
  }
  sdk = createAuthClient({ database: t.db, cache: {} });
  await createUser(app, 'hint_service', ['introspect']);
  const service = await sdk.login('hint_service', PASSWORD);
  overHttp = createAuthClient({
    baseUrl: app.url,
    cache: {},
    serviceToken: service.accessToken,
    onSubscriptionError: () => {},
  });
  await createUser(app, 'hint_watcher', ['introspect']);
  watcher = await sdk.login('hint_watcher', PASSWORD);
  await Promise.all([sdk.cache?.ready(5_000), overHttp.cache?.ready(5_000)]);
});

after(async () => {
  await overHttp?.close();
  await sdk?.close();
  await app?.close();
  if (outsider) await adminQuery(`drop role if exists ${outsider}`);
});

let users = 0;
async function freshLogin(): Promise<TokenPair> {
  const name = `hint_user_${++users}`;
  await createUser(app, name);
  return sdk.login(name, PASSWORD);
}

async function forge(payload: string): Promise<void> {
  await forger.query('select pg_notify($1, $2)', ['pgauth_revocations', payload]);
}

/** Revokes a session with every trigger off: the database rejects it, no event says so. */
async function revokeSilently(sessionId: string): Promise<void> {
  await t.db.transaction(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query(
      `update pgauth.sessions set revoked_at = now(), revoked_reason = 'test' where id = $1`,
      [sessionId],
    );
  });
}

type Verdict = 'accepted' | 'rejected';

/** What each of the three caches answers for a token: the SDK, over HTTP, the gateway itself. */
async function verdicts(pair: TokenPair): Promise<Record<string, Verdict>> {
  const of = (s: { sessionId: string } | null): Verdict => {
    if (s === null) return 'rejected';
    assert.equal(s.sessionId, pair.sessionId);
    return 'accepted';
  };
  const res = await fetch(`${app.url}/v1/session`, {
    headers: { authorization: `Bearer ${pair.accessToken}` },
  });
  await res.body?.cancel();
  assert.ok(res.status === 200 || res.status === 401, `GET /v1/session answered ${res.status}`);
  return {
    sdk: of(await sdk.validate(pair.accessToken)),
    overHttp: of(await overHttp.validate(pair.accessToken)),
    gateway: res.status === 200 ? 'accepted' : 'rejected',
  };
}

function all(v: Verdict): Record<string, Verdict> {
  return { sdk: v, overHttp: v, gateway: v };
}

/** A token cached by all three, then revoked silently: they go on accepting it from memory. */
async function cachedButRevoked(): Promise<TokenPair> {
  const pair = await freshLogin();
  assert.deepEqual(await verdicts(pair), all('accepted'));
  await revokeSilently(pair.sessionId);
  assert.deepEqual(await verdicts(pair), all('accepted'), 'answered from memory');
  return pair;
}

/** Resolves at the first eviction report of `client` that names `sessionId`. */
function evicted(client: AuthClient, sessionId: string): Promise<void> {
  return new Promise((resolve) => {
    const off = client.cache?.onEvict((ids) => {
      if (!ids.includes(sessionId)) return;
      off?.();
      resolve();
    });
  });
}

/** Opens GET /v1/revocations as `token` (test/helpers/sse.ts): the gateway's feed is live. */
async function openStream(token: string): Promise<EventStream> {
  const stream = await openRevocationStream(app.url, token);
  assert.ok(stream, 'the gateway offers its revocation stream');
  return stream;
}

const isFlush = (e: StreamEvent): boolean => e.event === 'revocation' && e.data.flush === true;
const naming =
  (token: string) =>
  (e: StreamEvent): boolean =>
    e.event === 'revocation' && Array.isArray(e.data.keys) && e.data.keys.includes(cacheKey(token));

test('a forged NOTIFY with a garbage payload costs at most a cache miss: every cache asks the database again and answers as before, and the stream stays open', async () => {
  const live = await freshLogin();
  assert.deepEqual(await verdicts(live), all('accepted'));
  const stale = await cachedButRevoked();
  const stream = await openStream(watcher.accessToken);
  try {
    const gone = [evicted(sdk, stale.sessionId), evicted(overHttp, stale.sessionId)];
    for (const garbage of ['not json at all', '{}', '{"keys": 42}']) await forge(garbage);
    let i = await stream.next(0, isFlush);
    i = await stream.next(i + 1, isFlush);
    i = await stream.next(i + 1, isFlush);
    await Promise.all(gone);
    assert.deepEqual(await verdicts(stale), all('rejected'), 'asked the database again');
    assert.deepEqual(await verdicts(live), all('accepted'), 'a live session is still accepted');
    assert.equal(sdk.cache?.subscribed, true);
    assert.equal(overHttp.cache?.subscribed, true);
    // The stream is still open: a later, real revocation comes through it.
    const later = await freshLogin();
    await sdk.logout(later.accessToken);
    await stream.next(i + 1, naming(later.accessToken));
    assert.equal(stream.ended, false);
  } finally {
    stream.close();
  }
});

test('a forged NOTIFY shaped like a pgauth message costs at most the eviction of what it names: the next validate asks the database and still accepts the token', async () => {
  const stale = await cachedButRevoked();
  const stream = await openStream(watcher.accessToken);
  try {
    for (const shape of ['keys', 'session_ids'] as const) {
      const target = await freshLogin();
      assert.deepEqual(await verdicts(target), all('accepted'));
      const sizes = [sdk.cache?.size, overHttp.cache?.size];
      const gone = [evicted(sdk, target.sessionId), evicted(overHttp, target.sessionId)];
      const payload =
        shape === 'keys'
          ? { keys: [cacheKey(target.accessToken)] }
          : { user_id: target.userId, session_ids: [target.sessionId], reason: 'logout' };
      const from = stream.events.length;
      await forge(JSON.stringify(payload));
      await stream.next(from, (e) =>
        shape === 'keys'
          ? naming(target.accessToken)(e)
          : e.event === 'revocation' && e.data.session_ids !== undefined,
      );
      await Promise.all(gone);
      assert.deepEqual(
        [sdk.cache?.size, overHttp.cache?.size],
        sizes.map((n) => (n as number) - 1),
        `${shape}: exactly one token left each cache`,
      );
      assert.deepEqual(
        await verdicts(target),
        all('accepted'),
        `${shape}: the database says valid`,
      );
      assert.deepEqual([sdk.cache?.size, overHttp.cache?.size], sizes, `${shape}: cached again`);
      assert.deepEqual(
        await verdicts(stale),
        all('accepted'),
        `${shape}: nothing else was evicted (the silently revoked token is still in memory)`,
      );
    }
    assert.equal(stream.ended, false);
  } finally {
    stream.close();
  }
});

test('forged events naming the caller of a stream (its key, its session id, a flush) do not end its stream; the real revocation of its session does', async () => {
  await createUser(app, 'hint_watcher_2', ['introspect']);
  const caller = await sdk.login('hint_watcher_2', PASSWORD);
  const stream = await openStream(caller.accessToken);
  await forge(JSON.stringify({ keys: [cacheKey(caller.accessToken)] }));
  await forge(JSON.stringify({ session_ids: [caller.sessionId] }));
  await forge(JSON.stringify({ flush: true }));
  let i = await stream.next(0, isFlush);
  const later = await freshLogin();
  await sdk.logout(later.accessToken);
  i = await stream.next(i + 1, naming(later.accessToken));
  assert.equal(stream.ended, false, 'open after three forged events naming its caller');
  await t.db.query('select pgauth.logout($1)', [caller.accessToken]);
  await stream.next(i + 1, naming(caller.accessToken));
  await stream.end;
  assert.equal(stream.ended, true, 'ended once the database said the session is gone');
});

// Last: it ends every session of this file.
test('after TRUNCATE pgauth.sessions no cache serves a token it held: the stream relays a flush, then ends as the session of its caller is gone', async () => {
  const held = await cachedButRevoked();
  const stream = await openStream(watcher.accessToken);
  const gone = [evicted(sdk, held.sessionId), evicted(overHttp, held.sessionId)];
  await t.db.exec('truncate pgauth.sessions cascade');
  await stream.next(0, isFlush);
  await Promise.all(gone);
  assert.deepEqual(await verdicts(held), all('rejected'));
  assert.equal(sdk.cache?.subscribed, true, 'a flush is not a lost subscription');
  await stream.end;
  assert.equal(stream.ended, true);
});
