/** Scenario `sdk`: cached validations a second of the SDK (≥ 500,000/s); revocation propagation,
 * logout committed here and eviction seen in another process (p99 < 50 ms); GET /v1/session on
 * the gateway with its cache (≥ 0.80) and without (≥ 0.30) vs bare node:http. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import * as http from './lib/http.ts';
import * as m from './lib/measure.ts';
import { createDatabase, loginSessions } from './lib/pg.ts';
import { forkChild, MAX_AGE_MS, stamp } from './sdk-child.ts';

export const description = `SDK cached validate/s, revocation propagation, gateway GET /v1/session with its cache`;
/** The baseline's channel: not pgauth's, so that no pgauth listener hears it. */
const CHANNEL = 'pgauth_bench_notify';
const SDK = 'SDK client.validate(token) answered by its cache, 1000 primed tokens, one process';
const SDK_LOOP = `await client.validate(tokens[i]) (createAuthClient({ databaseUrl, cache: { maxAgeMs: ${MAX_AGE_MS} } }))`;
const MAP_LOOP = 'await (async (t) => map.get(t) ?? null)(tokens[i])';
const MAP = 'absolute target 500000/s (measured baseline, async Map.get: see settings)';
const LOGOUT = `pgauth.logout committed in this process → eviction seen by the SDK cache (SQL mode) in another, p99 of a round`;
const LOGOUT_LOOP = `process A: select pgauth.logout($1) on its own connection; process B: createAuthClient({ databaseUrl, cache: true }), client.cache.onEvict`;
const NOTIFY = 'absolute target 50 ms (measured baseline, pg_notify → bare LISTEN: see settings)';
const NOTIFY_LOOP = `process A: select pg_notify('${CHANNEL}', $1); process B: a pg.Client with LISTEN ${CHANNEL}`;
const CACHED = `pgauth serve (validation cache on, the default), GET /v1/session, a Bearer token per request out of 1000`;
const PLAIN = `pgauth serve --no-cache (pgauth.validate on every request), GET /v1/session, a Bearer token per request out of 1000`;
const BARE = 'node:http server answering a constant JSON body';
const NAMES = {
  validate: 'cached validate/s, target 500,000',
  logout: 'revocation seen, p99 ms (ratio 50/p99)',
  cache: 'GET /v1/session, cache, vs bare',
  plain: 'GET /v1/session, --no-cache, vs bare',
};
type Sample = { delayMs: number; viaParentMs: number };

