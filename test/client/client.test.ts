/**
 * The SDK (`pgauth/client`) against a real database, in both modes: SQL on the engine under test,
 * HTTP against the gateway on it. Same methods, same answers, same AuthError codes; the cache
 * serves what is valid and lets go of what a revocation event names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type AuthClient,
  AuthError,
  cacheKey,
  createAuthClient,
  type Session,
  type TokenPair,
} from '@pgauth/client';
import { postgresOnly, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { createUser, PASSWORD, startApp, type TestApp } from '../http/helpers.ts';

/** Waits (up to 2 s) for what a revocation event must bring about. */
function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<boolean> {
  return waitFor(what, check, 2_000, 10);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected an AuthError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

let app: TestApp;
let t: TestDatabase;

before(async () => {
  app = await startApp({ revocationHeartbeatMs: 200 });
  t = app.t;
});
after(async () => {
  await app.close();
});

/** A new user logged in through `client` and validated once: the only session in its cache. */
async function cachedSession(client: AuthClient, username: string): Promise<TokenPair> {
  await createUser(app, username);
  const pair = await client.login(username, PASSWORD);
  assert.ok(await client.validate(pair.accessToken));
  assert.equal(client.cache?.size, 1);
  return pair;
}

/** The same contract, run once per mode. */
for (const mode of ['sql', 'http'] as const) {
  describe(`${mode} mode`, () => {
    let client: AuthClient;
    before(() => {
      client =
        mode === 'sql'
          ? createAuthClient({ database: t.db })
          : createAuthClient({ baseUrl: app.url });
    });
    after(() => client.close());

    test('login, validate, refresh, logout', async () => {
      const id = await createUser(app, `${mode}_cycle`, ['reader']);
      const pair = await client.login(`${mode}_cycle`, PASSWORD);
      assert.equal(pair.tokenType, 'Bearer');
      assert.equal(pair.userId, id);
      assert.ok(pair.expiresIn > 0 && pair.refreshExpiresIn > pair.expiresIn);
      const s = (await client.validate(pair.accessToken)) as Session;
      assert.equal(s.userId, id);
      assert.equal(s.username, `${mode}_cycle`);
      assert.equal(s.sessionId, pair.sessionId);
      assert.deepEqual(s.roles, ['reader']);
      assert.ok(s.expiresAt instanceof Date && s.expiresAt.getTime() > Date.now());

      const next = await client.refresh(pair.refreshToken);
      assert.equal(next.sessionId, pair.sessionId);
      assert.notEqual(next.accessToken, pair.accessToken);
      assert.equal(await client.validate(pair.accessToken), null, 'the rotated token is dead');
      assert.equal((await client.validate(next.accessToken))?.userId, id);

      await client.logout(next.accessToken);
      assert.equal(await client.validate(next.accessToken), null);
      await client.logout(next.accessToken); // already ended: no error
    });

    test('failures throw AuthError with the registry code', async () => {
      await createUser(app, `${mode}_fail`);
      await rejectsWith(client.login(`${mode}_fail`, 'wrong password here'), 'invalid_credentials');
      await rejectsWith(client.login(`${mode}_nobody`, PASSWORD), 'invalid_credentials');
      await rejectsWith(client.refresh('pgr_not_a_real_token'), 'invalid_token');
      await rejectsWith(client.refresh(''), 'invalid_token');
      await rejectsWith(
        client.changePassword('pga_nope', PASSWORD, 'another long one'),
        'invalid_token',
      );
      const pair = await client.login(`${mode}_fail`, PASSWORD);
      await rejectsWith(
        client.changePassword(pair.accessToken, 'not the password', 'another long passphrase'),
        'invalid_credentials',
      );
      await rejectsWith(
        client.changePassword(pair.accessToken, PASSWORD, 'short'),
        'password_too_short',
      );
    });

    test('tokens that cannot be pgauth tokens are not valid, without an error', async () => {
      for (const bad of ['', 'x'.repeat(600), "' or 1=1 --", 'tok\u0000en', 'tök']) {
        assert.equal(await client.validate(bad), null, JSON.stringify(bad));
      }
    });

    test('changePassword revokes every session of the user', async () => {
      await createUser(app, `${mode}_pw`);
      const a = await client.login(`${mode}_pw`, PASSWORD);
      const b = await client.login(`${mode}_pw`, PASSWORD);
      await client.changePassword(a.accessToken, PASSWORD, 'a brand new passphrase');
      assert.equal(await client.validate(a.accessToken), null);
      assert.equal(await client.validate(b.accessToken), null);
      await client.login(`${mode}_pw`, 'a brand new passphrase');
    });
  });
}

describe('cache, SQL mode', () => {
  let client: AuthClient;
  before(async () => {
    client = createAuthClient({ database: t.db, cache: { maxAgeMs: 60_000 } });
    await client.cache?.ready(5_000);
  });
  after(() => client.close());

  test('a valid session is served from memory until an event names it', async () => {
    const pair = await cachedSession(client, 'cache_sql');
    const evicted: string[][] = [];
    const off = client.cache?.onEvict((ids) => evicted.push([...ids]));
    await t.db.query('select pgauth.logout($1)', [pair.accessToken]);
    await eventually('the eviction of the session', () =>
      evicted.some((ids) => ids.includes(pair.sessionId)),
    );
    off?.();
    assert.equal(await client.validate(pair.accessToken), null);
  });

  test('revoking every session of a user evicts each of them', async () => {
    const id = await createUser(app, 'cache_sql_all');
    const pairs = await Promise.all([1, 2, 3].map(() => client.login('cache_sql_all', PASSWORD)));
    for (const p of pairs) assert.ok(await client.validate(p.accessToken));
    await t.db.query('select pgauth.revoke_user_sessions($1)', [id]);
    await eventually('every session to be refused', async () => {
      for (const p of pairs) if (await client.validate(p.accessToken)) return false;
      return true;
    });
  });

  test('its own logout is not served from memory even before the event', async () => {
    await createUser(app, 'cache_sql_own');
    const pair = await client.login('cache_sql_own', PASSWORD);
    assert.ok(await client.validate(pair.accessToken));
    await client.logout(pair.accessToken);
    assert.equal(await client.validate(pair.accessToken), null);
  });
});

describe('cache, HTTP mode over GET /v1/revocations', () => {
  let client: AuthClient;
  let serviceToken: string;
  before(async () => {
    await createUser(app, 'svc_introspect', ['introspect']);
    serviceToken = (await createAuthClient({ baseUrl: app.url }).login('svc_introspect', PASSWORD))
      .accessToken;
    client = createAuthClient({ baseUrl: app.url, cache: {}, serviceToken });
    await client.cache?.ready(5_000);
  });
  after(() => client.close());

  test('a cached session is evicted when the gateway relays its revocation', async () => {
    const pair = await cachedSession(client, 'cache_http');
    await t.db.query('select pgauth.logout($1)', [pair.accessToken]);
    await eventually(
      'the relayed revocation',
      async () => (await client.validate(pair.accessToken)) === null,
    );
  });

  test('the stream needs the introspect role', async () => {
    const none = await fetch(`${app.url}/v1/revocations`);
    assert.equal(none.status, 401);
    await createUser(app, 'no_introspect');
    const plain = await createAuthClient({ baseUrl: app.url }).login('no_introspect', PASSWORD);
    const r = await fetch(`${app.url}/v1/revocations`, {
      headers: { authorization: `Bearer ${plain.accessToken}` },
    });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error, 'forbidden');
  });

  test('the stream sends ready, revocation events and heartbeats', async () => {
    await createUser(app, 'stream_watch');
    const victim = await createAuthClient({ baseUrl: app.url }).login('stream_watch', PASSWORD);
    const controller = new AbortController();
    const r = await fetch(`${app.url}/v1/revocations`, {
      headers: { authorization: `Bearer ${serviceToken}` },
      signal: controller.signal,
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) assert.fail(`stream ended before ${re}: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await until(/event: ready\ndata: \{"heartbeat_ms":200,"probe_ms":1500\}\n\n/);
    await t.db.query('select pgauth.logout($1)', [victim.accessToken]);
    await until(/event: revocation\ndata: \{[^\n]*\}\n\n/);
    const data = JSON.parse(/event: revocation\ndata: (\{[^\n]*\})/.exec(text)?.[1] ?? '{}');
    assert.deepEqual(data, { keys: [cacheKey(victim.accessToken)] });
    await until(/: ping\n\n/);
    controller.abort();
  });

  test('an HTTP client with a cache but no service token is refused at creation', () => {
    assert.throws(() => createAuthClient({ baseUrl: app.url, cache: true }), /serviceToken/);
  });
});

describe('the gateway cache', () => {
  test('GET /v1/session and /v1/auth/check stop accepting a token once it is revoked', async () => {
    await createUser(app, 'gw_cache');
    const pair = await createAuthClient({ baseUrl: app.url }).login('gw_cache', PASSWORD);
    const get = (path: string) =>
      fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${pair.accessToken}` } });
    assert.equal((await get('/v1/session')).status, 200);
    assert.equal((await get('/v1/auth/check')).status, 200);
    await t.db.query('select pgauth.logout($1)', [pair.accessToken]);
    await eventually(
      'both routes to refuse the token',
      async () =>
        (await get('/v1/session')).status === 401 && (await get('/v1/auth/check')).status === 401,
    );
  });

  test('with cache: false the gateway asks the database every time', async () => {
    const plain = await startApp({ cache: false }, t);
    try {
      await createUser(plain, 'gw_nocache');
      const pair = await createAuthClient({ baseUrl: plain.url }).login('gw_nocache', PASSWORD);
      const get = () =>
        fetch(`${plain.url}/v1/session`, {
          headers: { authorization: `Bearer ${pair.accessToken}` },
        });
      assert.equal((await get()).status, 200);
      await t.db.query('select pgauth.logout($1)', [pair.accessToken]);
      assert.equal((await get()).status, 401, 'answered at once, no event needed');
    } finally {
      await plain.close();
    }
  });
});

