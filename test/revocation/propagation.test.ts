// timing-sensitive on postgres: propagation and resubscription windows
/**
 * Revocation reaches everyone. Two real `pgauth serve` gateways and one SDK client in SQL mode,
 * all three caching validations, on one PostgreSQL database: whichever way a session is revoked
 * — a pgauth function, or an operator's psql — each of the three rejects the token within 2 s
 * and never accepts it again. And when their LISTEN connections are killed, a token revoked
 * during the outage is never accepted by anybody, each of them resubscribes by itself, and the
 * new subscriptions deliver events again.
 *
 * Before each revocation the test proves that the three answer the token from memory (a
 * revocation made behind the triggers' back, so with no NOTIFY, does not change their answer):
 * otherwise a rejection would only show that they asked the database.
 *
 * PostgreSQL only: separate processes cannot share a PGlite.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheKey, createAuthClient } from '../../packages/client/src/index.ts';
import type { AuthClient, CacheState } from '../../packages/client/src/types.ts';
import { openTestDatabase, postgresOnly, type TestDatabase } from '../helpers/db.ts';
import { createUser, loginPair, PASSWORD } from '../helpers/sql.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  type GatewayProcess,
  psql,
  type RevocationWatch,
  startGateway,
  watchRevocations,
} from './processes.ts';

const QUIET = ['--log-level', 'warn'];

/** How often the three are asked while a revocation propagates. */
const POLL_MS = 10;
/** The most a revocation may take to reach all three. */
const PROPAGATION_BOUND_MS = 2_000;
/** The most a process may take to resubscribe by itself after its LISTEN connection was killed. */
const RESUBSCRIBE_BOUND_MS = 5_000;
/** Rounds of asking again once all three rejected: the answer must not flip back. */
const ROUNDS_AFTER = 10;
/** Just past the negative-answer cache (1 s by default): answers come from the database again. */
const NEGATIVE_CACHE_MS = 1_100;

interface Login {
  username: string;
  userId: string;
  sessionId: string;
  token: string;
}

type Verdict = 'accepted' | 'rejected';

interface Check {
  name: string;
  ask(s: Login): Promise<Verdict>;
}

