/**
 * Two gateways on one database (both through PgBouncer) enforce one login budget, as one gateway
 * would: the counts are in PostgreSQL (pgauth.throttle, migration 0011), per client network and
 * per username folded as pgauth.users folds it. Validation writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type GatewayProcess, startGateway } from '../helpers/cluster.ts';
import { createUser, type Fleet, http, loginOver, skipTopology, startFleet } from './fleet.ts';

const WRONG = 'not the right passphrase';

describe('two gateways share the login limits', { skip: skipTopology }, () => {
  let fleet: Fleet;
  let gateways: GatewayProcess[] = [];

  before(async () => {
    fleet = await startFleet();
    await createUser(fleet.primary, fleet.db, 'Shared_User');
    await createUser(fleet.primary, fleet.db, 'reader');
    const flags = [
      '--log-level',
      'warn',
      '--listen-url',
      fleet.direct,
      '--trust-proxy',
      'true',
      '--login-rate-user',
      '4',
      '--login-rate-ip',
      '6',
    ];
    gateways = await Promise.all([
      startGateway(fleet.pooled, flags),
      startGateway(fleet.pooled, flags),
    ]);
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await fleet?.close();
  });

  const attempt = (n: number, username: string, ip: string) =>
    http((gateways[n % 2] as GatewayProcess).url, 'POST', '/v1/login', {
      json: { username, password: WRONG },
      ip,
    });

  test('per username: 4 attempts across two gateways, then 429 on either, whatever the case of the name', async () => {
    const statuses: number[] = [];
    const names = ['Shared_User', 'shared_user', 'SHARED_USER', 'shared_USER', 'Shared_user'];
    for (const [i, name] of names.entries()) {
      // A new network each time: only the username's budget is spent.
      statuses.push((await attempt(i, name, `192.0.2.${10 + i}`)).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
    const other = await attempt(1, 'shared_user', '192.0.2.99');
    assert.equal(other.status, 429, 'the other gateway refuses too');
    assert.ok(Number(other.headers.get('retry-after')) >= 1);
  });

  test('per network: 6 attempts across two gateways, then 429 on either', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await attempt(i, `nobody_${i}`, '198.51.100.50')).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
  });

  test('validation writes nothing: the counts do not move while tokens are validated', async () => {
    const { token } = await loginOver(gateways[0] as GatewayProcess, 'reader');
    const before = await fleet.primary.query<{ n: string; hits: string }>(
      'select count(*)::text as n, coalesce(sum(hits), 0)::text as hits from pgauth.rate_limits',
      [],
      fleet.db,
    );
    for (let i = 0; i < 20; i++) {
      const r = await http((gateways[i % 2] as GatewayProcess).url, 'GET', '/v1/session', {
        token,
      });
      assert.equal(r.status, 200);
    }
    const after = await fleet.primary.query<{ n: string; hits: string }>(
      'select count(*)::text as n, coalesce(sum(hits), 0)::text as hits from pgauth.rate_limits',
      [],
      fleet.db,
    );
    assert.deepEqual(after, before);
  });
});
