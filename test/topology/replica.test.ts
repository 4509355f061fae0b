// timing-sensitive on postgres: replica lag and revocation windows
/**
 * Read replicas: a real streaming replica of a private primary (pg_basebackup -R), lag forced with
 * recovery_min_apply_delay. Validation reads the replica while it is within --max-replica-lag and
 * the primary otherwise; a session whose revocation notification reached the gateway is rejected
 * whatever the lagging replica says, and so is one the gateway revoked itself; a token younger than
 * the replica still validates. A gateway whose database is the standby itself answers writes with
 * 503 and Retry-After (never 500) and is not ready.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAuthClient } from '../../packages/client/src/index.ts';
import {
  type Cluster,
  type GatewayProcess,
  startCluster,
  startGateway,
} from '../helpers/cluster.ts';
import { metric } from '../helpers/metrics.ts';
import { waitFor, waitForTimed } from '../helpers/wait.ts';
import {
  createUser,
  type Fleet,
  http,
  loginOver,
  refusedBy,
  revokeBySql,
  skipTopology,
  startFleet,
} from './fleet.ts';

const QUIET = ['--log-level', 'warn', '--login-rate-user', '1000', '--login-rate-ip', '1000'];
/** What the replica is held back by in the lagging tests. */
const DELAY = '2s';

/** A labelled sample of a gateway's /metrics (0 when absent). */
const sample = async (gw: GatewayProcess, name: string, labels: string): Promise<number> =>
  (await metric(gw.url, `${name}{${labels}}`)) ?? 0;

const reads = async (gw: GatewayProcess) => ({
  replica: await sample(gw, 'pgauth_validation_reads_total', 'source="replica"'),
  primary: await sample(gw, 'pgauth_validation_reads_total', 'source="primary"'),
});

