// timing-sensitive on postgres: revocation latency percentiles and probe windows
/**
 * pgauth through PgBouncer 1.18 in transaction mode, with PgBouncer's default settings: the
 * gateway, the CLI and the SDK's SQL mode start and work; the statement timeout applies through
 * the pooler (set per call, never as a startup parameter); LISTEN through the pooler hears
 * nothing, and the cache knows it (its probes do not come back): it never serves, /readyz, the
 * metric pgauth_cache_enabled and an error log line say why and name the fix, and a token
 * revoked by a raw UPDATE is rejected at once. With --listen-url (listenUrl) on a direct
 * connection the cache serves, and a revocation reaches it within 100 ms. The SDK over HTTP
 * stops serving from memory within 2 s when its event stream stalls without closing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import { createAuthClient } from '../../packages/client/src/index.ts';
import { type GatewayProcess, runPgauth, startGateway } from '../helpers/cluster.ts';
import { metric } from '../helpers/metrics.ts';
import { startProxy } from '../helpers/tcp-proxy.ts';
import { waitFor, waitForTimed } from '../helpers/wait.ts';
import {
  createUser,
  type Fleet,
  http,
  loginOver,
  PASSWORD,
  percentile,
  refusedBy,
  revokeBySql,
  revokeSilently,
  skipTopology,
  startFleet,
  unrevokeSilently,
} from './fleet.ts';

const QUIET = ['--log-level', 'warn', '--login-rate-user', '1000', '--login-rate-ip', '1000'];
/** The bound of a revocation through the pooler when LISTEN is direct. */
const FAST_MS = 100;
/** The bound of a revocation when LISTEN hears nothing (the cache must know and not serve). */
const SLOW_MS = 2_000;

