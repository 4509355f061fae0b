/**
 * Rate limits of the routes that hash a password or mint tokens: per client IP (password spraying,
 * mass registration) and per username (guessing against one account), with @fastify/rate-limit's
 * limiter and store. Two limits on one route need two limiters, so the plugin is registered
 * without a global limit and its limiters are called from hooks; an exceeded limit is 429
 * `rate_limited` with Retry-After.
 */
import { isIP } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import { AuthError, type Queryable } from '@pgauth/client/internal';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import type { RateLimitConfig } from '../config.ts';
import { usernameKey } from './username-key.ts';

/** What a limit counts a request under; null: not counted. */
export type KeyOf = (request: FastifyRequest) => string | null | Promise<string | null>;

export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/**
 * A limiter: `max` requests per window under each key, with one count shared by every hook made
 * from it (so that two routes can spend one budget). Each hook counts the request under its
 * `key` and refuses it beyond `max`. A null key (no username in a malformed body: the schema
 * refuses it anyway) is not counted.
 */
export function limiter(
  app: FastifyInstance,
  name: string,
  max: number,
  windowMs: number,
): (key: KeyOf, onLimited?: (request: FastifyRequest) => void) => preHandlerAsyncHookHandler {
  // The key is worked out once per request (it may ask the database) and read back here.
  const keys = new WeakMap<FastifyRequest, string>();
  const counter = app.createRateLimit({
    max,
    timeWindow: windowMs,
    keyGenerator: (request) => `${name}:${keys.get(request) ?? ''}`,
  });
  return (key, onLimited) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const k = await key(request);
      if (k === null) return;
      keys.set(request, k);
      const r = await counter(request);
      if (r.isAllowed || !r.isExceeded) return;
      reply.header('retry-after', String(Math.max(1, r.ttlInSeconds)));
      onLimited?.(request);
      throw new AuthError('rate_limited');
    };
}

/** A hook of a limiter of its own (see limiter). */
export function limit(
  app: FastifyInstance,
  name: string,
  max: number,
  windowMs: number,
  key: KeyOf,
  onLimited?: (request: FastifyRequest) => void,
): preHandlerAsyncHookHandler {
  return limiter(app, name, max, windowMs)(key, onLimited);
}

/**
 * The client's network: an IPv4 address, or the /64 of an IPv6 one (one host usually holds a
 * whole /64, and would otherwise get a fresh budget per address). Also whom a hashing call is
 * queued for (hashing.ts).
 */
export function byIp(request: FastifyRequest): string {
  const ip = request.ip;
  if (typeof ip !== 'string') return 'unknown';
  if (isIP(ip) !== 6) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function ipv6Groups(ip: string): string[] {
  const [head = '', tail] = ip.toLowerCase().split('%')[0]?.split('::') ?? [''];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (a:b::1.2.3.4) is two groups.
  const last = right.length > 0 ? right : left;
  const v4 = last.at(-1)?.includes('.') ? last.pop()?.split('.').map(Number) : undefined;
  if (v4)
    last.push(
      ((v4[0] ?? 0) * 256 + (v4[1] ?? 0)).toString(16),
      ((v4[2] ?? 0) * 256 + (v4[3] ?? 0)).toString(16),
    );
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array(missing).fill('0'), ...right].map((g) =>
    Number.parseInt(g || '0', 16).toString(16),
  );
}

/** The username of the body, folded as the database compares usernames (username-key.ts). */
export function byUsername(db: Queryable): KeyOf {
  return (request) => {
    const body = request.body as { username?: unknown } | undefined;
    return typeof body?.username === 'string' ? usernameKey(db, body.username) : null;
  };
}

export type { RateLimitConfig };
