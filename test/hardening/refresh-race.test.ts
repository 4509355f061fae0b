/**
 * SECURITY.md 13, 14 and 15 over HTTP: one refresh token sent by 20 clients at the same instant
 * (Ory Hydra's stress test), then the grace window and reuse detection seen through the gateway.
 *
 * The barrier: 20 keep-alive sockets are connected first; 20 POST /v1/refresh requests are then
 * started on them with their headers sent and their bodies held back; once the gateway's server
 * has parsed all 20 headers (its 'request' events), the 20 bodies are written in one synchronous
 * loop, so that the gateway receives the 20 complete requests together.
 *
 * Design (0004): within refresh_reuse_grace every call presenting the token just rotated gets the
 * very pair of the first call. So a race yields exactly one new pair: every 200 carries it, any
 * other answer may only be 401, never 5xx. test/sql/refresh.test.ts covers the same over SQL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, type IncomingMessage, request } from 'node:http';
import { after, before, test } from 'node:test';
import { openConnections, waitForLockWaiters } from '../helpers/barriers.ts';
import { postgresOnly } from '../helpers/db.ts';
import { withClock, withSettings } from '../helpers/sql.ts';
import { openRevocationStream } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  call,
  createSession,
  createUser,
  login,
  type Reply,
  startApp,
  type TestApp,
} from '../http/helpers.ts';

const RACERS = 20;

let a: TestApp;
let agent: Agent;
/** Local ports of the pre-connected sockets: the race must run on these, not on new ones. */
const warmPorts = new Set<number>();

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  json: any;
  port: number;
}

