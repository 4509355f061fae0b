/** The processes of scenario `sdk`, one per side so that each has a heap and JIT state of its own
 * and one function at its measured call site: `cached` (an SDK client whose cache holds every
 * token), `map` (the same sessions behind an async Map.get, the baseline), `listener` (an SDK
 * cache and a bare LISTEN connection, that see revocations). Driven over IPC by `forkChild`. */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { createAuthClient } from '../packages/client/src/index.ts';
import type { AuthClient, Session } from '../packages/client/src/types.ts';
import { callsPerSecond, type RunContext } from './lib/measure.ts';

/** A time two processes read alike: the wall clock at process start plus a monotonic clock,
 * which NTP slews alike in both; on one machine they agree unless the clock is stepped. */
export const stamp = (): number => performance.timeOrigin + performance.now();

export type Child = { ask<T>(cmd: string, data?: object, ms?: number): Promise<T>; stop(): void };
type Answer = { result?: unknown; error?: string };

/** Forks this module in `mode` (gc exposed, for mitata), stopped after the scenario (it dies with
 * ctx.signal), and starts it with `start`. One request at a time: each is answered by the next
 * message. */
export async function forkChild(ctx: RunContext, mode: string, start: object): Promise<Child> {
  const [execArgv, signal] = [['--import', 'tsx', '--expose-gc'], ctx.signal];
  const child = fork(new URL(import.meta.url), [mode], { execArgv, signal, stdio: 'inherit' });
  const stop = () => void (child.connected && child.disconnect());
  ctx.defer(stop);
  const exited = once(child, 'exit').then(([code]) => Promise.reject(new Error(`${code}`)));
  exited.catch(() => {});
  const next = (ms: number) => {
    const message = once(child, 'message', { signal: AbortSignal.timeout(ms) });
    return Promise.race([message as Promise<[Answer]>, exited]);
  };
  const ask = async <T>(cmd: string, data = {}, ms = 30_000): Promise<T> => {
    const answer = next(ms);
    child.send({ ...data, cmd });
    const [{ result, error }] = await answer;
    if (error) throw new Error(`${mode}: ${error}`);
    return result as T;
  };
  await next(30_000); // it says it is ready
  await ask('start', start);
  return { ask, stop };
}

type Message = Record<string, unknown>;

/** The child's side: answers each request with its handler; on disconnect, closes and exits. */
function serve(handlers: Record<string, (m: Message) => unknown>, close: () => Promise<unknown>) {
  process.on('message', async (m: Message) => {
    try {
      process.send?.({ result: await handlers[m.cmd as string]?.(m) });
    } catch (err) {
      process.send?.({ error: err instanceof Error ? err.stack : `${err}` });
    }
  });
  process.once('disconnect', () => void close().finally(() => process.exit(0)));
  process.send?.({});
}

const mode = process.send ? process.argv[2] : undefined; // forked, with an IPC channel
/** An SQL-mode client, with its cache unless `bare`. */
const clientOf = (m: Message, bare = false): AuthClient => {
  const cache = bare ? undefined : { maxAgeMs: m.maxAgeMs as number };
  return createAuthClient({ databaseUrl: m.databaseUrl as string, poolSize: 2, cache });
};
let sdk: AuthClient | undefined;
let listen: pg.Client | undefined;
const close = async () => {
  await sdk?.close();
  await listen?.end();
};

if (mode === 'cached' || mode === 'map') {
  let validate: (token: string) => Promise<Session | null> = async () => null;
  let tokens: string[] = [];
  const start = async (m: Message) => {
    tokens = m.tokens as string[];
    const c = clientOf(m, mode === 'map');
    await c.cache?.ready(10_000);
    const map = new Map<string, Session>();
    for (const t of tokens) map.set(t, (await c.validate(t)) as Session);
    if (mode === 'cached') [sdk, validate] = [c, c.validate];
    else validate = async (t) => map.get(t) ?? null;
    if (mode === 'map') await c.close();
  };
  // One round: the same call on both sides, `validate` aside; mitata awaits it in batches of
  // thousands, so that reading the clock weighs nothing on calls of ~100 ns. Then every token
  // must still answer a session, from a cache still live and full: every call was a hit, where
  // a miss would be a database round trip.
  const loop = async (m: Message) => {
    let i = 0;
    const call = () => validate(tokens[i++ % tokens.length] as string);
    const rate = await callsPerSecond(call, m.seconds as number);
    let nulls = 0;
    for (const t of tokens) if ((await validate(t)) === null) nulls++;
    const [subscribed, size] = [sdk?.cache?.subscribed, sdk?.cache?.size];
    const full = !nulls && subscribed !== false && (size ?? tokens.length) === tokens.length;
    if (!full)
      throw new Error(`the cache was not live and full: ${JSON.stringify({ nulls, size })}`);
    return rate;
  };
  serve({ start, loop }, close);
} else if (mode === 'listener') {
  // The sample under way: the session id whose eviction (the cache then one entry smaller than
  // `size`) or the NOTIFY payload that `seen` waits for, and the time it was met.
  let watch: { key: string; size?: number; met(evicted?: boolean): void } | undefined;
  let seen: Promise<{ at: number; evicted?: boolean }> | undefined;
  const arm = (key: string, size?: number) => {
    seen = new Promise((resolve) => {
      watch = { key, size, met: (evicted) => resolve({ at: stamp(), evicted }) };
    });
  };
  const start = async (m: Message) => {
    sdk = clientOf(m);
    const cache = sdk.cache as NonNullable<AuthClient['cache']>;
    cache.onEvict((ids) => {
      if (watch?.size && ids.includes(watch.key)) watch.met(cache.size === watch.size - 1);
    });
    await cache.ready(10_000);
    listen = new pg.Client({ connectionString: m.databaseUrl as string });
    await listen.connect();
    listen.on('notification', (n) => {
      if (n.channel === m.channel && !watch?.size && n.payload === watch?.key) watch?.met();
    });
    await listen.query(`listen ${pg.escapeIdentifier(m.channel as string)}`);
  };
  // The token must be validated and cached here (the cache grows by one) before its logout.
  const watchSession = async (m: Message) => {
    const [c, size] = [sdk as AuthClient, sdk?.cache?.size as number];
    const session = await c.validate(m.token as string);
    if (!session || c.cache?.size !== size + 1) throw new Error('a live token was not cached');
    arm(session.sessionId, size + 1);
  };
  const watchNotify = (m: Message) => arm(m.payload as string);
  serve({ start, clock: stamp, watchSession, watchNotify, seen: () => seen }, close);
}
