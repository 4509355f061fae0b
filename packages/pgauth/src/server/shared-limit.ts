/**
 * Rate limits kept in the database (pgauth.throttle, migration 0011), so that every gateway on
 * one database enforces one budget: two gateways allow what one allows. One statement per limited
 * request counts it under the client's network (rate-limit.ts byIp) and the username, which the
 * database folds as pgauth.users compares usernames. An exceeded limit is 429 `rate_limited` with
 * Retry-After, before anything is hashed.
 *
 * The per-process limiters of rate-limit.ts stay in front, with the same limits: they never refuse
 * what the shared count would allow (one gateway's share is at most the whole), and they refuse a
 * flood on one gateway in memory, without a round trip to a database busy hashing.
 */
import { AuthError } from '@pgauth/client/internal';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from './context.ts';
import { byIp } from './rate-limit.ts';

export interface SharedLimit {
  /** What is counted: login, register or refresh (the database keeps one budget per scope). */
  scope: 'login' | 'register' | 'refresh';
  /** Attempts per client network and window. */
  perIp: number;
  /** Attempts per username and window; the username is not counted without it. */
  perUser?: number;
  windowMs: number;
  onLimited?: (request: FastifyRequest) => void;
}

/**
 * Counts a request and throws `rate_limited` past a limit: as a preHandler hook (the body is
 * parsed: the username is known), or called by a handler where the count should wait for
 * something (a hashing slot) first.
 */
export function sharedLimit(
  gw: Gateway,
  limit: SharedLimit,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const body = request.body as { username?: unknown } | undefined;
    const username =
      limit.perUser !== undefined && typeof body?.username === 'string' ? body.username : undefined;
    const wait = await gw.ops.throttle(limit.scope, {
      ip: byIp(request) ?? undefined,
      ipMax: limit.perIp,
      username,
      userMax: limit.perUser,
      windowMs: limit.windowMs,
    });
    if (wait <= 0) return;
    reply.header('retry-after', String(wait));
    limit.onLimited?.(request);
    throw new AuthError('rate_limited');
  };
}