function send(method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${a.url}${path}`, { method, agent }, (res) => collect(res, resolve));
    req.on('error', reject);
    req.end(body);
  });
}

function collect(res: IncomingMessage, resolve: (a: Answer) => void): void {
  let text = '';
  const port = res.socket?.localPort ?? 0;
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    text += d;
  });
  res.on('end', () => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    resolve({ status: res.statusCode ?? 0, json, port });
  });
}

before(async () => {
  a = await startApp();
  agent = new Agent({ keepAlive: true, maxSockets: RACERS });
  // RACERS requests at once open RACERS sockets, which the agent keeps.
  const warm = await Promise.all(Array.from({ length: RACERS }, () => send('GET', '/healthz')));
  for (const w of warm) warmPorts.add(w.port);
  assert.equal(warmPorts.size, RACERS);
  if (a.t.engine === 'postgres') {
    // Open the app's pool connections too, so that no racer waits for a connection to be made.
    await openConnections(a.t.db, RACERS);
  }
});
after(async () => {
  agent.destroy();
  await a.close();
});

/** Resolves once the gateway has parsed the headers of `n` more requests for `path`. */
function headersArrived(n: number, path: string): Promise<void> {
  const server = a.app.server;
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      server.off('request', onRequest);
      reject(new Error(`the gateway parsed only ${seen} of ${n} requests for ${path}`));
    }, 20_000);
    function onRequest(req: IncomingMessage): void {
      if (req.url !== path || ++seen < n) return;
      clearTimeout(timer);
      server.off('request', onRequest);
      resolve();
    }
    server.on('request', onRequest);
  });
}

/**
 * Starts RACERS POST /v1/refresh with `token`, their bodies held back; calls `released` once they
 * have all been written, and resolves with every answer.
 */
async function race(token: string, released?: () => Promise<void>): Promise<Answer[]> {
  const body = JSON.stringify({ refresh_token: token });
  const arrived = headersArrived(RACERS, '/v1/refresh');
  const answers: Promise<Answer>[] = [];
  const started: Promise<void>[] = [];
  const requests = Array.from({ length: RACERS }, () => {
    const req = request(`${a.url}/v1/refresh`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    answers.push(
      new Promise<Answer>((resolve, reject) => {
        req.on('response', (res) => collect(res, resolve));
        req.on('error', reject);
      }),
    );
    started.push(new Promise<void>((resolve) => req.on('socket', () => resolve())));
    req.flushHeaders();
    return req;
  });
  await Promise.all(started);
  // Every request is in the gateway, waiting for its body: send all the bodies at once.
  await arrived;
  for (const req of requests) req.end(body);
  await released?.();
  const all = await Promise.all(answers);
  for (const x of all) assert.ok(warmPorts.has(x.port), `a racer used a new socket (${x.port})`);
  return all;
}

const pairOf = (x: Answer): string => `${x.json?.access_token} ${x.json?.refresh_token}`;

async function sessionState(id: string) {
  const r = await a.t.db.query<{ generation: number; revoked: string | null }>(
    `select refresh_generation as generation, revoked_reason as revoked
     from pgauth.sessions where id = $1`,
    [id],
  );
  return r.rows[0];
}

async function refreshEvents(id: string): Promise<string[]> {
  const r = await a.t.db.query<{ e: string }>(
    `select event || coalesce(':' || (detail->>'grace_retry'), '') as e
     from pgauth.audit_log where session_id = $1 and event like 'refresh%' order by id`,
    [id],
  );
  return r.rows.map((x) => x.e);
}

/** Whether GET /v1/session refuses `token` within `ms` (the cache may answer until evicted). */
async function refusedWithin(token: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if ((await call(a, 'GET', '/v1/session', { token })).status === 401) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function status(r: Reply): number {
  return r.status;
}

test('20 concurrent POST /v1/refresh of one token: no 5xx, one new pair carried by every 200, the old pair dead', async () => {
  const first = await createSession(a, 'race-user');
  // Valid, and now in the gateway's cache: the race must still kill it.
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: first.access_token })), 200);
  const answers = await race(first.refresh_token);
  const statuses = answers.map((x) => x.status);
  assert.deepEqual(
    statuses.filter((s) => s !== 200 && s !== 401),
    [],
    `unexpected statuses: ${statuses}`,
  );
  const ok = answers.filter((x) => x.status === 200);
  assert.ok(ok.length >= 1, 'at least one racer gets the new pair');
  assert.equal(new Set(ok.map(pairOf)).size, 1, 'every 200 carries the same pair');
  const fresh = ok[0]?.json;
  assert.equal(fresh.session_id, first.session_id);
  assert.notEqual(fresh.access_token, first.access_token);
  for (const x of answers.filter((y) => y.status === 401)) {
    assert.equal(x.json?.error, 'invalid_token');
  }
  // One rotation in the database; the other 200s were grace retries of it.
  assert.deepEqual(await sessionState(first.session_id), { generation: 1, revoked: null });
  assert.deepEqual(await refreshEvents(first.session_id), [
    'refresh',
    ...Array(ok.length - 1).fill('refresh:true'),
  ]);
  console.log(
    `[${a.t.engine}] race: ${ok.length} × 200 with one pair, ${RACERS - ok.length} × 401`,
  );
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: fresh.access_token })), 200);
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: first.access_token })), 401);
  const next = await call(a, 'POST', '/v1/refresh', {
    json: { refresh_token: fresh.refresh_token },
  });
  assert.equal(next.status, 200, 'the new refresh token rotates on');
});

test('20 concurrent refreshes queued on the session row (all 20 inside pgauth.refresh at once): all get the one pair', {
  skip: postgresOnly,
}, async () => {
  const first = await createSession(a, 'race-held');
  // A connection of its own holds the session row; the racers queue on it, then it commits.
  const holder = a.t.connect({ max: 1 });
  await holder.exec('begin');
  await holder.query('select 1 from pgauth.sessions where id = $1 for update', [first.session_id]);
  let answers: Answer[];
  try {
    answers = await race(first.refresh_token, async () => {
      // Proof of the overlap: all racers wait on the row at the same time.
      await waitForLockWaiters(a.t.db, RACERS, 'pgauth.refresh(');
      await holder.exec('commit');
    });
  } finally {
    await holder.exec('rollback').catch(() => {});
  }
  assert.deepEqual(
    answers.map((x) => x.status),
    Array(RACERS).fill(200),
  );
  assert.equal(new Set(answers.map(pairOf)).size, 1);
  assert.deepEqual(await sessionState(first.session_id), { generation: 1, revoked: null });
  const fresh = answers[0]?.json;
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: fresh.access_token })), 200);
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: first.access_token })), 401);
});

test('the grace window over HTTP: a late retry gets the same pair; after the window the old token is refused and the whole family revoked', async () => {
  const first = await createSession(a, 'race-reuse');
  const answers = await race(first.refresh_token);
  const fresh = answers.find((x) => x.status === 200)?.json;
  assert.ok(fresh);
  // A client whose answer was lost retries 5 s later (grace 10 s; the margin covers the real
  // time the race itself took on a loaded machine): the same pair.
  await withClock(a.t.db, '5 seconds', async () => {
    const retry = await call(a, 'POST', '/v1/refresh', {
      json: { refresh_token: first.refresh_token },
    });
    assert.equal(retry.status, 200);
    assert.equal(
      `${retry.json.access_token} ${retry.json.refresh_token}`,
      `${fresh.access_token} ${fresh.refresh_token}`,
    );
  });
  // The new access token is valid (and cached by the gateway).
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: fresh.access_token })), 200);
  await withClock(a.t.db, '11 seconds', async () => {
    const reuse = await call(a, 'POST', '/v1/refresh', {
      json: { refresh_token: first.refresh_token },
    });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.json.error, 'invalid_token');
    // The family is dead: both tokens of the pair the race handed out. The database says so at
    // once; the gateway's cache learns it from the revocation event (the last test below).
    const valid = await a.t.db.query('select * from pgauth.validate($1)', [fresh.access_token]);
    assert.equal(valid.rows.length, 0);
    assert.equal(await refusedWithin(fresh.access_token, 2000), true);
    const again = await call(a, 'POST', '/v1/refresh', {
      json: { refresh_token: fresh.refresh_token },
    });
    assert.equal(again.status, 401);
  });
  assert.deepEqual(await sessionState(first.session_id), {
    generation: 1,
    revoked: 'refresh_reuse',
  });
  const events = await refreshEvents(first.session_id);
  assert.equal(events.filter((e) => e === 'refresh_reuse').length, 1, events.join(','));
  assert.equal(events.filter((e) => e === 'refresh').length, 1, events.join(','));
});

test('with refresh_reuse_grace 0, exactly one of 20 concurrent refreshes succeeds, the others are 401, none 5xx (and the reuse ends the session)', async () => {
  const first = await createSession(a, 'race-nograce');
  const answers = await withSettings(a.t.db, { refresh_reuse_grace: '0' }, () =>
    race(first.refresh_token),
  );
  const statuses = answers.map((x) => x.status).sort();
  assert.deepEqual(statuses, [200, ...Array(RACERS - 1).fill(401)]);
  // Without a grace window a concurrent duplicate is indistinguishable from a thief: the session
  // is revoked, as documented (README: with grace 0 an immediate retry is reuse).
  assert.deepEqual(await sessionState(first.session_id), {
    generation: 1,
    revoked: 'refresh_reuse',
  });
  const winner = answers.find((x) => x.status === 200)?.json;
  assert.equal(status(await call(a, 'GET', '/v1/session', { token: winner.access_token })), 401);
});

test('a refresh reuse detected through the gateway leaves its cache with the revocation event: once a notification sent after the 401 has reached the gateway, the revoked access token is refused', async () => {
  await createUser(a, 'race-cache-watcher', ['introspect']);
  const watcher = await login(a, 'race-cache-watcher');
  const stream = await waitFor(
    'the revocation stream of the gateway',
    async () => (await openRevocationStream(a.url, watcher.access_token)) ?? undefined,
    10_000,
  );
  try {
    // The cache serves: a token validated below is answered from memory until an event evicts it.
    await waitFor(
      'the validation cache to serve',
      async () => /^pgauth_cache_enabled 1$/m.test((await call(a, 'GET', '/metrics')).text),
      10_000,
    );
    await withSettings(a.t.db, { refresh_reuse_grace: '0' }, async () => {
      for (let i = 0; i < 5; i++) {
        await createUser(a, `race-cache-${i}`);
        const first = await login(a, `race-cache-${i}`);
        const next = await call(a, 'POST', '/v1/refresh', {
          json: { refresh_token: first.refresh_token },
        });
        assert.equal(next.status, 200);
        // The thief's access token, validated (and cached) by this gateway.
        assert.equal(
          status(await call(a, 'GET', '/v1/session', { token: next.json.access_token })),
          200,
        );
        const reuse = await call(a, 'POST', '/v1/refresh', {
          json: { refresh_token: first.refresh_token },
        });
        assert.equal(reuse.status, 401);
        // The barrier: a notification sent after the 401 (a key that names no token), seen
        // coming back on the gateway's stream. PostgreSQL delivers notifications in commit
        // order, and the reuse committed its revocation before the 401 was sent, so the
        // gateway's LISTEN heard the revocation first, and its cache applied it first.
        const marker = `marker-${randomBytes(6).toString('hex')}`;
        await a.t.db.query('select pg_notify($1, $2)', [
          'pgauth_revocations',
          JSON.stringify({ keys: [marker] }),
        ]);
        await stream.next(
          0,
          (e) =>
            e.event === 'revocation' && Array.isArray(e.data.keys) && e.data.keys.includes(marker),
        );
        const after = await call(a, 'GET', '/v1/session', { token: next.json.access_token });
        assert.equal(after.status, 401, `round ${i}: the revoked access token still validated`);
      }
    });
  } finally {
    stream.close();
  }
});
