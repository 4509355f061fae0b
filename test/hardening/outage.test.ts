// timing-sensitive on postgres: recovery windows of an outage under load
/**
 * SECURITY.md 27 — the database goes away under load. A real `pgauth serve` process (validation
 * cache on) and an SDK client in SQL mode (cache on) run against a private cluster while loops
 * of GET /v1/session, POST /v1/login and SDK validations keep going; the cluster is stopped
 * (`pg_ctl stop -m fast`, then `-m immediate`), left down, and started again; last, it is frozen
 * (SIGSTOP: it stops answering but closes and refuses nothing, as behind a network partition).
 *
 * Required: from 2 s after the fault nothing is "valid" any more (the gateway answers 503 to
 * logins and 401/503 to sessions, the SDK throws `unavailable`), no request waits on the dead
 * database more than 2 s, no other 5xx, the process stays up; within 5 s of the start logins,
 * sessions, the gateway's LISTEN and the SDK's subscription are back. A token revoked while the
 * caches were blind (revoked over the Unix socket while TCP is still closed, so that neither the
 * gateway nor the SDK can hear the notification) is never accepted again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AuthClient, AuthError, cacheKey, createAuthClient } from '@pgauth/client';
import {
  type Cluster,
  createPgauthDatabase,
  type GatewayProcess,
  startCluster,
  startGateway,
} from '../helpers/cluster.ts';
import { postgresOnly } from '../helpers/db.ts';
import { PASSWORD } from '../helpers/sql.ts';
import { watchRevocations } from '../revocation/processes.ts';

/** Answers must have turned within this after the fault; no request may wait longer on it. */
const FAIL_CLOSED_MS = 2_000;
/** Everything must work again within this after the start. */
const RECOVER_MS = 5_000;
/** How long the database stays away. */
const OUTAGE_MS = 3_000;
const FREEZE_MS = 4_000;

type Kind = 'session' | 'victim' | 'login' | 'sdk' | 'sdk-victim';

interface Sample {
  kind: Kind;
  start: number;
  end: number;
  /** HTTP status; for the SDK 200 (a session), 401 (null), 503 (unavailable), 500 (other). */
  status: number;
  detail?: string;
}

const now = (): number => performance.now();

/** Polls `check` every 20 ms; resolves with the time it first held, or null after `ms`. */
async function firstTrue(
  check: () => Promise<boolean> | boolean,
  ms: number,
): Promise<number | null> {
  const end = now() + ms;
  while (now() < end) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return now();
    await sleep(20);
  }
  return null;
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  session_id: string;
  user_id: string;
}

/** The signs of recovery, in the order recovery() reports when each first held. */
const RECOVERY_SIGNS = [
  'login200',
  'session200',
  'gatewayListen',
  'gatewaySubscribed',
  'sdkSubscribed',
];

/** For the diagnostics: ms from `from` to each sign of recovery, as `<prefix>_<sign>_Ms`. */
function recoveryFigures(
  prefix: string,
  times: (number | null)[],
  from: number,
): Record<string, number | null> {
  return Object.fromEntries(
    RECOVERY_SIGNS.map((k, i) => {
      const at = times[i];
      return [`${prefix}_${k}_Ms`, at == null ? null : Math.round(at - from)];
    }),
  );
}

/** For the diagnostics: how many requests the load made, and their statuses by kind. */
function loadFigures(samples: Sample[]): { requests: number; statuses: Record<string, number> } {
  return { requests: samples.length, statuses: statusCounts(samples) };
}

/** Status counts by kind, for the diagnostics. */
function statusCounts(samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples)
    counts[`${s.kind}:${s.status}`] = (counts[`${s.kind}:${s.status}`] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort());
}

/** How long a sample waited while the database was away (between `from` and `to`). */
const waitedDuring = (s: Sample, from: number, to: number): number =>
  Math.min(s.end, to) - Math.max(s.start, from);

/** A few samples as text, times relative to `from`. */
function show(samples: Sample[], from: number): string {
  const rel = (x: number) => Math.round(x - from);
  const text = samples
    .slice(0, 5)
    .map(
      (s) =>
        `${s.kind} ${rel(s.start)}..${rel(s.end)} ms: ${s.status}${s.detail ? ` ${s.detail}` : ''}`,
    );
  return `${samples.length} (${text.join('; ')}${samples.length > 5 ? '; …' : ''})`;
}