describe('subscription loss', { skip: postgresOnly }, () => {
  test('a killed LISTEN connection empties the cache, and the client re-subscribes', async () => {
    const url = t.url as string;
    const client = createAuthClient({ databaseUrl: url, cache: {} });
    const admin = t.connect({ max: 1 });
    try {
      await client.cache?.ready(5_000);
      const pair = await cachedSession(client, 'loss_user');
      const killed = await admin.query<{ n: number }>(
        `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = 'pgauth-client:listen') k`,
      );
      assert.equal(killed.rows[0]?.n, 1);
      await eventually('the loss of the subscription', () => client.cache?.subscribed === false);
      assert.equal(client.cache?.size, 0, 'emptied on loss');
      // Revoked during the outage: never accepted, before or after the re-subscription.
      await admin.query('select pgauth.logout($1)', [pair.accessToken]);
      assert.equal(await client.validate(pair.accessToken), null);
      await client.cache?.ready(5_000);
      assert.equal(await client.validate(pair.accessToken), null);
      // The new subscription delivers events.
      const again = await client.login('loss_user', PASSWORD);
      assert.ok(await client.validate(again.accessToken));
      await admin.query('select pgauth.logout($1)', [again.accessToken]);
      await eventually(
        'the event of the new subscription',
        async () => (await client.validate(again.accessToken)) === null,
      );
    } finally {
      await client.close();
      await admin.close();
    }
  });

  test('an unreachable database is AuthError unavailable, never a session', async () => {
    const client = createAuthClient({
      databaseUrl: 'postgres://postgres@127.0.0.1:1/nothing',
      cache: {},
    });
    try {
      await rejectsWith(client.validate('pga_whatever_token_value'), 'unavailable');
      await rejectsWith(client.login('someone', PASSWORD), 'unavailable');
      assert.equal(client.cache?.subscribed, false);
    } finally {
      await client.close();
    }
  });
});