export async function run(ctx: m.RunContext) {
  const rounds = ctx.rounds;
  const [samples, warmSamples] = ctx.quick ? [100, 10] : [1000, 50];
  const perRound = Math.ceil(samples / rounds);
  const b = await createDatabase(ctx, 'sdk');
  // 1,000 sessions that every measure validates and nobody revokes, then one for each sample
  // of the revocation side (in SQL, bcrypt cost 4, 10 users with role member).
  const count = 1000 + perRound * rounds + warmSamples;
  const all = await loginSessions(b.db, count, 'bench_sdk_', 10);
  const [tokens, doomed] = [all.slice(0, 1000), all.slice(1000)];
  await b.db.exec('vacuum analyze');
  await b.db.exec('checkpoint');
  // 1. Each side a process of its own (sdk-child.ts says why).
  const { seconds, warmup: warm } = m.timing(ctx, 3, 1, 1, 0.5);
  const loopSide = async (mode: string, label: string, loop: string) => {
    const child = await forkChild(ctx, mode, { databaseUrl: b.url, tokens });
    const run = (s: number) => () => child.ask<number>('loop', { seconds: s }, s * 1000 + 60_000);
    const command = `mitata measure: ${loop}, i cycling over 1000 tokens, ${seconds} s`;
    return { label, warm: run(warm), run: run(seconds), command, stop: child.stop };
  };
  const vsMap = ([sdk = [], map = []]: number[][]): m.Settings => {
    const { median: mid, spreadPct: pct } = m.summarize(map);
    const mapGet = { mapGetMedianPerSecond: Math.round(mid), mapGetSpreadPct: m.round(pct) };
    return { ...mapGet, ...m.ratioSettings(sdk, map, 'ratioToMapGet') };
  };
  const settings = { tokens: 1000, secondsPerRound: seconds, warmupSeconds: warm, rounds };
  const loops = [
    await loopSide('cached', 'SDK client.validate, cached', SDK_LOOP),
    await loopSide('map', 'async Map.get', MAP_LOOP),
  ];
  await m.measureGroup(ctx, {
    unit: '/s',
    sides: loops,
    rows: [[NAMES.validate, [0, SDK], [1, MAP], 1, vsMap, { value: 500_000 }]],
    settings: { ...settings, targetPerSecond: 500_000 },
  });
  for (const side of loops) side.stop();
  // 2. Process A (this one) commits on a connection of its own; process B (listener) watches.
  const listener = await forkChild(ctx, 'listener', { databaseUrl: b.url, channel: CHANNEL });
  const revoker = new pg.Client({ connectionString: b.url });
  await revoker.connect();
  ctx.defer(() => revoker.end());
  // B's clock minus A's, from the ping with the shortest round trip.
  let clock = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 50; i++) {
    const t0 = stamp();
    const at = await listener.ask<number>('clock');
    const t1 = stamp();
    if (t1 - t0 < clock.rttMs) clock = { offsetMs: at - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  const clockOffsetUs = Math.round(clock.offsetMs * 1000);
  ctx.log(`clock of the listener − ours: ${clockOffsetUs} µs, ping ${clock.rttMs.toFixed(3)} ms`);
  if (Math.abs(clockOffsetUs) > 1000) ctx.log('warning: the clocks differ by over 1 ms');
  let next = 0;
  // B caches the token (or watches for a payload); A commits a logout (or a bare pg_notify of
  // the size of a logout event); the sample is B's time of the eviction − A's of the commit.
  const sample = async (logout: boolean): Promise<Sample> => {
    const token = logout ? doomed[next++] : undefined;
    // The size of a pgauth logout notice: one cache key, unique.
    const payload = JSON.stringify({ keys: [randomBytes(8).toString('hex')] });
    await listener.ask('watch', { token, payload });
    // An eviction not seen within 10 s is lost: an error, not a slow sample.
    const seen = listener.ask<{ at: number; evicted?: boolean }>('seen', {}, 10_000);
    const r = logout
      ? await revoker.query('select pgauth.logout($1) as ok', [token])
      : await revoker.query('select pg_notify($1, $2) as ok', [CHANNEL, payload]);
    const committed = stamp();
    const got = await seen;
    if (logout && !(r.rows[0]?.ok && got.evicted)) throw new Error('a logout evicted nothing');
    return { delayMs: got.at - committed, viaParentMs: stamp() - committed };
  };
  const taken: Sample[][] = [[], []];
  const p = (side: number, pct: number, k: keyof Sample = 'delayMs') => {
    const values = (taken[side] as Sample[]).map((x) => x[k]);
    return m.round(m.percentile(values, pct), 3);
  };
  const seriesSide = (side: number, label: string, command: string) => {
    const series = (n: number, keep: boolean) => async () => {
      const xs: Sample[] = [];
      for (let i = 0; i < n; i++) xs.push(await sample(side === 0));
      if (keep) taken[side]?.push(...xs);
      const delays = xs.map((x) => x.delayMs);
      return m.percentile(delays, 99);
    };
    return { label, command, warm: series(warmSamples, false), run: series(perRound, true) };
  };
  const figures = (values: number[][]): m.Settings => {
    const [p50Ms = 0, p99Ms = 0, maxMs = 0, minMs = 0] = [50, 99, 100, 0].map((x) => p(0, x));
    const [bareP50Ms, bareP99Ms] = [p(1, 50), p(1, 99)];
    const [viaParentP99Ms = 0, bareViaParentP99Ms = 0] = [0, 1].map((x) => p(x, 99, 'viaParentMs'));
    const bareRoundP99MedianMs = m.round(m.median(values[1] as number[]), 3);
    const all = { samples: (taken[0] as Sample[]).length, p50Ms, p99Ms, maxMs, minMs };
    const bare = { bareP50Ms, bareP99Ms, viaParentP99Ms, bareViaParentP99Ms };
    return { ...all, ...bare, bareRoundP99MedianMs, clockOffsetUs };
  };
  await m.measureGroup(ctx, {
    unit: 'ms',
    sides: [
      seriesSide(0, 'logout → SDK cache evicted', LOGOUT_LOOP),
      seriesSide(1, 'pg_notify → bare LISTEN', NOTIFY_LOOP),
    ],
    rows: [[NAMES.logout, [0, LOGOUT], [1, NOTIFY], 1, figures, { value: 50, lower: true }]],
    settings: { samplesPerRound: perRound, rounds, warmupSamples: warmSamples, targetP99Ms: 50 },
  });
  listener.stop();
  // 3. GET /v1/session with and without the gateway's cache.
  const { seconds: s, warmup, runs } = m.timing(ctx, 8, 3);
  const load = http.sessionLoad(ctx, b.url, tokens, { connections: 20, seconds: s, warmup });
  await m.measureGroup(ctx, {
    unit: 'req/s',
    sides: [await load.gateway(true), await load.gateway(false), await load.bare()],
    rows: [
      [NAMES.cache, [0, CACHED], [2, BARE], 0.8, { gatewayRssTargetMiB: 100 }],
      [NAMES.plain, [1, PLAIN], [2, `${BARE} (the same rounds)`], 0.3],
    ],
    settings: { connections: 20, ...runs, tokens: 1000 },
  });
}
