// timing-sensitive on postgres: the failover recovery window
/**
 * Failover behind one endpoint: a primary with a synchronous streaming standby, PgBouncer in front
 * (transaction mode for calls, a session-mode entry for LISTEN), two gateways. Under a stream of
 * logins and logouts the primary is stopped at once (pg_ctl stop -m immediate), the standby is
 * promoted and PgBouncer repointed to it, as an operator or Patroni would. Every gateway serves
 * again within 10 s without a restart; its LISTEN re-subscribes on the new primary; what it had
 * cached is gone; and, the replication being synchronous, every login and every logout that was
 * acknowledged before the stop holds on the new primary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Cluster,
  createPgauthDatabase,
  type GatewayProcess,
  startCluster,
  startGateway,
} from '../helpers/cluster.ts';
import { type Bouncer, startPgbouncer } from '../helpers/pgbouncer.ts';
import { waitFor, waitForTimed } from '../helpers/wait.ts';
import {
  createUser,
  http,
  loginOver,
  PASSWORD,
  revokeBySql,
  revokeSilently,
  skipTopology,
  statusOf,
  unrevokeSilently,
} from './fleet.ts';

/** The most a gateway may take to serve again once the standby is promoted and repointed. */
const SERVE_AGAIN_MS = 10_000;

describe('failover to a promoted standby behind PgBouncer', { skip: skipTopology }, () => {
  let primary: Cluster;
  let standby: Cluster;
  let bouncer: Bouncer;
  let db: string;
  let gateways: GatewayProcess[] = [];

  before(async () => {
    primary = await startCluster();
    db = await createPgauthDatabase(primary);
    // The standby's own settings win over those it copied: it must not wait for a standby of its
    // own once promoted.
    standby = await startCluster({
      standbyOf: primary,
      settings: { synchronous_standby_names: '', synchronous_commit: 'on' },
    });
    await primary.query(`alter system set synchronous_standby_names = '*'`);
    await primary.query(`alter system set synchronous_commit = 'on'`);
    await primary.reload();
    await waitFor(
      'the standby replicates synchronously',
      async () =>
        (await primary.query<{ s: string }>('select sync_state as s from pg_stat_replication'))[0]
          ?.s === 'sync'
          ? true
          : undefined,
      10_000,
      50,
    );
    for (const n of ['writer', 'cached', 'after']) await createUser(primary, db, n);
    // server_login_retry: PgBouncer waits this long after a failed server login before it tries
    // again (default 15 s, longer than the failover bound); deployment.md says to lower it.
    bouncer = await startPgbouncer({
      serverPort: primary.port,
      databases: [db],
      settings: { server_login_retry: '1' },
    });
    const flags = [
      '--log-level',
      'warn',
      '--listen-url',
      bouncer.url(db, 'session'),
      '--login-rate-user',
      '100000',
      '--login-rate-ip',
      '100000',
      '--statement-timeout-ms',
      '2000',
    ];
    gateways = await Promise.all([
      startGateway(bouncer.url(db), flags),
      startGateway(bouncer.url(db), flags),
    ]);
    for (const gw of gateways) {
      await waitFor(
        'the cache is on',
        async () => ((await http(gw.url, 'GET', '/readyz')).body.cache === 'on' ? true : undefined),
        10_000,
        20,
      );
    }
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await bouncer?.stop();
    await standby?.destroy();
    await primary?.destroy();
  });

  test('every gateway serves again within 10 s, re-subscribes on the new primary with an empty cache, and no acknowledged login or logout is lost', async () => {
    const [g0, g1] = gateways as [GatewayProcess, GatewayProcess];
    // A token both gateways answer from memory.
    const cached = await loginOver(g0, 'cached');
    for (const gw of gateways) {
      assert.equal(await statusOf(gw, cached.token), 200);
    }
    await revokeSilently(primary, db, cached.sessionId);
    for (const gw of gateways) {
      const r = await http(gw.url, 'GET', '/v1/auth/check', { token: cached.token });
      assert.equal(r.status, 200, 'served from memory');
    }
    await unrevokeSilently(primary, db, cached.sessionId);

    // Writers: logins, and a logout of every other one, until told to stop.
    const acknowledged = {
      logins: [] as { token: string; sessionId: string }[],
      logouts: [] as string[],
    };
    let writing = true;
    const statuses = new Map<number, number>();
    const writer = (async () => {
      let i = 0;
      while (writing) {
        const gw = gateways[i++ % 2] as GatewayProcess;
        try {
          const r = await http(gw.url, 'POST', '/v1/login', {
            json: { username: 'writer', password: PASSWORD },
          });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status !== 200) {
            await sleep(20);
            continue;
          }
          const pair = {
            token: r.body.access_token as string,
            sessionId: r.body.session_id as string,
          };
          acknowledged.logins.push(pair);
          if (i % 2 === 0) {
            const out = await http(gw.url, 'POST', '/v1/logout', { token: pair.token });
            statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
            if (out.status === 204) acknowledged.logouts.push(pair.token);
          }
        } catch {
          await sleep(20);
        }
      }
    })();
    // The stop comes while writes are acknowledged: a few logins and logouts first.
    await waitFor(
      'logins and logouts acknowledged before the stop',
      () => acknowledged.logouts.length >= 3 || undefined,
      10_000,
      20,
    );

    const stoppedAt = performance.now();
    await primary.stop('immediate');
    await standby.promote();
    await bouncer.repoint(standby.port);
    const promotedAt = performance.now();

    const back: number[] = [];
    await Promise.all(
      gateways.map(async (gw) => {
        const { ms } = await waitForTimed(
          'the gateway serves again',
          async () => {
            const r = await http(gw.url, 'POST', '/v1/login', {
              json: { username: 'after', password: PASSWORD },
            });
            if (r.status !== 200) return undefined;
            const v = await http(gw.url, 'GET', '/v1/session', {
              token: r.body.access_token as string,
            });
            return v.status === 200 ? true : undefined;
          },
          SERVE_AGAIN_MS,
          100,
        );
        back.push(ms);
      }),
    );
    writing = false;
    await writer;
    console.log(
      `# failover: stop + promote + repoint took ${Math.round(promotedAt - stoppedAt)} ms; gateways served again ${back.map((ms) => Math.round(ms)).join(' and ')} ms after it; writer statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    for (const ms of back) assert.ok(ms < SERVE_AGAIN_MS);
    assert.ok(g0.alive() && g1.alive(), 'no restart');
    for (const gw of gateways) {
      assert.doesNotMatch(gw.stdout(), /"statusCode":500|"level":50/, 'never a 500');
    }

    // The cache was emptied on reconnect: a revocation made without a notification shows.
    await revokeSilently(standby, db, cached.sessionId);
    for (const gw of gateways) {
      const r = await http(gw.url, 'GET', '/v1/auth/check', { token: cached.token });
      assert.equal(r.status, 401, 'not served from a cache filled before the failover');
    }

    // LISTEN re-subscribed on the new primary: the cache comes back on and hears revocations.
    for (const gw of gateways) {
      await waitFor(
        'the cache is on again',
        async () => ((await http(gw.url, 'GET', '/readyz')).body.cache === 'on' ? true : undefined),
        SERVE_AGAIN_MS,
        50,
      );
    }
    const fresh = await loginOver(g1, 'after');
    for (const gw of gateways) {
      assert.equal(await statusOf(gw, fresh.token), 200);
    }
    await revokeBySql(standby, db, fresh.sessionId);
    for (const gw of gateways) {
      await waitFor(
        'the revocation reaches the gateway',
        async () =>
          (await http(gw.url, 'GET', '/v1/auth/check', { token: fresh.token })).status === 401
            ? true
            : undefined,
        1_000,
        2,
      );
    }

    // Synchronous replication: every acknowledged login and logout is on the new primary.
    assert.ok(acknowledged.logins.length > 0, 'logins were acknowledged before the stop');
    const ids = acknowledged.logins.map((l) => l.sessionId);
    const rows = await standby.query<{ id: string; revoked: boolean }>(
      'select id::text, revoked_at is not null as revoked from pgauth.sessions where id = any($1::uuid[])',
      [ids],
      db,
    );
    assert.equal(rows.length, ids.length, 'every acknowledged login survived the failover');
    const revoked = new Set(rows.filter((r) => r.revoked).map((r) => r.id));
    for (const l of acknowledged.logins) {
      if (acknowledged.logouts.includes(l.token)) {
        assert.ok(revoked.has(l.sessionId), 'an acknowledged logout survived the failover');
      }
    }
    console.log(
      `# synchronous replication: ${acknowledged.logins.length} acknowledged logins and ${acknowledged.logouts.length} logouts, all on the promoted standby`,
    );
  });
});