describe('revocation reaches two gateways and an SDK client', { skip: postgresOnly }, () => {
  let t: TestDatabase;
  let url: string;
  const gateways: GatewayProcess[] = [];
  /** Each gateway's revocation stream, in the order of `gateways`. */
  let feeds: RevocationWatch[] = [];
  let client: AuthClient | undefined;
  let cache: CacheState;
  /**
   * Session ids the SDK client reported evicted (onEvict): by a revocation event while its cache
   * served, or dropped when the cache turned off (then `subscribed` is already false; a cache
   * that turns on again is empty, as it stores nothing while off).
   */
  const clientEvicted = new Set<string>();
  const clientDropped = new Set<string>();
  const subscriptionErrors: Error[] = [];
  /** A token of role introspect, for the gateways' revocation streams. */
  let watcherToken: string;
  const propagation: number[] = [];

  before(async () => {
    t = await openTestDatabase();
    assert.ok(t.url, 'a PostgreSQL test database has a URL');
    url = t.url;
    client = createAuthClient({
      databaseUrl: url,
      cache: true,
      onSubscriptionError: (err) => subscriptionErrors.push(err),
    });
    assert.ok(client.cache, 'a client created with cache: true has a cache');
    cache = client.cache;
    cache.onEvict((ids) => {
      for (const id of ids) (cache.subscribed ? clientEvicted : clientDropped).add(id);
    });
    // Pushed as each one starts, so that `after` stops whichever did even if the other failed.
    await Promise.all(
      [startGateway(url, QUIET), startGateway(url, QUIET)].map((p) =>
        p.then((g) => gateways.push(g)),
      ),
    );
    watcherToken = (await freshSession('watcher', ['introspect'])).token;
    await cache.ready(RESUBSCRIBE_BOUND_MS);
    feeds = await Promise.all(gateways.map((g) => openFeed(g, RESUBSCRIBE_BOUND_MS)));
    assert.deepEqual(countByApp(await listeners()), {
      'pgauth-client:listen': 1,
      'pgauth:listen': 2,
    });
  });

  after(async () => {
    for (const feed of feeds) feed.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await client?.close();
    await t?.close();
    if (propagation.length > 0) {
      const sorted = [...propagation].sort((a, b) => a - b);
      const mid = sorted.length / 2;
      const median = ((sorted[Math.ceil(mid) - 1] ?? 0) + (sorted[Math.floor(mid)] ?? 0)) / 2;
      console.log(
        `propagation to all three (ms): min ${fmt(sorted[0])}, median ${fmt(median)}, max ${fmt(sorted.at(-1))} over ${sorted.length} revocations`,
      );
    }
  });

  // ---- fixtures -------------------------------------------------------------------------------

  async function freshSession(label: string, roles: string[] = []): Promise<Login> {
    const username = `${label}_${randomBytes(4).toString('hex')}`;
    const id = await createUser(t.db, username, roles);
    const pair = await loginPair(t.db, username);
    assert.equal(pair.user_id, id);
    return { username, userId: id, sessionId: pair.session_id, token: pair.access_token };
  }

  /** The LISTEN connections on this test's database, as the server sees them. */
  async function listeners(): Promise<{ pid: number; app: string; newer: boolean }[]> {
    return listenersSince(null);
  }

  /** As listeners(), with whether each connection started after `since` (a timestamptz text). */
  async function listenersSince(
    since: string | null,
  ): Promise<{ pid: number; app: string; newer: boolean }[]> {
    const r = await t.db.query<{ pid: number; app: string; newer: boolean | null }>(
      `select pid, application_name as app, backend_start > $1::timestamptz as newer
       from pg_stat_activity
       where datname = current_database() and application_name like '%:listen'
       order by application_name, pid`,
      [since],
    );
    return r.rows.map((row) => ({ pid: row.pid, app: row.app, newer: row.newer === true }));
  }

  /** Opens a gateway's revocation stream, retrying while its subscription is not live (503). */
  function openFeed(g: GatewayProcess, ms: number): Promise<RevocationWatch> {
    return waitFor(
      `the gateway at ${g.url} to offer its revocation stream (its subscription is live)`,
      async () => (await watchRevocations(g.url, watcherToken)) ?? undefined,
      ms,
      POLL_MS,
    );
  }

  // ---- the three observers --------------------------------------------------------------------

  async function overHttp(base: string, path: string, s: Login): Promise<Verdict> {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
    const body = (await res.json()) as { session_id?: string; error?: string };
    if (res.status === 200) {
      assert.equal(body.session_id, s.sessionId, `${base}${path} names the token's session`);
      return 'accepted';
    }
    if (res.status === 401) {
      assert.equal(body.error, 'invalid_token', `${base}${path} says invalid_token`);
      return 'rejected';
    }
    throw new Error(`GET ${base}${path} answered ${res.status}: ${JSON.stringify(body)}`);
  }

  function checks(): Check[] {
    const http = gateways.flatMap((g, i) =>
      ['/v1/session', '/v1/auth/check'].map(
        (path): Check => ({
          name: `gateway ${'AB'[i]} GET ${path}`,
          ask: (s) => overHttp(g.url, path, s),
        }),
      ),
    );
    const sdk: Check = {
      name: 'SDK client.validate',
      async ask(s) {
        const session = await (client as AuthClient).validate(s.token);
        if (session === null) return 'rejected';
        assert.equal(session.sessionId, s.sessionId, 'the SDK client names the token session');
        return 'accepted';
      },
    };
    return [...http, sdk];
  }

  /** Asks all three (both routes of each gateway) at once. */
  async function observe(s: Login): Promise<Map<string, Verdict>> {
    const all = checks();
    const verdicts = await Promise.all(all.map((c) => c.ask(s)));
    return new Map(all.map((c, i) => [c.name, verdicts[i] as Verdict]));
  }

  function assertAll(round: Map<string, Verdict>, expected: Verdict, when: string): void {
    assert.equal(round.size, 5, 'two routes on each of two gateways, and the SDK client');
    const wrong = [...round].filter(([, v]) => v !== expected).map(([name]) => name);
    assert.deepEqual(wrong, [], `${when}: ${wrong.join(', ')} did not answer ${expected}`);
  }

  /** pgauth.validate straight from the database: whether the token is valid now. */
  async function validInDatabase(s: Login): Promise<boolean> {
    const r = await t.db.query('select 1 from pgauth.validate($1)', [s.token]);
    return r.rows.length === 1;
  }

  /** Runs `sql` with every trigger off (session_replication_role = replica): no NOTIFY. */
  async function behindTheTriggers(sql: string, params: unknown[]): Promise<void> {
    await t.db.transaction(async (tx) => {
      await tx.query('set local session_replication_role = replica');
      await tx.query(sql, params);
    });
  }

  /**
   * Validates the token once through each of the three, so each caches it, and proves they
   * answer from memory: with the session revoked behind the triggers' back (no event), all
   * three still accept it. The session is then restored as it was.
   */
  async function prime(s: Login): Promise<void> {
    const size = cache.size;
    assertAll(await observe(s), 'accepted', 'a fresh token');
    assert.equal(cache.size, size + 1, 'the SDK client keeps the validation in its cache');
    await behindTheTriggers(
      `update pgauth.sessions set revoked_at = now(), revoked_reason = 'test' where id = $1`,
      [s.sessionId],
    );
    try {
      assert.equal(await validInDatabase(s), false, 'revoked in the database, silently');
      assertAll(await observe(s), 'accepted', 'answered from the cache');
    } finally {
      await behindTheTriggers(
        'update pgauth.sessions set revoked_at = null, revoked_reason = null where id = $1',
        [s.sessionId],
      );
    }
    assert.equal(await validInDatabase(s), true, 'the session is live again');
  }

  /**
   * Asks all three every POLL_MS from `since` (when the revocation committed) until each
   * rejects the token; fails past PROPAGATION_BOUND_MS, or if one accepts it again after it
   * rejected it. Then asks again ROUNDS_AFTER times, and once more past the negative cache.
   * Returns the milliseconds until the round in which the last of them rejected it, and that
   * round's number (1: they all rejected it the first time they were asked).
   */
  async function awaitRejection(
    s: Login,
    since: number,
  ): Promise<{ took: number; rounds: number }> {
    const firstRejected = new Map<string, number>();
    let rounds = 0;
    for (;;) {
      rounds++;
      const round = await observe(s);
      const at = performance.now() - since;
      for (const [name, verdict] of round) {
        if (verdict === 'rejected') {
          if (!firstRejected.has(name)) firstRejected.set(name, at);
        } else {
          assert.ok(
            !firstRejected.has(name),
            `${name} accepted the token again ${fmt(at)} ms after the revocation, having rejected it at ${fmt(firstRejected.get(name))} ms`,
          );
        }
      }
      if (firstRejected.size === round.size) break;
      const still = [...round].filter(([, v]) => v === 'accepted').map(([name]) => name);
      assert.ok(
        at <= PROPAGATION_BOUND_MS,
        `still accepted ${fmt(at)} ms after the revocation by: ${still.join(', ')}`,
      );
      await sleep(POLL_MS);
    }
    const took = Math.max(...firstRejected.values());
    assert.ok(took <= PROPAGATION_BOUND_MS, `rejected by all only after ${fmt(took)} ms`);
    for (let i = 0; i < ROUNDS_AFTER; i++) {
      await sleep(POLL_MS);
      assertAll(await observe(s), 'rejected', `round ${i + 1} after propagation`);
    }
    await sleep(NEGATIVE_CACHE_MS);
    assertAll(await observe(s), 'rejected', 'past the negative cache');
    return { took, rounds };
  }

  /** The client evicted the session on its event, and both gateways' streams carried it. */
  async function assertEventReachedAll(s: Login): Promise<void> {
    assert.ok(clientEvicted.has(s.sessionId), 'the SDK client evicted it on a revocation event');
    await waitFor(
      'both gateways to pass the revocation event on in their streams',
      () => feeds.every((f) => f.keys.has(cacheKey(s.token))),
      1_000,
      POLL_MS,
    );
  }

  async function reason(s: Login): Promise<string | null> {
    const r = await t.db.query<{ reason: string | null }>(
      'select revoked_reason as reason from pgauth.sessions where id = $1',
      [s.sessionId],
    );
    return r.rows[0]?.reason ?? null;
  }

  /** One case: a fresh session, cached by all three, revoked by `revoke`, rejected by all. */
  async function revocationReachesAll(
    diagnostic: (message: string) => void,
    label: string,
    expectedReason: string,
    revoke: (s: Login) => Promise<void>,
  ): Promise<void> {
    const s = await freshSession(label);
    await prime(s);
    await revoke(s);
    const committed = performance.now();
    assert.equal(await validInDatabase(s), false, 'the revocation committed');
    const { took, rounds } = await awaitRejection(s, committed);
    assert.equal(await reason(s), expectedReason, 'revoked_reason of the session');
    await assertEventReachedAll(s);
    propagation.push(took);
    diagnostic(
      `rejected by all three ${fmt(took)} ms after the revocation returned (poll round ${rounds})`,
    );
  }

  // ---- the cases ------------------------------------------------------------------------------

  const revocations: {
    how: string;
    label: string;
    reason: string;
    revoke(s: Login): Promise<void>;
  }[] = [
    {
      how: 'pgauth.logout run through psql',
      label: 'psql_logout',
      reason: 'logout',
      async revoke(s) {
        const out = await psql(url, `select pgauth.logout('${s.token}')`);
        assert.equal(out, 't', 'psql: logout returned true');
      },
    },
    {
      how: 'pgauth.revoke_user_sessions',
      label: 'revoke_all',
      reason: 'admin',
      async revoke(s) {
        const r = await t.db.query<{ n: number }>('select pgauth.revoke_user_sessions($1) as n', [
          s.userId,
        ]);
        assert.equal(r.rows[0]?.n, 1, 'one session revoked');
      },
    },
    {
      how: 'pgauth.lock_user',
      label: 'locked',
      reason: 'user_locked',
      async revoke(s) {
        await t.db.query('select pgauth.lock_user($1)', [s.userId]);
      },
    },
    {
      how: 'pgauth.change_password',
      label: 'change_pw',
      reason: 'password_changed',
      async revoke(s) {
        const r = await t.db.query<{ ok: boolean }>(
          'select pgauth.change_password($1, $2, $3) as ok',
          [s.userId, PASSWORD, 'a brand new passphrase'],
        );
        assert.equal(r.rows[0]?.ok, true, 'change_password returned true');
      },
    },
    {
      how: 'a raw UPDATE of password_hash in psql',
      label: 'raw_update',
      reason: 'password_changed',
      async revoke(s) {
        const out = await psql(
          url,
          `update pgauth.users set password_hash = pgauth._hash_password('an operator''s new passphrase', 4) where id = '${s.userId}' returning id`,
        );
        assert.equal(out, s.userId, 'psql: the UPDATE changed that one user');
      },
    },
  ];
  for (const c of revocations) {
    test(`${c.how}: all three reject the token within 2 s, for good`, {
      timeout: 30_000,
    }, async (ctx) => {
      await revocationReachesAll((m) => ctx.diagnostic(m), c.label, c.reason, c.revoke);
    });
  }

  test('LISTEN connections killed: a token revoked during the outage is never accepted; each process resubscribes by itself within 5 s and events flow again', {
    timeout: 60_000,
  }, async (ctx) => {
    const s = await freshSession('outage');
    await prime(s);
    const old = await listeners();
    assert.deepEqual(countByApp(old), { 'pgauth-client:listen': 1, 'pgauth:listen': 2 });
    const errorsBefore = subscriptionErrors.length;

    const killedAt = performance.now();
    const killed = await t.db.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = current_database() and application_name like '%:listen'`,
    );
    assert.deepEqual(
      killed.rows.map((r) => r.ok),
      [true, true, true],
    );
    // The outage: the killed backends are gone, and nobody has reconnected yet (the first retry
    // waits 100 ms). Revoking now means no LISTEN connection exists to carry the event.
    const oldPids = new Set(old.map((l) => l.pid));
    await waitFor(
      'the killed LISTEN backends to exit',
      async () => (await listeners()).every((l) => !oldPids.has(l.pid)),
      1_000,
      1,
    );
    assert.deepEqual(await listeners(), [], 'no LISTEN connection during the outage');
    const out = await t.db.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [s.token]);
    assert.equal(out.rows[0]?.ok, true, 'logout during the outage');
    const revokedAt = performance.now();
    const revokedAtDb = (await t.db.query<{ at: string }>('select clock_timestamp()::text as at'))
      .rows[0]?.at as string;
    ctx.diagnostic(`revoked ${fmt(revokedAt - killedAt)} ms after the kill`);

    // From the moment of the revocation until all have resubscribed, and a few rounds after:
    // nobody accepts the token.
    const newFeeds: (RevocationWatch | null)[] = gateways.map(() => null);
    let resubscribedAt: number | null = null;
    let roundsAfter = 0;
    let rounds = 0;
    for (;;) {
      assertAll(await observe(s), 'rejected', `round ${++rounds} after the revocation`);
      if (resubscribedAt !== null) {
        if (++roundsAfter >= ROUNDS_AFTER) break;
      } else {
        for (const [i, g] of gateways.entries()) {
          newFeeds[i] ??= await watchRevocations(g.url, watcherToken);
        }
        const now = await listenersSince(revokedAtDb);
        const fresh = now.filter((l) => l.newer && !oldPids.has(l.pid));
        const done =
          cache.subscribed &&
          newFeeds.every((f) => f !== null) &&
          fresh.length === now.length &&
          countByApp(fresh)['pgauth:listen'] === 2 &&
          countByApp(fresh)['pgauth-client:listen'] === 1;
        if (done) {
          resubscribedAt = performance.now();
        } else {
          assert.ok(
            performance.now() - killedAt <= RESUBSCRIBE_BOUND_MS,
            `not resubscribed ${RESUBSCRIBE_BOUND_MS} ms after the kill: SDK client subscribed=${cache.subscribed}, gateway streams open=${newFeeds.map((f) => f !== null).join('/')}, LISTEN backends=${JSON.stringify(now)}`,
          );
        }
      }
      await sleep(POLL_MS);
    }
    ctx.diagnostic(
      `all resubscribed ${fmt((resubscribedAt ?? 0) - killedAt)} ms after the kill; ${rounds} rounds, every one rejecting`,
    );
    assert.deepEqual(countByApp(await listeners()), {
      'pgauth-client:listen': 1,
      'pgauth:listen': 2,
    });
    // Each of them noticed the loss and dropped its cache (the SDK client told its onEvict
    // listeners of every session that went, the one primed above among them), and nobody heard
    // of this revocation, since no LISTEN connection existed when it committed.
    assert.ok(subscriptionErrors.length > errorsBefore, 'the SDK client was told of the loss');
    for (const [i, g] of gateways.entries()) {
      assert.ok(feeds[i]?.ended, `gateway ${'AB'[i]} ended its revocation stream on the loss`);
      assert.match(
        g.stdout() + g.stderr(),
        /revocation subscription lost/,
        `gateway ${'AB'[i]} logged the loss`,
      );
    }
    assert.ok(
      clientDropped.has(s.sessionId),
      'onEvict named the cached session when the cache emptied on the loss',
    );
    assert.ok(!clientEvicted.has(s.sessionId), 'no event for a revocation made during the outage');
    for (const feed of feeds) feed.close();
    feeds = newFeeds as RevocationWatch[];

    // The new subscriptions deliver: a token cached by all three after the outage is rejected
    // by all within the bound once revoked, each by its event.
    await revocationReachesAll(
      (m) => ctx.diagnostic(m),
      'after_outage',
      'logout',
      async (s2) => {
        const r = await t.db.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [s2.token]);
        assert.equal(r.rows[0]?.ok, true, 'logout after the outage');
      },
    );
    // The event of that later revocation has arrived, and events arrive in commit order: the
    // revocation made during the outage was never announced, not merely late.
    assert.ok(!clientEvicted.has(s.sessionId), 'still no event for the outage revocation');
  });
});

function countByApp(rows: readonly { app: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { app } of rows) counts[app] = (counts[app] ?? 0) + 1;
  return counts;
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '?' : ms.toFixed(1);
}
