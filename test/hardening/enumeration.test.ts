// timing-sensitive: equal median timings of the login failure kinds
/**
 * SECURITY.md 6 and 7, at a realistic bcrypt cost: an unknown user, a wrong password, a locked and
 * a disabled account cannot be told apart, neither by the bytes of the gateway's answer nor by
 * its time, over HTTP (POST /v1/login) and over SQL (pgauth.login).
 *
 * test/http/account.test.ts already compares the four 401 bodies, content-type and
 * content-length at cost 4; here every header of the raw answer is compared (names, order and
 * values), more kinds of failure are added, and the timings are measured.
 *
 * Timing: bcrypt cost 7 (the settings allow 4 to 16; one hash then takes ~7 ms on an idle core of
 * the 2-core test machine and 15-20 ms when it is loaded, so that it dominates the noise of a
 * shared machine, where at cost 4 (~1-2 ms) a scheduler hiccup would swamp any difference). At
 * cost 8 this file took up to 85 s on PostgreSQL and 100 s on PGlite on the loaded machine, over
 * its 90 s budget. 200 attempts of each kind, interleaved in a fresh random order every round,
 * after a discarded warm-up. Each duration is also taken relative to the median of its round, so
 * that the machine's load, which the four attempts of a round share, cancels out; the medians of
 * those must lie within 10% of each other (and the raw medians within 25%: under load they drift
 * by up to ~8% with no cause in pgauth).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { engine, onPostgres } from '../helpers/db.ts';
import { withSettings } from '../helpers/sql.ts';
import { call, createUser, PASSWORD, startApp, type TestApp } from '../http/helpers.ts';

const COST = 7;
const ROUNDS = 200;
const WARMUP = 10;
/** Wrong-password attempts rotate over this many accounts, each stays far below any lockout. */
const WRONG_USERS = 10;
const WRONG = 'not the right passphrase';

/**
 * Headers that legitimately differ between two answers whatever they say: `x-request-id` is a
 * fresh UUID per request (log correlation; same length every time, checked below) and `date` is
 * the clock. Every other header must be identical, in the same order.
 */
const VARYING = new Set(['x-request-id', 'date']);

type Kind = 'unknown' | 'wrong' | 'locked' | 'disabled';
const KINDS: Kind[] = ['unknown', 'wrong', 'locked', 'disabled'];

let a: TestApp;
before(async () => {
  a = await startApp();
  // Users made after the cost is set carry hashes of that cost, like the dummy of an unknown user.
  await a.t.db.exec(`update pgauth.settings set bcrypt_cost = ${COST}, max_failed_logins = 100`);
  const locked = await createUser(a, 'enum-locked');
  await a.t.db.query('select pgauth.lock_user($1)', [locked]);
  // Disabling is a raw UPDATE of users.disabled_at (0002: the trigger revokes the sessions).
  await createUser(a, 'enum-disabled');
  await a.t.db.exec(`update pgauth.users set disabled_at = now() where username = 'enum-disabled'`);
  for (let i = 0; i < WRONG_USERS; i++) await createUser(a, `enum-wrong-${i}`);
  await createUser(a, 'enum-deleted');
  await a.t.db.exec(
    `select pgauth.delete_user(id) from pgauth.users where username = 'enum-deleted'`,
  );
});
after(() => a.close());

/** The credentials of one attempt of a kind; `i` spreads wrong passwords over several accounts. */
function attempt(kind: Kind, i: number): { username: string; password: string } {
  switch (kind) {
    case 'unknown':
      return { username: `enum-nobody-${i}`, password: PASSWORD };
    case 'wrong':
      return { username: `enum-wrong-${i % WRONG_USERS}`, password: WRONG };
    // Locked and disabled with the right password: even that must look like any failure.
    case 'locked':
      return { username: 'enum-locked', password: PASSWORD };
    case 'disabled':
      return { username: 'enum-disabled', password: PASSWORD };
  }
}

