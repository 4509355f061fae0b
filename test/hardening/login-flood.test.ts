// timing-sensitive on postgres: a validation latency bound under a login flood
/**
 * SECURITY.md 29: a login flood cannot starve validation. A real gateway process (`pgauth serve`
 * on PostgreSQL, the shipped pool of 10, hashing bound and statement timeout, validation cache
 * off so that every GET /v1/session reaches the database), bcrypt at a realistic cost, and the
 * per-IP and per-user login limits raised so that the flood reaches the hashing bound rather
 * than the rate limiter.
 *
 * Validation latency is measured from this process, 4 requests at a time, in rounds that
 * alternate an idle phase and a flood phase (200 wrong-password logins released at once from a
 * separate process); the p99 over every flood sample must stay within 3x the p99 over every idle
 * sample. The flood's excess must be refused fast (429 or 503, never a 5xx of another kind).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { type GatewayProcess, startGateway } from '../helpers/cluster.ts';
import { openTestDatabase, postgresOnly, type TestDatabase } from '../helpers/db.ts';
import { PASSWORD } from '../helpers/sql.ts';

/** bcrypt cost of the flood: SECURITY.md 4 asks at least 10 in production. */
const COST = 10;
const FLOOD = 200;
const ROUNDS = 3;
const IDLE_PER_ROUND = 700;
const CONCURRENCY = 4;
/**
 * Below this an idle p99 says more about the timer and the scheduler than about the gateway: the
 * bound is 3x max(idle p99, floor).
 */
const FLOOR_MS = 2;

/**
 * The flood, in a process of its own (so that its 200 sockets do not share this process's event
 * loop with the validation timings): plain Node, no TypeScript loader. It prints "ready", waits
 * for a line on stdin, sends FLOOD logins at once, and prints one JSON line with every outcome.
 */
const FLOOD_SCRIPT = `
import { createInterface } from 'node:readline';
const [url, n, username, password] = process.argv.slice(1);
const rl = createInterface({ input: process.stdin });
console.log('ready');
for await (const _ of rl) {
  const body = JSON.stringify({ username, password });
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: Number(n) }, async () => {
    const start = performance.now();
    try {
      const r = await fetch(url + '/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await r.text();
      return { status: r.status, ms: performance.now() - start, retryAfter: r.headers.get('retry-after'), text };
    } catch (err) {
      return { status: 0, ms: performance.now() - start, retryAfter: null, text: String(err.cause ?? err) };
    }
  }));
  console.log(JSON.stringify({ results, totalMs: performance.now() - t0 }));
}
`;

