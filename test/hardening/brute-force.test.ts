// timing-sensitive: lockout and rate-limit windows
/**
 * SECURITY.md 8 and 9 over HTTP, with client IPs simulated through X-Forwarded-For (trust proxy):
 * the account lockout seen from the gateway (a real, short lock window instead of a shifted
 * clock), and the per-IP throttle that keeps lockout from becoming a denial of service.
 *
 * Already covered elsewhere, not repeated: the counter, the doubling and the clock-shifted window
 * at the SQL level (test/sql/login-lockout.test.ts), and the basic 429 of each limit
 * (test/http/ops.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RATE_LIMITS } from '../../packages/pgauth/src/config.ts';
import { withSettings } from '../helpers/sql.ts';
import {
  call,
  createUser,
  isErrorBody,
  PASSWORD,
  type Reply,
  startApp,
  type TestApp,
  useApp,
} from '../http/helpers.ts';

const WRONG = 'not the right passphrase';
const MAX_FAILED = 10;
/** The shipped login budget of one IP per window (src/config.ts). */
const PER_IP = DEFAULT_RATE_LIMITS.loginPerIp;
/** What PER_IP + 10 attempts from one client get with the shipped limits. */
const PAST_BUDGET = [...Array(PER_IP).fill(401), ...Array(10).fill(429)];

/** High limits (startApp's), behind a trusted proxy. */
const a = useApp({ trustProxy: true });

function from(ip: string): { 'x-forwarded-for': string } {
  return { 'x-forwarded-for': ip };
}

function loginFrom(app: TestApp, ip: string, username: string, password: string): Promise<Reply> {
  return call(app, 'POST', '/v1/login', { json: { username, password }, headers: from(ip) });
}

/** PER_IP + 10 wrong logins through `app`, the i-th from `ipOf(i)` as user `bf-<label>-<i>`. */
async function spray(app: TestApp, label: string, ipOf: (i: number) => string): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < PER_IP + 10; i++) {
    replies.push(await loginFrom(app, ipOf(i), `bf-${label}-${i}`, WRONG));
  }
  return replies;
}

async function userState(username: string) {
  const r = await a.t.db.query<{
    failed_logins: number;
    locked: boolean;
    lock_count: number;
    lock_reason: string | null;
  }>(
    `select failed_logins, coalesce(locked_until > pgauth.clock(), false) as locked, lock_count,
       lock_reason
     from pgauth.users where username = $1`,
    [username],
  );
  return r.rows[0] as NonNullable<(typeof r.rows)[0]>;
}