interface RawReply {
  status: number;
  /** [name, value] in the order they were sent, names lower-cased. */
  headers: [string, string][];
  body: Buffer;
}

/** POST /v1/login through node:http, to see the raw header list and the body bytes. */
function rawLogin(json: unknown): Promise<RawReply> {
  const body = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = request(
      `${a.url}/v1/login`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: [string, string][] = [];
          for (let k = 0; k < res.rawHeaders.length; k += 2) {
            headers.push([String(res.rawHeaders[k]).toLowerCase(), String(res.rawHeaders[k + 1])]);
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Timing {
  rounds: number;
  /** Median duration of each kind, in ms. */
  medians: Record<Kind, number>;
  /** The longest of those medians over the shortest. */
  ratio: number;
  /**
   * The same with every duration first divided by the median duration of its round: the load of
   * the machine, shared by the four attempts of a round, cancels out (a paired comparison).
   */
  paired: Record<Kind, number>;
  pairedRatio: number;
}

/**
 * Runs WARMUP + ROUNDS rounds; each round makes one attempt of every kind in a random order and
 * records its duration.
 */
async function timeKinds(
  one: (kind: Kind, i: number) => Promise<void>,
  rounds = ROUNDS,
): Promise<Timing> {
  const samples: Record<Kind, number[]> = { unknown: [], wrong: [], locked: [], disabled: [] };
  const relative: Record<Kind, number[]> = { unknown: [], wrong: [], locked: [], disabled: [] };
  for (let round = 0; round < WARMUP + rounds; round++) {
    const times = {} as Record<Kind, number>;
    for (const kind of shuffled(KINDS)) {
      const start = performance.now();
      await one(kind, round);
      times[kind] = performance.now() - start;
    }
    if (round < WARMUP) continue;
    const mid = median(Object.values(times));
    for (const k of KINDS) {
      samples[k].push(times[k]);
      relative[k].push(times[k] / mid);
    }
  }
  const medians = byKind((k) => median(samples[k]));
  const paired = byKind((k) => median(relative[k]));
  return { rounds, medians, ratio: spread(medians), paired, pairedRatio: spread(paired) };
}

function byKind(f: (k: Kind) => number): Record<Kind, number> {
  return Object.fromEntries(KINDS.map((k) => [k, f(k)])) as Record<Kind, number>;
}

function spread(r: Record<Kind, number>): number {
  const values = Object.values(r);
  return Math.max(...values) / Math.min(...values);
}

/**
 * The requirement (SECURITY.md 7): medians within 10%, on the round-relative durations, which
 * cancel the load a shared machine puts on all kinds alike. The raw medians, more exposed to that
 * load, must still lie within 25%.
 */
function assertSameTime(r: Timing): void {
  assert.ok(r.pairedRatio <= 1.1, `medians differ by more than 10%: ${JSON.stringify(r.paired)}`);
  assert.ok(r.ratio <= 1.25, `raw medians differ by more than 25%: ${JSON.stringify(r.medians)}`);
}

function report(label: string, r: Timing): void {
  const ms = KINDS.map((k) => `${k} ${r.medians[k].toFixed(2)} ms`).join(', ');
  console.log(
    `[${engine}] ${label} medians of ${r.rounds}: ${ms}; max/min ${r.ratio.toFixed(3)}, paired ${r.pairedRatio.toFixed(3)}`,
  );
}

test('POST /v1/login failures are byte-identical 401s: body and every header but x-request-id and date, in order', async () => {
  const attempts = [
    attempt('unknown', 0),
    attempt('wrong', 0),
    attempt('locked', 0),
    attempt('disabled', 0),
    // More failures that must look the same: wrong password on a locked or disabled account, a
    // deleted account, another case of a known name, the longest unknown name the schema allows.
    { username: 'enum-locked', password: WRONG },
    { username: 'enum-disabled', password: WRONG },
    { username: 'enum-deleted', password: PASSWORD },
    { username: 'ENUM-WRONG-1', password: WRONG },
    { username: 'u'.repeat(256), password: PASSWORD },
  ];
  const replies: RawReply[] = [];
  for (const json of attempts) replies.push(await rawLogin(json));
  const first = replies[0] as RawReply;
  assert.equal(first.status, 401);
  assert.deepEqual(JSON.parse(first.body.toString('utf8')), {
    error: 'invalid_credentials',
    message: 'Invalid credentials.',
  });
  const names = first.headers.map(([n]) => n);
  assert.ok(names.includes('x-request-id') && names.includes('date'), names.join(','));
  const fixed = (r: RawReply) => r.headers.filter(([n]) => !VARYING.has(n));
  for (const [i, r] of replies.entries()) {
    const what = JSON.stringify(attempts[i]).slice(0, 80);
    assert.equal(r.status, 401, what);
    assert.ok(r.body.equals(first.body), `body of ${what}: ${r.body.toString('utf8')}`);
    assert.deepEqual(
      r.headers.map(([n]) => n),
      names,
      `header names and order of ${what}`,
    );
    assert.deepEqual(fixed(r), fixed(first), `headers of ${what}`);
    const id = r.headers.find(([n]) => n === 'x-request-id')?.[1] ?? '';
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
  // The gateway does not hide the truth from the audit log (SECURITY.md 6).
  const reasons = await a.t.db.query<{ username: string | null; reason: string }>(
    `select u.username, a.detail->>'reason' as reason
     from pgauth.audit_log a left join pgauth.users u on u.id = a.user_id
     where a.event = 'login_failure' order by a.id`,
  );
  assert.deepEqual(
    reasons.rows.map((r) => r.reason),
    [
      'unknown_user',
      'bad_password',
      'locked',
      'disabled',
      'locked',
      'disabled',
      'unknown_user',
      'bad_password',
      'unknown_user',
    ],
  );
});

test('POST /v1/login: 200 interleaved attempts of each failure kind take the same median time (within 10%)', {
  timeout: 85_000,
}, async () => {
  const r = await timeKinds(async (kind, i) => {
    const reply = await call(a, 'POST', '/v1/login', { json: attempt(kind, i) });
    assert.equal(reply.status, 401, reply.text);
  });
  report(`HTTP POST /v1/login cost ${COST}`, r);
  // A hash must dominate: otherwise this test proves nothing about the dummy hash.
  assert.ok(r.medians.unknown > 3, `the median attempt took ${r.medians.unknown} ms`);
  assertSameTime(r);
});

test('pgauth.login: 200 interleaved attempts of each failure kind take the same median time (within 10%)', {
  timeout: 85_000,
}, async () => {
  const r = await timeKinds(async (kind, i) => {
    const { username, password } = attempt(kind, i);
    const rows = await a.t.db.query('select * from pgauth.login($1, $2)', [username, password]);
    assert.equal(rows.rows.length, 0);
  });
  report(`SQL pgauth.login cost ${COST}`, r);
  assert.ok(r.medians.unknown > 3, `the median attempt took ${r.medians.unknown} ms`);
  assertSameTime(r);
});

test('after bcrypt_cost is raised, an unknown user still costs what a known one does', {
  skip: onPostgres ? false : 'PostgreSQL only: the time budget of this file on PGlite',
  timeout: 60_000,
}, async () => {
  await withSettings(a.t.db, { bcrypt_cost: COST + 1 }, async () => {
    // Accounts hashed at COST, the dummy hash now at COST + 1: twice the time for an unknown user.
    const r = await timeKinds(async (kind, i) => {
      const { username, password } = attempt(kind, i);
      const rows = await a.t.db.query('select * from pgauth.login($1, $2)', [username, password]);
      assert.equal(rows.rows.length, 0);
    }, 100);
    report(`SQL pgauth.login, dummy at cost ${COST + 1}, accounts at ${COST}`, r);
    assertSameTime(r);
  });
});
