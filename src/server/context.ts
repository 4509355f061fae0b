/**
 * What every route gets: the database calls (each one `pgauth.*` function), the metrics, and the
 * transport helpers (Bearer extraction, client IP, a bound on concurrent password hashing).
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Database, Row } from '../db/types.ts';
import { AuthError } from '../errors.ts';
import type { Metrics } from './metrics.ts';

export interface ValidSession {
  user_id: string;
  session_id: string;
  username: string;
  roles: string[];
  expires_at: Date;
}

export interface Gateway {
  db: Database;
  metrics: Metrics;
  /** Runs one query, counted as a database call in flight. */
  query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `fn` (a call that hashes a password) within the hashing concurrency bound. */
  hashing<T>(fn: () => Promise<T>): Promise<T>;
  /** pgauth.validate of the request's Bearer token; throws invalid_token when it is not valid. */
  authenticate(request: FastifyRequest): Promise<ValidSession>;
  /** As authenticate, and throws forbidden unless the session holds `role`. */
  authorize(request: FastifyRequest, role: string): Promise<ValidSession>;
}

/** The longest token accepted in an Authorization header or a body; real ones have 47 characters. */
export const MAX_TOKEN_LENGTH = 512;

/** The Bearer token of a request, or null when there is none (or it is malformed). */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  const token = m?.[1];
  return token && token.length <= MAX_TOKEN_LENGTH ? token : null;
}

/** The client IP as PostgreSQL inet accepts it, or null. */
export function clientIp(request: FastifyRequest): string | null {
  const ip = request.ip;
  return typeof ip === 'string' && isIP(ip) ? ip : null;
}

export function userAgent(request: FastifyRequest): string | null {
  const ua = request.headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, 512) : null;
}

/** Seconds from now until `at`, never negative. */
export function secondsUntil(at: Date | string): number {
  const t = at instanceof Date ? at.getTime() : Date.parse(at);
  return Math.max(0, Math.floor((t - Date.now()) / 1000));
}

/**
 * A counting semaphore with a bounded queue: a login flood waits for a free slot up to `queue`
 * deep, and beyond that is refused at once with 503, so that hashing never takes the whole pool
 * and validations keep flowing.
 */
function semaphore(slots: number, queue: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let busy = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (busy >= slots) {
      if (waiting.length >= queue) throw new AuthError('unavailable');
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      busy++;
    }
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else busy--;
    }
  };
}

export function createGateway(db: Database, metrics: Metrics, hashConcurrency: number): Gateway {
  const query = async <R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> => {
    metrics.dbInFlight.inc();
    try {
      return (await db.query<R>(sql, params)).rows;
    } finally {
      metrics.dbInFlight.dec();
    }
  };
  const authenticate = async (request: FastifyRequest): Promise<ValidSession> => {
    const token = bearerToken(request);
    const rows = token
      ? await query<Row & ValidSession>(
          'select user_id::text, session_id::text, username, roles, expires_at from pgauth.validate($1)',
          [token],
        )
      : [];
    const session = rows[0];
    metrics.validations.inc({ outcome: session ? 'valid' : 'invalid' });
    if (!session) throw new AuthError('invalid_token');
    return session;
  };
  return {
    db,
    metrics,
    query,
    hashing: semaphore(hashConcurrency, hashConcurrency * 8),
    authenticate,
    async authorize(request, role) {
      const session = await authenticate(request);
      if (!session.roles.includes(role)) throw new AuthError('forbidden');
      return session;
    },
  };
}