/**
 * What every fault must give: fail closed within the bound, no fault of our own. Collects every
 * violation so that one run reports them all.
 */
function assertFailsClosed(samples: Sample[], from: number, to: number): void {
  const problems: string[] = [];
  const check = (bad: Sample[], what: string) => {
    if (bad.length > 0) problems.push(`${what}: ${show(bad, from)}`);
  };
  const late = samples.filter((s) => s.end >= from + FAIL_CLOSED_MS && s.end < to);
  check(
    late.filter((s) => s.status === 200),
    `"valid" (or a login) more than ${FAIL_CLOSED_MS} ms after the database went away`,
  );
  const logins = late.filter((s) => s.kind === 'login');
  if (logins.length === 0) problems.push('no login was answered during the outage');
  check(
    logins.filter((s) => s.status !== 503),
    'a login during the outage must be 503',
  );
  const validations = late.filter((s) => s.kind === 'session' || s.kind === 'sdk');
  if (validations.length === 0) problems.push('no validation was answered during the outage');
  check(
    validations.filter((s) => s.status !== 503 && s.status !== 401),
    'a validation during the outage must be 401 or 503',
  );
  check(
    samples.filter((s) => waitedDuring(s, from, to) > FAIL_CLOSED_MS),
    `requests that waited on the dead database more than ${FAIL_CLOSED_MS} ms`,
  );
  check(
    samples.filter(
      (s) => ![200, 503].includes(s.status) && !(s.status === 401 && s.kind !== 'login'),
    ),
    'answers other than 200, 401 (validations) and 503 (a 500, a dropped request)',
  );
  assert.deepEqual(problems, [], 'the gateway and the SDK fail closed within the bound');
}

function faultFigures(samples: Sample[], from: number, to: number) {
  const first503 = (kind: Kind) => {
    const s = samples.find((x) => x.kind === kind && x.end > from && x.status === 503);
    return s ? Math.round(s.end - from) : null;
  };
  const last200 = (kind: Kind) => {
    const s = samples.filter(
      (x) => x.kind === kind && x.end > from && x.end < to && x.status === 200,
    );
    return s.length ? Math.round((s.at(-1) as Sample).end - from) : null;
  };
  return {
    firstSession503Ms: first503('session'),
    firstLogin503Ms: first503('login'),
    firstSdkUnavailableMs: first503('sdk'),
    lastSession200Ms: last200('session'),
    lastLogin200Ms: last200('login'),
    lastSdkValidMs: last200('sdk'),
    longestWaitOnDeadDbMs: Math.round(
      Math.max(0, ...samples.map((s) => waitedDuring(s, from, to))),
    ),
  };
}