describe('through PgBouncer in transaction mode', { skip: skipTopology }, () => {
  let fleet: Fleet;
  /** Through the pooler, LISTEN through the pooler too: hears nothing. */
  let deaf: GatewayProcess;
  /** Through the pooler, LISTEN direct. */
  let hearing: GatewayProcess;
  const started = { deaf: 0 };

  before(async () => {
    fleet = await startFleet();
    await createUser(fleet.primary, fleet.db, 'svc', ['introspect']);
    for (const n of [1, 2, 3, 4]) await createUser(fleet.primary, fleet.db, `user${n}`);
    [deaf, hearing] = await Promise.all([
      startGateway(fleet.pooled, QUIET).then((gw) => {
        started.deaf = performance.now();
        return gw;
      }),
      startGateway(fleet.pooled, [...QUIET, '--listen-url', fleet.direct]),
    ]);
  });

  after(async () => {
    await Promise.all([deaf?.stop(), hearing?.stop()]);
    await fleet?.close();
  });

  test('the gateway starts with its default settings, logs in and validates through the pooler', async () => {
    const { token } = await loginOver(deaf, 'user1');
    const r = await http(deaf.url, 'GET', '/v1/session', { token });
    assert.equal(r.status, 200);
    assert.equal(r.body.username, 'user1');
  });

  test('the CLI works through the pooler: migrate, user add, session list', async () => {
    const migrate = await runPgauth(['migrate', '--database-url', fleet.pooled]);
    assert.equal(migrate.code, 0, migrate.stderr);
    const add = await runPgauth(
      ['user', 'add', 'cli_user', '--password-stdin', '--database-url', fleet.pooled],
      { input: `${PASSWORD}\n` },
    );
    assert.equal(add.code, 0, add.stderr);
    const { token } = await loginOver(hearing, 'cli_user');
    assert.equal((await http(hearing.url, 'GET', '/v1/session', { token })).status, 200);
  });

  test('the statement timeout applies through the pooler, and only to the call that set it', async () => {
    const timed = openPostgres({
      connectionString: fleet.pooled,
      statementTimeoutMs: 200,
      queryDeadlineMs: 10_000,
    });
    const plain = openPostgres({ connectionString: fleet.pooled, max: 1 });
    try {
      const start = performance.now();
      await assert.rejects(timed.query('select pg_sleep(3)'), (err: { code?: string }) => {
        assert.equal(err.code, '57014', 'canceled by the server: statement timeout');
        return true;
      });
      assert.ok(performance.now() - start < 2_000, 'canceled long before the sleep ended');
      // SET LOCAL ends with its transaction: the server connection, which the pooler hands to
      // anybody next, keeps no timeout of ours.
      for (let i = 0; i < 5; i++) {
        const r = await plain.query<{ statement_timeout: string }>('show statement_timeout');
        assert.equal(r.rows[0]?.statement_timeout, '0');
      }
      const inside = await timed.query<{ statement_timeout: string }>('show statement_timeout');
      assert.equal(inside.rows[0]?.statement_timeout, '200ms');
    } finally {
      await Promise.all([timed.close(), plain.close()]);
    }
  });

  test('LISTEN through the pooler: the cache never serves, /readyz, the metric and an error log line say why', async () => {
    const disabled = await waitFor(
      'readyz says the cache is disabled',
      async () => {
        const r = await http(deaf.url, 'GET', '/readyz');
        return r.body.cache === 'disabled' && /did not come back/.test(String(r.body.cache_cause))
          ? r
          : undefined;
      },
      10_000,
      20,
    );
    assert.equal(disabled.status, 200, 'still ready: every validation asks the database');
    assert.match(
      String(disabled.body.cache_cause),
      /LISTEN through a transaction pooler receives nothing: set --listen-url to a direct connection/,
    );
    assert.equal(await metric(deaf.url, 'pgauth_cache_enabled'), 0);
    const line = deaf
      .stdout()
      .split('\n')
      .find((l) => l.includes('"level":50') && l.includes('validation cache off'));
    assert.ok(line, `an error-level log line:\n${deaf.stdout()}`);
    assert.match(line, /set --listen-url to a direct connection/);
    console.log(
      `# time to disable the cache with LISTEN through the pooler: ${Math.round(performance.now() - started.deaf)} ms after it listened (readyz polled every 20 ms; the probe bound is 1000 ms)`,
    );
  });

  test('LISTEN through the pooler: a token revoked by a raw UPDATE is rejected within 2 s, and nothing is served from memory', async () => {
    const { token, sessionId } = await loginOver(deaf, 'user2');
    assert.equal((await http(deaf.url, 'GET', '/v1/auth/check', { token })).status, 200);
    // Revoked without a notification: a cache would still accept it; this gateway asks.
    await revokeSilently(fleet.primary, fleet.db, sessionId);
    assert.equal((await http(deaf.url, 'GET', '/v1/auth/check', { token })).status, 401);
    await unrevokeSilently(fleet.primary, fleet.db, sessionId);
    assert.equal((await http(deaf.url, 'GET', '/v1/auth/check', { token })).status, 200);
    await revokeBySql(fleet.primary, fleet.db, sessionId);
    const rejected = await refusedBy(deaf, token, SLOW_MS, 5);
    assert.ok(rejected < SLOW_MS);
  });

  test(`--listen-url direct: the cache serves, and a raw UPDATE reaches it within ${FAST_MS} ms`, async () => {
    const ready = await waitFor(
      'the cache is on',
      async () =>
        (await http(hearing.url, 'GET', '/readyz')).body.cache === 'on' ? true : undefined,
      10_000,
      20,
    );
    assert.ok(ready);
    assert.equal(await metric(hearing.url, 'pgauth_cache_enabled'), 1);
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const { token, sessionId } = await loginOver(hearing, 'user3');
      assert.equal((await http(hearing.url, 'GET', '/v1/auth/check', { token })).status, 200);
      if (i === 0) {
        // Proof that it serves from memory: a revocation without a notification changes nothing.
        await revokeSilently(fleet.primary, fleet.db, sessionId);
        assert.equal((await http(hearing.url, 'GET', '/v1/auth/check', { token })).status, 200);
        await unrevokeSilently(fleet.primary, fleet.db, sessionId);
      }
      // From the commit's acknowledgement to the first rejection.
      await revokeBySql(fleet.primary, fleet.db, sessionId);
      const ms = await refusedBy(hearing, token, FAST_MS * 10, 1);
      times.push(ms);
    }
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    console.log(
      `# revocation propagation through PgBouncer with --listen-url (raw UPDATE committed → gateway rejects): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, n=${times.length}`,
    );
    assert.ok(p99 < FAST_MS, `p99 ${p99.toFixed(1)} ms < ${FAST_MS} ms`);
  });

  test('a LISTEN connection that goes silent without closing turns the cache off, and a revoked token is rejected, within 2 s', async () => {
    // LISTEN through a TCP proxy that can stop passing bytes while every socket stays open.
    const proxy = await startProxy(fleet.primary.port);
    const listenUrl = fleet.direct.replace(`:${fleet.primary.port}/`, `:${proxy.port}/`);
    const gw = await startGateway(fleet.pooled, [...QUIET, '--listen-url', listenUrl]);
    try {
      await waitFor(
        'the cache is on',
        async () => ((await http(gw.url, 'GET', '/readyz')).body.cache === 'on' ? true : undefined),
        10_000,
        20,
      );
      const { token, sessionId } = await loginOver(gw, 'user4');
      assert.equal((await http(gw.url, 'GET', '/v1/auth/check', { token })).status, 200);
      proxy.stall();
      const start = performance.now();
      await revokeBySql(fleet.primary, fleet.db, sessionId);
      const rejected = await refusedBy(gw, token, SLOW_MS, 10);
      const off = await http(gw.url, 'GET', '/readyz');
      assert.equal(off.body.cache, 'disabled');
      console.log(
        `# time to disable the cache when a working LISTEN goes silent: ${Math.round(rejected)} ms (cause: ${off.body.cache_cause})`,
      );
      assert.ok(performance.now() - start < 1_500 + 500, 'within the probe bound, with margin');
    } finally {
      await gw.stop();
      await proxy.close();
    }
  });

  test('the SDK in SQL mode through the pooler: off without listenUrl, on with it; a raw UPDATE is rejected by both', async () => {
    const deafSdk = createAuthClient({ databaseUrl: fleet.pooled, cache: true });
    const sdk = createAuthClient({
      databaseUrl: fleet.pooled,
      listenUrl: fleet.direct,
      cache: true,
    });
    try {
      await sdk.cache?.ready(5_000);
      await assert.rejects(deafSdk.cache?.ready(3_000) ?? Promise.reject(), /did not come back/);
      assert.equal(deafSdk.cache?.subscribed, false);
      assert.match(deafSdk.cache?.cause ?? '', /set listenUrl to a direct connection/);
      const pair = await sdk.login('user4', PASSWORD);
      assert.ok(await sdk.validate(pair.accessToken));
      assert.ok(await deafSdk.validate(pair.accessToken));
      await revokeSilently(fleet.primary, fleet.db, pair.sessionId);
      assert.ok(await sdk.validate(pair.accessToken), 'served from memory');
      assert.equal(await deafSdk.validate(pair.accessToken), null, 'asked the database');
      await unrevokeSilently(fleet.primary, fleet.db, pair.sessionId);
      const start = performance.now();
      await revokeBySql(fleet.primary, fleet.db, pair.sessionId);
      await waitFor(
        'the SDK with listenUrl rejects',
        async () => ((await sdk.validate(pair.accessToken)) === null ? true : undefined),
        FAST_MS,
        1,
      );
      const ms = performance.now() - start;
      assert.equal(await deafSdk.validate(pair.accessToken), null);
      assert.ok(ms < FAST_MS, `${ms.toFixed(1)} ms`);
    } finally {
      await Promise.all([sdk.close(), deafSdk.close()]);
    }
  });

  test('the SDK over HTTP stops serving from memory within 2 s when its event stream stalls', async () => {
    const svc = await loginOver(hearing, 'svc');
    const proxy = await startProxy(Number(new URL(hearing.url).port));
    const sdk = createAuthClient({
      baseUrl: `http://127.0.0.1:${proxy.port}`,
      cache: true,
      serviceToken: svc.token,
    });
    try {
      await sdk.cache?.ready(5_000);
      const pair = await sdk.login('user1', PASSWORD);
      assert.ok(await sdk.validate(pair.accessToken));
      const start = performance.now();
      // The stream's connection stays open and silent; the SDK's other requests still pass.
      proxy.stall(/^GET \/v1\/revocations/);
      await revokeBySql(fleet.primary, fleet.db, pair.sessionId);
      const { ms } = await waitForTimed(
        'the SDK rejects the revoked token',
        async () => ((await sdk.validate(pair.accessToken)) === null ? true : undefined),
        SLOW_MS,
        10,
      );
      assert.equal(sdk.cache?.subscribed, false);
      assert.match(sdk.cache?.cause ?? '', /no probe arrived/);
      console.log(
        `# SDK over HTTP, stream stalled: cache off and the revoked token rejected after ${Math.round(performance.now() - start)} ms (${Math.round(ms)} ms of polling)`,
      );
    } finally {
      await sdk.close();
      await proxy.close();
    }
  });
});