async function failuresFrom(ip: string): Promise<number> {
  const r = await a.t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.audit_log
     where event = 'login_failure' and client_ip = $1::inet`,
    [ip],
  );
  return r.rows[0]?.n ?? -1;
}

function isRateLimited(r: Reply, windowSeconds: number): boolean {
  const retry = r.headers.get('retry-after') ?? '';
  return (
    r.status === 429 &&
    isErrorBody(r, 'rate_limited') &&
    /^\d+$/.test(retry) &&
    Number(retry) >= 1 &&
    Number(retry) <= windowSeconds
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('max_failed_logins wrong passwords over HTTP lock the account: the right password then gets the same 401, the live session stays, and after the lock window the owner logs in', async () => {
  await withSettings(a.t.db, { lockout_seconds: 3 }, async () => {
    await createUser(a, 'bf-victim');
    const owner = '198.51.100.10';
    const held = (await loginFrom(a, owner, 'bf-victim', PASSWORD)).json;
    assert.ok(held?.access_token);
    const texts = new Set<string>();
    for (let i = 0; i < MAX_FAILED; i++) {
      const r = await loginFrom(a, '203.0.113.5', 'bf-victim', WRONG);
      assert.equal(r.status, 401);
      texts.add(r.text);
    }
    const s = await userState('bf-victim');
    assert.deepEqual(s, {
      failed_logins: MAX_FAILED,
      locked: true,
      lock_count: 1,
      lock_reason: 'too_many_failures',
    });
    // The owner, with the right password, from another IP: the generic answer, audited as locked.
    const refused = await loginFrom(a, owner, 'bf-victim', PASSWORD);
    assert.equal(refused.status, 401);
    texts.add(refused.text);
    assert.equal(texts.size, 1, 'the lock answers like a wrong password');
    const reason = await a.t.db.query<{ reason: string }>(
      `select detail->>'reason' as reason from pgauth.audit_log
       where event = 'login_failure' and client_ip = $1::inet order by id desc limit 1`,
      [owner],
    );
    assert.equal(reason.rows[0]?.reason, 'locked', 'refused because locked, not for time');
    // The automatic lockout does not log the owner out (README: otherwise it would be a DoS).
    assert.equal((await call(a, 'GET', '/v1/session', { token: held.access_token })).status, 200);
    // Wait out the real window, as read from the database.
    const left = await a.t.db.query<{ ms: number }>(
      `select ceil(extract(epoch from locked_until - pgauth.clock()) * 1000)::int as ms
       from pgauth.users where username = 'bf-victim'`,
    );
    const ms = left.rows[0]?.ms ?? 0;
    assert.ok(ms > 0 && ms <= 3000, `lock left: ${ms} ms`);
    await sleep(ms + 250);
    const back = await loginFrom(a, owner, 'bf-victim', PASSWORD);
    assert.equal(back.status, 200, back.text);
    const reset = await userState('bf-victim');
    assert.deepEqual([reset.failed_logins, reset.locked, reset.lock_count], [0, false, 0]);
  });
});

test('40 parallel wrong passwords over HTTP with max_failed_logins 30: forty 401s, one lock, the counter at exactly 30 and all forty audited', async () => {
  await withSettings(a.t.db, { max_failed_logins: 30 }, async () => {
    await createUser(a, 'bf-parallel');
    // 40 fits the gateway's hashing bound (5 at once + 40 waiting with the default pool of 10).
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        loginFrom(a, `203.0.113.${100 + i}`, 'bf-parallel', WRONG),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(40).fill(401),
    );
    assert.equal(new Set(replies.map((r) => r.text)).size, 1);
    const s = await userState('bf-parallel');
    // Attempts that find the account locked are refused without counting (migration 0009).
    assert.equal(s.failed_logins, 30, 'no failure lost up to the lock');
    assert.equal(s.lock_count, 1, 'locked exactly once');
    const reasons = await a.t.db.query<{ reason: string; n: number }>(
      `select a.detail->>'reason' as reason, count(*)::int as n
       from pgauth.audit_log a join pgauth.users u on u.id = a.user_id
       where u.username = 'bf-parallel' and a.event = 'login_failure' group by 1 order by 1`,
    );
    assert.deepEqual(reasons.rows, [
      { reason: 'bad_password', n: 30 },
      { reason: 'locked', n: 10 },
    ]);
    const lockouts = await a.t.db.query<{ n: number }>(
      `select count(*)::int as n from pgauth.audit_log a join pgauth.users u on u.id = a.user_id
       where u.username = 'bf-parallel' and a.event = 'lockout'`,
    );
    assert.equal(lockouts.rows[0]?.n, 1);
  });
});

test('one IP spraying many usernames gets 429 rate_limited with Retry-After past loginPerIp; the refused attempts never reach the database; another IP is unaffected', async () => {
  const b = await startApp({ trustProxy: true, rateLimit: DEFAULT_RATE_LIMITS }, a.t);
  try {
    await createUser(a, 'bf-spray-real');
    const attacker = '203.0.113.66';
    const replies = await spray(b, 'spray', () => attacker);
    assert.deepEqual(
      replies.map((r) => r.status),
      PAST_BUDGET,
    );
    for (const r of replies.filter((x) => x.status === 429)) {
      assert.ok(isRateLimited(r, 60), `${r.headers.get('retry-after')}`);
    }
    assert.equal(await failuresFrom(attacker), PER_IP, 'a 429 costs no hash and writes nothing');
    // Another client is not throttled by the attacker's budget, for a right or a wrong password.
    const other = '198.51.100.77';
    assert.equal((await loginFrom(b, other, 'bf-spray-real', PASSWORD)).status, 200);
    assert.equal((await loginFrom(b, other, 'bf-spray-0', WRONG)).status, 401);
    // The attacker still is, whatever the username.
    assert.equal((await loginFrom(b, attacker, 'bf-spray-real', PASSWORD)).status, 429);
  } finally {
    await b.close();
  }
});

test('lockout is no denial of service: one IP with the shipped limits locks at most loginPerIp / max_failed_logins accounts per window; the rest, and their owners, are untouched', async () => {
  const b = await startApp({ trustProxy: true, rateLimit: DEFAULT_RATE_LIMITS }, a.t);
  try {
    const names = Array.from({ length: 10 }, (_, i) => `bf-dos-${i}`);
    for (const n of names) await createUser(a, n);
    const attacker = '203.0.113.99';
    const statuses: number[] = [];
    // Ten wrong passwords per account, account after account: what it takes to lock each.
    for (const n of names) {
      for (let k = 0; k < MAX_FAILED; k++) {
        statuses.push((await loginFrom(b, attacker, n, WRONG)).status);
      }
    }
    const lockable = PER_IP / MAX_FAILED;
    assert.deepEqual(statuses, [
      ...Array(PER_IP).fill(401),
      ...Array(names.length * MAX_FAILED - PER_IP).fill(429),
    ]);
    const states = [];
    for (const n of names) states.push(await userState(n));
    assert.deepEqual(
      states.map((s) => s.locked),
      names.map((_, i) => i < lockable),
      'only the first loginPerIp / max_failed_logins accounts are locked',
    );
    assert.deepEqual(
      states.slice(lockable).map((s) => s.failed_logins),
      Array(names.length - lockable).fill(0),
      'the throttled attempts did not count against the other accounts',
    );
    // Their owners, from their own IPs, log in as usual.
    for (const [i, n] of names.slice(lockable).entries()) {
      const r = await loginFrom(b, `198.51.100.${120 + i}`, n, PASSWORD);
      assert.equal(r.status, 200, `${n}: ${r.text}`);
    }
  } finally {
    await b.close();
  }
});

test('the per-IP throttle is temporary: after Retry-After seconds the same IP is served again', async () => {
  const b = await startApp(
    { trustProxy: true, rateLimit: { ...DEFAULT_RATE_LIMITS, windowMs: 2000, loginPerIp: 3 } },
    a.t,
  );
  try {
    const ip = '203.0.113.150';
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await loginFrom(b, ip, 'bf-temp', WRONG)).status);
    const r = await loginFrom(b, ip, 'bf-temp', WRONG);
    assert.deepEqual(statuses, [401, 401, 401]);
    assert.ok(isRateLimited(r, 2), `${r.status} ${r.headers.get('retry-after')}`);
    await sleep(Number(r.headers.get('retry-after')) * 1000 + 100);
    assert.equal((await loginFrom(b, ip, 'bf-temp', WRONG)).status, 401);
  } finally {
    await b.close();
  }
});

test('addresses of one IPv6 /64 (one client) share one per-IP budget', {}, async () => {
  const b = await startApp({ trustProxy: true, rateLimit: DEFAULT_RATE_LIMITS }, a.t);
  try {
    const replies = await spray(b, 'v6', (i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
    assert.deepEqual(
      replies.map((r) => r.status),
      PAST_BUDGET,
    );
  } finally {
    await b.close();
  }
});