test('createAuthClient needs exactly one of databaseUrl, database or baseUrl', () => {
  assert.throws(() => createAuthClient({}), /exactly one/);
  assert.throws(
    () => createAuthClient({ baseUrl: 'http://127.0.0.1:1', databaseUrl: 'postgres://x/y' }),
    /exactly one/,
  );
  assert.throws(() => createAuthClient({ baseUrl: 'ftp://example.com' }), /http or https/);
});

test('concurrent validations share round trips (validate_many) and each gets its own answer', async () => {
  const client = createAuthClient({ database: t.db });
  try {
    const users = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const id = await createUser(app, `batch_${i}`);
        return { id, pair: await client.login(`batch_${i}`, PASSWORD) };
      }),
    );
    await client.logout(users[2]?.pair.accessToken as string);
    const asks = Array.from({ length: 60 }, (_, i) => {
      const u = users[i % 3];
      return i % 4 === 3
        ? { token: `pga_garbage_${i}`, want: null }
        : {
            token: u?.pair.accessToken as string,
            want: i % 3 === 2 ? null : (u?.id as string),
          };
    });
    const answers = await Promise.all(asks.map((a) => client.validate(a.token)));
    assert.deepEqual(
      answers.map((s) => s?.userId ?? null),
      asks.map((a) => a.want),
    );
  } finally {
    await client.close();
  }
});
