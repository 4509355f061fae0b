/**
 * Rate limits of the routes that hash a password or mint tokens: per client IP (password spraying,
 * mass registration) and per username (guessing against one account), with @fastify/rate-limit's
 * limiter and store. Two limits on one route need two limiters, so the plugin is registered
 * without a global limit and its limiters are called from hooks; an exceeded limit is 429
 * `rate_limited` with Retry-After.
 */
import rateLimit from '@fastify/rate-limit';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import type { RateLimitConfig } from '../config.ts';
import { AuthError } from '../errors.ts';

export type KeyOf = (request: FastifyRequest) => string | null;

export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/**
 * A hook that counts the request under `key` and refuses it beyond `max` per window. A null key
 * (no username in a malformed body: the schema refuses it anyway) is not counted.
 */
export function limit(
  app: FastifyInstance,
  name: string,
  max: number,
  windowMs: number,
  key: KeyOf,
  onLimited?: (request: FastifyRequest) => void,
): preHandlerAsyncHookHandler {
  const limiter = app.createRateLimit({
    max,
    timeWindow: windowMs,
    keyGenerator: (request) => `${name}:${key(request) ?? ''}`,
  });
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (key(request) === null) return;
    const r = await limiter(request);
    if (r.isAllowed || !r.isExceeded) return;
    reply.header('retry-after', String(Math.max(1, r.ttlInSeconds)));
    onLimited?.(request);
    throw new AuthError('rate_limited');
  };
}

export const byIp: KeyOf = (request) => request.ip ?? 'unknown';

/** The username of the body, case-folded as pgauth compares usernames. */
export const byUsername: KeyOf = (request) => {
  const body = request.body as { username?: unknown } | undefined;
  return typeof body?.username === 'string' ? body.username.toLowerCase() : null;
};

export type { RateLimitConfig };