describe('database outage under load (SECURITY.md 27)', { skip: postgresOnly }, () => {
  let cluster: Cluster;
  let dbName: string;
  let gw: GatewayProcess;
  let sdk: AuthClient;
  let svcToken: string;

  const sql = <R extends Record<string, unknown>>(text: string, params?: unknown[]) =>
    cluster.query<R>(text, params, dbName);

  const http = async (
    method: string,
    path: string,
    o: { token?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: string }> => {
    const headers: Record<string, string> = {};
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers,
      body: o.json === undefined ? undefined : JSON.stringify(o.json),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: await res.text() };
  };

  const login = async (username: string): Promise<Tokens> => {
    const r = await http('POST', '/v1/login', { json: { username, password: PASSWORD } });
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as Tokens;
  };

  const createUser = async (username: string, roles: string[] = []): Promise<string> => {
    const [row] = await sql<{ id: string }>(
      'select pgauth.create_user($1, $2, null, $3::text[])::text as id',
      [username, PASSWORD, roles],
    );
    return row?.id ?? '';
  };

  /** Whether the gateway's own subscription is live: GET /v1/revocations is 200 only then. */
  const gatewaySubscribed = async (): Promise<boolean> => {
    const abort = new AbortController();
    try {
      const res = await fetch(`${gw.url}/v1/revocations`, {
        headers: { authorization: `Bearer ${svcToken}` },
        signal: abort.signal,
      });
      return res.status === 200;
    } finally {
      abort.abort();
    }
  };

  const gatewayListening = async (): Promise<boolean> =>
    (
      await sql<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = $1 and application_name = 'pgauth:listen'`,
        [dbName],
      )
    )[0]?.n === 1;

  /**
   * Loops of requests until stopped: three on a valid session, one on the victim's, two logins,
   * one SDK validation of each. Every answer is a sample.
   */
  const startLoad = (t: { a: string; v: string; sa: string; sv: string }) => {
    const samples: Sample[] = [];
    let running = true;
    type Outcome = Omit<Sample, 'kind' | 'start' | 'end'>;
    const loop = async (kind: Kind, fn: () => Promise<Outcome>): Promise<void> => {
      while (running) {
        const start = now();
        let r: Outcome;
        try {
          r = await fn();
        } catch (err) {
          r = { status: 0, detail: (err as Error).message };
        }
        samples.push({ kind, start, end: now(), ...r });
        await sleep(5);
      }
    };
    const session = (token: string) => async (): Promise<Outcome> => {
      const r = await http('GET', '/v1/session', { token });
      return { status: r.status, detail: r.status >= 500 ? r.body : undefined };
    };
    const sdkValidate = (token: string) => async (): Promise<Outcome> => {
      try {
        return { status: (await sdk.validate(token)) ? 200 : 401 };
      } catch (err) {
        const code = err instanceof AuthError ? err.code : String(err);
        return { status: code === 'unavailable' ? 503 : 500, detail: code };
      }
    };
    const loginOnce = async (): Promise<Outcome> => {
      const r = await http('POST', '/v1/login', { json: { username: 'load', password: PASSWORD } });
      return { status: r.status, detail: r.status === 200 ? undefined : r.body };
    };
    const done = Promise.all([
      loop('session', session(t.a)),
      loop('session', session(t.a)),
      loop('session', session(t.a)),
      loop('victim', session(t.v)),
      loop('login', loginOnce),
      loop('login', loginOnce),
      loop('sdk', sdkValidate(t.sa)),
      loop('sdk-victim', sdkValidate(t.sv)),
    ]);
    return {
      samples,
      async stop(): Promise<void> {
        running = false;
        await done;
      },
    };
  };

  /** Both caches live and holding `load` and `victim` sessions; returns the tokens. */
  const warm = async (victim: string) => {
    assert.ok(await firstTrue(gatewaySubscribed, 5_000), 'gateway subscribed before the fault');
    await sdk.cache?.ready(5_000);
    const a = await login('load');
    const v = await login(victim);
    const sa = await sdk.login('load', PASSWORD);
    const sv = await sdk.login(victim, PASSWORD);
    for (const tok of [a, v]) {
      assert.equal((await http('GET', '/v1/session', { token: tok.access_token })).status, 200);
    }
    assert.ok(await sdk.validate(sa.accessToken));
    assert.ok(await sdk.validate(sv.accessToken));
    assert.ok((sdk.cache?.size ?? 0) >= 2, 'the SDK cache holds the sessions');
    return { a: a.access_token, v: v.access_token, sa: sa.accessToken, sv: sv.accessToken };
  };

  /** Waits for each sign of recovery; returns when each first held (null: not within 6 s). */
  const recovery = (samples: Sample[], since: number) =>
    Promise.all([
      firstTrue(
        () => samples.some((s) => s.kind === 'login' && s.start > since && s.status === 200),
        RECOVER_MS + 1_000,
      ),
      firstTrue(
        () => samples.some((s) => s.kind === 'session' && s.start > since && s.status === 200),
        RECOVER_MS + 1_000,
      ),
      firstTrue(gatewayListening, RECOVER_MS + 1_000),
      firstTrue(gatewaySubscribed, RECOVER_MS + 1_000),
      firstTrue(() => sdk.cache?.subscribed === true, RECOVER_MS + 1_000),
    ]);

  const assertRecovered = (times: (number | null)[], from: number): void => {
    const names = [
      'a login 200',
      'a session 200',
      "the gateway's LISTEN (pgauth:listen in pg_stat_activity)",
      "the gateway's subscription (GET /v1/revocations 200)",
      "the SDK's subscription (cache.subscribed)",
    ];
    times.forEach((at, i) => {
      assert.ok(
        at !== null && at - from <= RECOVER_MS,
        `${names[i]} within ${RECOVER_MS} ms of the start (${at === null ? 'never' : `${Math.round(at - from)} ms`})`,
      );
    });
  };

  /** After recovery: the revocation feeds deliver a logout made in SQL to both caches. */
  const assertFeedsWork = async (watchName: string): Promise<void> => {
    await createUser(watchName);
    const w = await login(watchName);
    assert.equal((await http('GET', '/v1/session', { token: w.access_token })).status, 200);
    const stream = await watchRevocations(gw.url, svcToken);
    assert.ok(stream, 'the gateway offers its revocation stream again');
    const sw = await sdk.login(watchName, PASSWORD);
    assert.ok(await sdk.validate(sw.accessToken));
    const evicted = new Set<string>();
    const off = sdk.cache?.onEvict((ids) => {
      for (const id of ids) evicted.add(id);
    });
    try {
      await sql('select pgauth.logout($1), pgauth.logout($2)', [w.access_token, sw.accessToken]);
      assert.ok(
        await firstTrue(() => stream.keys.has(cacheKey(w.access_token)), 2_000),
        "the gateway's LISTEN delivers the revocation",
      );
      assert.ok(
        await firstTrue(() => evicted.has(sw.sessionId), 2_000),
        "the SDK's LISTEN delivers the revocation",
      );
    } finally {
      off?.();
      stream.close();
    }
    assert.equal((await http('GET', '/v1/session', { token: w.access_token })).status, 401);
    assert.equal(await sdk.validate(sw.accessToken), null);
  };

  const assertGatewayHealthy = async (): Promise<void> => {
    assert.ok(
      gw.alive(),
      `the gateway process stayed up; its stderr:\n${gw.stderr().slice(-4000)}`,
    );
    assert.equal((await http('GET', '/healthz')).status, 200);
    assert.equal((await http('GET', '/readyz')).status, 200);
    const log = gw.stdout() + gw.stderr();
    assert.doesNotMatch(log, /"level":50/, 'no error-level log line (an unexpected error, a 500)');
  };

  before(async () => {
    if (postgresOnly) return;
    cluster = await startCluster();
    dbName = await createPgauthDatabase(cluster);
    await createUser('load');
    await createUser('svc', ['introspect']);
    // A statement timeout of 0.8 s makes the gateway's client-side deadline 1.8 s for every call
    // (statement timeout + 1 s): what bounds a login when the server stops answering at all.
    gw = await startGateway(cluster.url(dbName), [
      '--statement-timeout-ms',
      '800',
      '--log-level',
      'warn',
      '--login-rate-ip',
      '1000000',
      '--login-rate-user',
      '1000000',
    ]);
    sdk = createAuthClient({ databaseUrl: cluster.url(dbName), cache: true });
    await sdk.cache?.ready(5_000);
    svcToken = (await login('svc')).access_token;
  });

  after(async () => {
    await sdk?.close().catch(() => {});
    await gw?.stop();
    await cluster?.destroy();
  });

  /**
   * One fault under load: both caches warmed with `victim`'s sessions, half a second of load, then
   * the database taken `down` (it resolves once the database may come back) and brought `up` (each
   * is given the time its phase began), the signs of recovery awaited, `settleMs` more of load.
   * The figures of `down` and `up` go into the diagnostic with the rest; `restore` brings the
   * database back whatever failed. Resolves with the samples, when the fault began and ended, and
   * when each sign of recovery first held.
   */
  const faultUnderLoad = async (
    t: TestContext,
    victim: string,
    o: {
      mode: string;
      down: (from: number) => Promise<Record<string, number>>;
      up: (from: number) => Promise<Record<string, number>>;
      recoveryPrefix: string;
      settleMs: number;
      restore: () => Promise<void>;
    },
  ) => {
    const load = startLoad(await warm(victim));
    let from = 0;
    let to = 0;
    let times: (number | null)[] = [];
    try {
      await sleep(500);
      from = now();
      const downFigures = await o.down(from);
      to = now();
      const upFigures = await o.up(to);
      times = await recovery(load.samples, to);
      await sleep(o.settleMs);
      await load.stop();
      t.diagnostic(
        JSON.stringify({
          mode: o.mode,
          ...downFigures,
          ...faultFigures(load.samples, from, to),
          ...upFigures,
          ...recoveryFigures(o.recoveryPrefix, times, to),
          ...loadFigures(load.samples),
        }),
      );
    } finally {
      await o.restore();
      await load.stop();
    }
    return { samples: load.samples, from, to, times };
  };

  for (const mode of ['fast', 'immediate'] as const) {
    test(`pg_ctl stop -m ${mode} under load: 503 within 2 s and never valid, back within 5 s of the start, a token revoked meanwhile stays dead`, async (t) => {
      const victimId = await createUser(`victim_${mode}`);
      let tRevoked = 0;
      const {
        samples,
        from: tStop,
        to: tStart,
        times,
      } = await faultUnderLoad(t, `victim_${mode}`, {
        mode,
        down: async (from) => {
          await cluster.stop(mode);
          const stopCommandMs = Math.round(now() - from);
          await sleep(OUTAGE_MS - stopCommandMs);
          assert.ok(gw.alive(), 'the gateway process is up during the outage');
          assert.equal((await http('GET', '/healthz')).status, 200, 'live during the outage');
          assert.equal((await http('GET', '/readyz')).status, 503, 'not ready during the outage');

          // Revoke the victim while neither cache can hear it: the cluster comes up on its Unix
          // socket only, so the gateway and the SDK (TCP) cannot reconnect yet.
          await cluster.start({ listen_addresses: '' });
          const [row] = await sql<{ n: number; listening: string[] }>(
            `select pgauth.revoke_user_sessions($1) as n,
                    array(select application_name from pg_stat_activity
                           where application_name like '%:listen') as listening`,
            [victimId],
          );
          tRevoked = now();
          assert.equal(row?.n, 2, 'both victim sessions revoked');
          assert.deepEqual(row?.listening, [], 'no subscriber could hear the revocation');
          await cluster.stop('fast');
          return { stopCommandMs };
        },
        up: async (tStart) => {
          await cluster.start();
          return { startCommandMs: Math.round(now() - tStart) };
        },
        recoveryPrefix: 'fromStartTo',
        // Load on a while longer: the victim must stay dead in warm caches too.
        settleMs: 1_000,
        // Whatever failed, leave the cluster up for the next test.
        restore: () => cluster.start().catch(() => {}),
      });
      assertFailsClosed(samples, tStop, tStart);
      assert.deepEqual(
        samples.filter(
          (s) =>
            (s.kind === 'victim' || s.kind === 'sdk-victim') &&
            s.start > tRevoked &&
            s.status === 200,
        ),
        [],
        'the token revoked during the outage is never accepted again',
      );
      for (const kind of ['victim', 'sdk-victim'] as const) {
        assert.ok(
          samples.some((s) => s.kind === kind && s.start > tStart && s.status === 401),
          `${kind}: asked about and refused after the restart`,
        );
      }
      assertRecovered(times, tStart);
      await assertGatewayHealthy();
      await assertFeedsWork(`watch_${mode}`);
    });
  }

  test('a frozen server (SIGSTOP, as behind a network partition): 503 within 2 s and never valid, back within 5 s of the thaw', async (t) => {
    await createUser('victim_freeze');
    const {
      samples,
      from: tFreeze,
      to: tThaw,
      times,
    } = await faultUnderLoad(t, 'victim_freeze', {
      mode: 'freeze',
      down: async () => {
        cluster.pause();
        await sleep(FREEZE_MS);
        assert.ok(gw.alive(), 'the gateway process is up during the freeze');
        return { freezeMs: FREEZE_MS };
      },
      up: async () => {
        cluster.resume();
        return {};
      },
      recoveryPrefix: 'fromThawTo',
      settleMs: 500,
      restore: async () => cluster.resume(),
    });
    // Recovery first: the bound below is what fails today (see the figures).
    assertRecovered(times, tThaw);
    await assertGatewayHealthy();
    await assertFeedsWork('watch_freeze');
    assertFailsClosed(samples, tFreeze, tThaw);
  });
});