describe('validation from a streaming replica', { skip: skipTopology }, () => {
  let fleet: Fleet;
  let replica: Cluster;
  /** --read-url the replica, default --max-replica-lag (1 s), no cache: every check asks. */
  let strict: GatewayProcess;
  /** The same with --max-replica-lag 30000: uses the replica however far behind. */
  let lenient: GatewayProcess;

  const setDelay = async (delay: string): Promise<void> => {
    await replica.query(`alter system set recovery_min_apply_delay = '${delay}'`);
    await replica.reload();
  };

  /** Waits until the replica has replayed the session of `token` (it validates there). */
  const replicaKnows = (token: string): Promise<unknown> =>
    waitFor(
      'the replica knows the session',
      async () =>
        (await replica.query('select 1 from pgauth.validate($1)', [token], fleet.db)).length === 1
          ? true
          : undefined,
      5_000,
      20,
    );

  /**
   * Holds the replica DELAY behind, and waits until `gw` measures it more than a second behind:
   * from then on what the primary commits reaches the replica only DELAY later.
   */
  const holdBack = async (gw: GatewayProcess): Promise<void> => {
    await setDelay(DELAY);
    await waitFor(
      'the lag is seen',
      async () =>
        (await sample(gw, 'pgauth_replica_lag_seconds', 'replica="0"')) > 1 ? true : undefined,
      10_000,
      50,
    );
  };

  before(async () => {
    fleet = await startFleet();
    replica = await startCluster({ standbyOf: fleet.primary });
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f'])
      await createUser(fleet.primary, fleet.db, `r_${n}`);
    const common = [...QUIET, '--listen-url', fleet.direct, '--read-url', replica.url(fleet.db)];
    [strict, lenient] = await Promise.all([
      startGateway(fleet.pooled, [...common, '--no-cache']),
      startGateway(fleet.pooled, [...common, '--no-cache', '--max-replica-lag', '30000']),
    ]);
  });

  after(async () => {
    await Promise.all([strict?.stop(), lenient?.stop()]);
    await replica?.destroy();
    await fleet?.close();
  });

  test('a current replica answers validations', async () => {
    const { token } = await loginOver(strict, 'r_a');
    await waitFor(
      'the replica answers',
      async () => {
        const before = await reads(strict);
        assert.equal((await http(strict.url, 'GET', '/v1/session', { token })).status, 200);
        return (await reads(strict)).replica > before.replica ? true : undefined;
      },
      5_000,
      50,
    );
  });

  test(`a replica ${DELAY} behind is not used with --max-replica-lag 1000, and a new login validates at once`, async () => {
    try {
      await holdBack(strict);
      const before = await reads(strict);
      for (let i = 0; i < 5; i++) {
        // A session the replica has not replayed yet: answered by the primary.
        const { token } = await loginOver(strict, 'r_b');
        assert.equal((await http(strict.url, 'GET', '/v1/session', { token })).status, 200);
      }
      const after = await reads(strict);
      assert.equal(after.replica, before.replica, 'the lagging replica answered nothing');
      assert.equal(after.primary - before.primary, 5);
    } finally {
      await setDelay('0');
    }
  });

  test('a lagging replica never resurrects a session whose revocation reached the gateway', async () => {
    // A session both the primary and the replica know, while the replica is current.
    const { token, sessionId } = await loginOver(lenient, 'r_c');
    await replicaKnows(token);
    try {
      await holdBack(lenient);
      // The lenient gateway still uses the replica (30 s bound): a valid token is read there.
      const before = await reads(lenient);
      assert.equal((await http(lenient.url, 'GET', '/v1/session', { token })).status, 200);
      assert.equal((await reads(lenient)).replica, before.replica + 1);

      await revokeBySql(fleet.primary, fleet.db, sessionId);
      const ms = await refusedBy(lenient, token, 1_000, 2, '/v1/session');
      // The replica itself still says valid: only the tombstone stands between.
      const stale = await replica.query('select 1 from pgauth.validate($1)', [token], fleet.db);
      assert.equal(stale.length, 1, 'the replica has not replayed the revocation yet');
      for (let i = 0; i < 20; i++) {
        assert.equal((await http(lenient.url, 'GET', '/v1/session', { token })).status, 401);
        await sleep(25);
      }
      console.log(
        `# revoked by a raw UPDATE, replica ${DELAY} behind: rejected ${ms.toFixed(1)} ms after the commit`,
      );

      // Its own revocation: rejected at once, before any notification could be awaited.
      const own = await loginOver(lenient, 'r_d');
      await setDelay('0');
      await replicaKnows(own.token);
      await holdBack(lenient);
      assert.equal(
        (await http(lenient.url, 'POST', '/v1/logout', { token: own.token })).status,
        204,
      );
      assert.equal(
        (await http(lenient.url, 'GET', '/v1/session', { token: own.token })).status,
        401,
      );
    } finally {
      await setDelay('0');
    }
  });

  test('the SDK with readUrls: a lagging replica resurrects nothing it heard revoked, and a new login validates', async () => {
    const sdk = createAuthClient({
      databaseUrl: fleet.pooled,
      listenUrl: fleet.direct,
      readUrls: [replica.url(fleet.db)],
      maxReplicaLagMs: 30_000,
    });
    try {
      const pair = await sdk.login('r_f', 'a long enough passphrase');
      await replicaKnows(pair.accessToken);
      // The replica held back (as the lenient gateway measures it), then a revocation behind
      // the SDK's back: the replica replays it only DELAY later.
      await holdBack(lenient);
      await revokeBySql(fleet.primary, fleet.db, pair.sessionId);
      const { ms } = await waitForTimed(
        'the SDK rejects the revoked token',
        async () => ((await sdk.validate(pair.accessToken)) === null ? true : undefined),
        1_000,
        2,
      );
      const stale = await replica.query(
        'select 1 from pgauth.validate($1)',
        [pair.accessToken],
        fleet.db,
      );
      assert.equal(stale.length, 1, 'the replica has not replayed the revocation yet');
      assert.ok(ms < 1_000);
      const fresh = await sdk.login('r_f', 'a long enough passphrase');
      assert.ok(await sdk.validate(fresh.accessToken), 'younger than the replica, still valid');
    } finally {
      await setDelay('0');
      await sdk.close();
    }
  });

  test('a gateway on the standby: writes are 503 with Retry-After (never 500), validation works, /readyz is 503', async () => {
    const { token } = await loginOver(strict, 'r_e');
    await replicaKnows(token);
    const onStandby = await startGateway(replica.url(fleet.db), [...QUIET, '--no-migrate']);
    try {
      const login = await http(onStandby.url, 'POST', '/v1/login', {
        json: { username: 'r_e', password: 'a long enough passphrase' },
      });
      assert.equal(login.status, 503, JSON.stringify(login.body));
      assert.equal(login.body.error, 'unavailable');
      assert.ok(Number(login.headers.get('retry-after')) >= 1);
      const logout = await http(onStandby.url, 'POST', '/v1/logout', { token });
      assert.equal(logout.status, 503);
      assert.equal((await http(onStandby.url, 'GET', '/v1/session', { token })).status, 200);
      const ready = await http(onStandby.url, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(String(ready.body.message), /read-only/);
      assert.doesNotMatch(onStandby.stdout(), /"level":50/, 'no error-level line: no 500');
    } finally {
      await onStandby.stop();
    }
  });
});
