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

type Answer = { result?: unknown; error?: string };

/** Forks this module in `mode` (gc exposed, for mitata), stopped after the scenario (it dies with
 * ctx.signal). One request at a time: each is answered by the next message. */
export async function forkChild(ctx: RunContext, mode: string, start: object) {
  const [execArgv, signal] = [['--import', 'tsx', '--expose-gc'], ctx.signal];
  const child = fork(new URL(import.meta.url), [mode], { execArgv, signal, stdio: 'inherit' });
  const stop = () => void (child.connected && child.disconnect());
  ctx.defer(stop);
  const exited = once(child, 'exit').then(([code]) => Promise.reject(new Error(`${code}`)));
  exited.catch(() => {});
  // A request sent before the child listens waits for it: node keeps it until then.
  const ask = async <T>(cmd: string, data = {}, ms = 30_000): Promise<T> => {
    const answer = once(child, 'message', { signal: AbortSignal.timeout(ms) });
    child.send({ ...data, cmd });
    const [{ result, error }] = (await Promise.race([answer, exited])) as [Answer];
    if (error) throw new Error(`${mode}: ${error}`);
    return result as T;
  };
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
}

const mode = process.send ? process.argv[2] : undefined; // forked, with an IPC channel
/** The SDK caches keep their entries for the whole run (the default maxAgeMs is 60 s). */
export const MAX_AGE_MS = 600_000;
/** An SQL-mode client, with its cache unless `bare`. */
const clientOf = (m: Message, bare = false): AuthClient => {
  const cache = bare ? undefined : { maxAgeMs: MAX_AGE_MS };
  return createAuthClient({ databaseUrl: m.databaseUrl as string, poolSize: 2, cache });
};
let sdk: AuthClient | undefined;
let listen: pg.Client | undefined;
const close = () => Promise.all([sdk?.close(), listen?.end()]);

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
  // One round of mitata (callsPerSecond): the same call on both sides, `validate` aside. Then
  // every token must still answer a session, from a cache still live and full: every call was a
  // hit, where a miss would be a database round trip.
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
  let armed: { key: string; size?: number; met(evicted?: boolean): void } | undefined;
  let seen: Promise<{ at: number; evicted?: boolean }> | undefined;
  const arm = (key: string, size?: number) => {
    seen = new Promise((resolve) => {
      armed = { key, size, met: (evicted) => resolve({ at: stamp(), evicted }) };
    });
  };
  const start = async (m: Message) => {
    sdk = clientOf(m);
    const cache = sdk.cache as NonNullable<AuthClient['cache']>;
    cache.onEvict((ids) => {
      if (armed?.size && ids.includes(armed.key)) armed.met(cache.size === armed.size - 1);
    });
    await cache.ready(10_000);
    listen = new pg.Client({ connectionString: m.databaseUrl as string });
    await listen.connect();
    listen.on('notification', (n) => {
      if (n.channel === m.channel && !armed?.size && n.payload === armed?.key) armed?.met();
    });
    await listen.query(`listen ${pg.escapeIdentifier(m.channel as string)}`);
  };
  // A NOTIFY is watched for by its payload; a logout's token must be validated and cached here
  // (the cache grows by one) before it is revoked.
  const watch = async (m: Message) => {
    if (!m.token) return arm(m.payload as string);
    const [c, size] = [sdk as AuthClient, sdk?.cache?.size as number];
    const session = await c.validate(m.token as string);
    if (!session || c.cache?.size !== size + 1) throw new Error('a live token was not cached');
    arm(session.sessionId, size + 1);
  };
  serve({ start, clock: stamp, watch, seen: () => seen }, close);
}