interface LoginOutcome {
  status: number;
  ms: number;
  retryAfter: string | null;
  text: string;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

let t: TestDatabase;
let gw: GatewayProcess;
let token = '';
before(async () => {
  if (postgresOnly) return;
  t = await openTestDatabase();
  await t.db.exec(`update pgauth.settings set bcrypt_cost = ${COST}`);
  await t.db.query('select pgauth.create_user($1, $2)', ['flood-reader', PASSWORD]);
  await t.db.query('select pgauth.create_user($1, $2)', ['flood-target', PASSWORD]);
  const r = await t.db.query<{ access_token: string }>(
    'select access_token from pgauth.login($1, $2)',
    ['flood-reader', PASSWORD],
  );
  token = r.rows[0]?.access_token ?? '';
  gw = await startGateway(t.url as string, [
    '--log-level',
    'warn',
    '--no-cache',
    '--login-rate-ip',
    '1000000',
    '--login-rate-user',
    '1000000',
  ]);
});
after(async () => {
  await gw?.stop();
  await t?.close();
});

/** One GET /v1/session; its duration in ms. */
async function validation(): Promise<number> {
  const start = performance.now();
  const r = await fetch(`${gw.url}/v1/session`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  const ms = performance.now() - start;
  assert.equal(r.status, 200, 'a validation failed');
  return ms;
}

/** CONCURRENCY loops of validations until `count` are done or `until` says stop. */
async function validations(count: number, until?: () => boolean): Promise<number[]> {
  const out: number[] = [];
  const loop = async (): Promise<void> => {
    while (until ? !until() : out.length < count) out.push(await validation());
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return out;
}

/** From the gateway's /metrics: how many POST /v1/login were refused (429, 503), and how fast. */
async function refusalTimes(): Promise<{
  total: number;
  within100ms: number;
  within250ms: number;
}> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const out = { total: 0, within100ms: 0, within250ms: 0 };
  const re =
    /^http_request_duration_seconds_bucket\{le="([^"]+)",route="\/v1\/login",method="POST",status="(429|503)"\} (\d+)$/gm;
  for (const m of text.matchAll(re)) {
    const n = Number(m[3]);
    if (m[1] === '+Inf') out.total += n;
    if (m[1] === '0.1') out.within100ms += n;
    if (m[1] === '0.25') out.within250ms += n;
  }
  return out;
}

test('200 concurrent wrong-password logins: validation p99 stays within 3x its idle p99, and the excess logins get a fast 429 or 503', {
  skip: postgresOnly,
  timeout: 85_000,
}, async () => {
  const flooder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      FLOOD_SCRIPT,
      gw.url,
      String(FLOOD),
      'flood-target',
      'not the right passphrase',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: flooder.stdout as NodeJS.ReadableStream });
  const next = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));
  try {
    assert.equal(await next(), 'ready');
    await validations(300); // warm-up: connections, JIT, plans
    const idle: number[] = [];
    const during: number[] = [];
    const logins: LoginOutcome[] = [];
    const floodMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      idle.push(...(await validations(IDLE_PER_ROUND)));
      let done = false;
      const answer = next().then((line) => {
        done = true;
        return JSON.parse(line) as { results: LoginOutcome[]; totalMs: number };
      });
      flooder.stdin?.write('go\n');
      during.push(...(await validations(0, () => done)));
      const { results, totalMs } = await answer;
      logins.push(...results);
      floodMs.push(totalMs);
    }
    const idleP99 = percentile(idle, 99);
    const duringP99 = percentile(during, 99);
    const bound = 3 * Math.max(idleP99, FLOOR_MS);
    const byStatus = new Map<number, LoginOutcome[]>();
    for (const l of logins) byStatus.set(l.status, [...(byStatus.get(l.status) ?? []), l]);
    const rejected = logins.filter((l) => l.status === 429 || l.status === 503);
    const served = logins.filter((l) => l.status === 401);
    const figures = {
      cost: COST,
      idle: { n: idle.length, p50: percentile(idle, 50), p99: idleP99 },
      during: { n: during.length, p50: percentile(during, 50), p99: duringP99 },
      bound,
      floodMs,
      statuses: Object.fromEntries([...byStatus].map(([s, xs]) => [s, xs.length])),
      rejectedMs: rejected.length
        ? {
            p50: percentile(
              rejected.map((l) => l.ms),
              50,
            ),
            p95: percentile(
              rejected.map((l) => l.ms),
              95,
            ),
            max: Math.max(...rejected.map((l) => l.ms)),
          }
        : null,
      servedMs: served.length
        ? {
            p50: percentile(
              served.map((l) => l.ms),
              50,
            ),
            max: Math.max(...served.map((l) => l.ms)),
          }
        : null,
    };
    console.log(
      `login flood: ${JSON.stringify(figures, (_k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}`,
    );

    // Every login answered: 401 (hashed), 429/503 (refused); no 500, no dropped connection.
    assert.deepEqual(
      [...byStatus.keys()].filter((s) => ![401, 429, 503].includes(s)),
      [],
      JSON.stringify(figures.statuses),
    );
    // The flood exceeded what the gateway hashes at once plus its queue: some were refused.
    assert.ok(rejected.length > 0, 'no login was refused: the flood did not exceed the bound');
    for (const r of rejected) {
      assert.ok(Number(r.retryAfter) >= 1, `a ${r.status} without Retry-After`);
      const error = JSON.parse(r.text).error;
      assert.ok(error === 'unavailable' || error === 'rate_limited', r.text);
    }
    // Refused fast, never after a hash: as the gateway itself timed them (its /metrics histogram,
    // from the request's arrival to its answer), at least 95% within 100 ms and all within 250 ms
    // (on an idle machine nearly all take under 1 ms), where a login that is hashed waits for at
    // least one cost-10 hash shared with 4 others on 2 cores (no 401 came in under 100 ms); as this
    // side saw them, with the 200 connections opened at once, sooner than the hashed ones.
    const server = await refusalTimes();
    console.log(`login flood: refusals as timed by the gateway: ${JSON.stringify(server)}`);
    assert.ok(server.total >= rejected.length, JSON.stringify(server));
    assert.ok(server.within100ms >= 0.95 * server.total, JSON.stringify(server));
    assert.equal(server.within250ms, server.total, JSON.stringify(server));
    assert.ok(figures.rejectedMs && figures.servedMs);
    assert.ok(
      figures.rejectedMs.p50 < figures.servedMs.p50,
      `refusals (p50 ${figures.rejectedMs.p50} ms) not faster than hashed logins (p50 ${figures.servedMs.p50} ms)`,
    );
    // The requirement.
    assert.ok(
      duringP99 <= bound,
      `validation p99 during the flood ${duringP99.toFixed(2)} ms > 3 x idle p99 (${idleP99.toFixed(2)} ms, floor ${FLOOR_MS})`,
    );
  } finally {
    flooder.kill();
  }
});
