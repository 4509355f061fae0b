/**
 * What every route gets: the database calls (each one `pgauth.*` function), the metrics, and the
 * transport helpers (Bearer extraction, client IP, a bound on concurrent password hashing).
 */
import { isIP } from 'node:net';
import type { CacheOptions, Database, Row, Session } from '@pgauth/client/internal';
import {
  AuthError,
  databaseSource,
  isUnavailable,
  MAX_TOKEN_LENGTH,
  parseBearer,
  RevocationSubscription,
  SessionCache,
  secondsUntil,
  sqlOperations,
  withCache,
} from '@pgauth/client/internal';
import type { FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.ts';

export type { Session };
export { MAX_TOKEN_LENGTH, secondsUntil };

export interface GatewayOptions {
  /** Concurrent password-hashing calls before queueing. */
  hashConcurrency: number;
  /** Hashing calls that may wait for a slot; beyond them a call is refused at once (503). */
  hashQueue: number;
  /**
   * Subscribe to revocation events (LISTEN pgauth_revocations): needed by the cache and by
   * `GET /v1/revocations`. Off where the database cannot deliver them.
   */
  revocations: boolean;
  /** Cache validations of GET /v1/session and /v1/auth/check (needs `revocations`). */
  cache: CacheOptions | false;
  /** Told when the revocation subscription fails or drops (it retries by itself). */
  onSubscriptionError?: (err: Error) => void;
}

export interface Gateway {
  db: Database;
  metrics: Metrics;
  /** Runs one query, counted as a database call in flight. */
  query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `fn` (a call that hashes a password) within the hashing concurrency bound. */
  hashing<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * pgauth.validate of the request's Bearer token; throws invalid_token when it is not valid.
   * `cached`: may be answered from the revocation-aware cache (the forward-auth hot path).
   */
  authenticate(request: FastifyRequest, cached?: boolean): Promise<Session>;
  /** As authenticate (never cached), and throws forbidden unless the session holds `role`. */
  authorize(request: FastifyRequest, role: string): Promise<Session>;
  /** pgauth.validate of a token (never cached): the session, or null. */
  validate(token: string): Promise<Session | null>;
  /** The revocation feed, when the gateway subscribes to it. */
  revocations: RevocationSubscription | null;
  cache: SessionCache | null;
  /** Ends the subscription. */
  close(): Promise<void>;
}

/** The Bearer token of a request, or null when there is none (or it is malformed). */
export function bearerToken(request: FastifyRequest): string | null {
  return parseBearer(request.headers.authorization);
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

/**
 * A counting semaphore with a bounded queue: a login flood waits for a free slot up to `queue`
 * deep, and beyond that is refused at once with 503, so that hashing never takes the whole pool
 * and validations keep flowing.
 */
function semaphore(slots: number, queue: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let busy = 0;
  const waiting: { go(): void; fail(err: unknown): void }[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (busy >= slots) {
      if (waiting.length >= queue) throw new AuthError('unavailable');
      await new Promise<void>((go, fail) => waiting.push({ go, fail }));
    } else {
      busy++;
    }
    let unavailable = false;
    try {
      return await fn();
    } catch (err) {
      unavailable = isUnavailable(err) || (err instanceof AuthError && err.code === 'unavailable');
      throw err;
    } finally {
      // The database just failed to answer in time: the calls waiting behind this one would only
      // wait for the same failure, one deadline after another. They fail now.
      if (unavailable) {
        for (const w of waiting.splice(0)) w.fail(new AuthError('unavailable'));
      }
      const next = waiting.shift();
      if (next) next.go();
      else busy--;
    }
  };
}

export function createGateway(db: Database, metrics: Metrics, options: GatewayOptions): Gateway {
  /** Runs a database call counted in pgauth_db_calls_in_flight. */
  const counted = async <T>(call: () => Promise<T>): Promise<T> => {
    metrics.dbInFlight.inc();
    try {
      return await call();
    } finally {
      metrics.dbInFlight.dec();
    }
  };
  const query = <R extends Row>(sql: string, params?: readonly unknown[]): Promise<R[]> =>
    counted(async () => (await db.query<R>(sql, params)).rows);
  const ops = sqlOperations(db);
  const validate = (token: string): Promise<Session | null> => counted(() => ops.validate(token));
  const revocations = options.revocations
    ? new RevocationSubscription(databaseSource(db), { onError: options.onSubscriptionError })
    : null;
  let cache: SessionCache | null = null;
  let cachedValidate = validate;
  if (revocations && options.cache) {
    const store = new SessionCache(options.cache);
    revocations.onEvent((event) => store.apply(event));
    revocations.onState((live) => store.setSubscribed(live));
    cache = store;
    cachedValidate = withCache(validate, store);
  }
  revocations?.start();

  const authenticate = async (request: FastifyRequest, cached = false): Promise<Session> => {
    const token = bearerToken(request);
    const session = token ? await (cached ? cachedValidate : validate)(token) : null;
    metrics.validations.inc({ outcome: session ? 'valid' : 'invalid' });
    if (!session) throw new AuthError('invalid_token');
    return session;
  };
  return {
    db,
    metrics,
    query,
    hashing: semaphore(options.hashConcurrency, options.hashQueue),
    authenticate,
    validate,
    async authorize(request, role) {
      const session = await authenticate(request);
      if (!session.roles.includes(role)) throw new AuthError('forbidden');
      return session;
    },
    revocations,
    cache,
    async close() {
      await revocations?.close();
    },
  };
}
