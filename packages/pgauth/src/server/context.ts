/**
 * What every route gets: the operations (each one `pgauth.*` function, counted as a database call
 * in flight), the metrics, and the transport helpers (Bearer extraction, client IP, a bound on
 * concurrent password hashing). What an operation revokes leaves the validation cache before the
 * answer does (operations.ts `onRevoked`): the one eviction path besides the revocation events.
 */
import { isIP } from 'node:net';
import {
  AuthError,
  CacheGuard,
  type CacheOptions,
  type Database,
  databaseKeys,
  databaseSource,
  fastValidate,
  guardCache,
  type JwtClaims,
  jwtVerifier,
  type ProbeOptions,
  parseBearer,
  probeChannel,
  type Queryable,
  type ReplicaRouter,
  RevocationSubscription,
  type Revoked,
  type ServiceOperations,
  type Session,
  SessionCache,
  serviceOperations,
  withCache,
  withJwt,
} from '@pgauth/client/internal';
import type { FastifyRequest } from 'fastify';
import { type AdminOperations, adminOperations } from '../operations.ts';
import { fairHashing, type Hashing } from './hashing.ts';
import type { Metrics } from './metrics.ts';
import { readReplicas } from './read-replicas.ts';

export type { Session };

export interface GatewayOptions {
  /** Concurrent password-hashing calls before queueing. */
  hashConcurrency: number;
  /** Hashing calls that may wait for a slot; beyond them a call is refused at once (503). */
  hashQueue: number;
  /** Hashing calls one client (IP, IPv6 /64) may have waiting (default: half of hashQueue). */
  hashQueuePerClient?: number;
  /**
   * Subscribe to revocation events (LISTEN pgauth_revocations): needed by the cache and by
   * `GET /v1/revocations`. Off where the database cannot deliver them.
   */
  revocations: boolean;
  /** Cache validations of GET /v1/session and /v1/auth/check (needs `revocations`). */
  cache: CacheOptions | false;
  /** Told when the revocation subscription fails or drops (it retries by itself). */
  onSubscriptionError?: (err: Error) => void;
  /** The probes that the cache needs to pass before it serves (client probe.ts). */
  probe?: ProbeOptions;
  /** Told when the cache turns off (with the cause) or on again. */
  onCacheChange?: (enabled: boolean, cause: string | null, deaf: boolean) => void;
  /** Read replicas for validation and introspection (client replicas.ts); the gateway closes none. */
  replicas?: readonly Database[];
  /** A replica further behind than this is not asked (default 1,000 ms). */
  maxReplicaLagMs?: number;
  /** Told when a replica fails to answer. */
  onReplicaError?: (replica: number, err: Error) => void;
}

/** What a gateway's operator is told to do when its probes do not come back. */
export const LISTEN_FIX =
  'LISTEN through a transaction pooler receives nothing: set --listen-url to a direct connection';

export interface Gateway {
  db: Database;
  metrics: Metrics;
  /** The service API, uncached. */
  ops: ServiceOperations;
  /** pgauth.validate of a token as the hot path runs it (never cached): the session, or null. */
  validate(token: string): Promise<Session | null>;
  /** The admin API. */
  admin: AdminOperations;
  /**
   * Runs `fn` (a call that hashes a password) within the hashing concurrency bound, the slots
   * shared fairly between clients (`client`: the rate-limit key of its IP; hashing.ts).
   */
  hashing: Hashing;
  /**
   * pgauth.validate of the request's Bearer token; throws invalid_token when it is not valid.
   * `cached`: may be answered from the revocation-aware cache (the forward-auth hot path).
   */
  authenticate(request: FastifyRequest, cached?: boolean): Promise<Session>;
  /** As authenticate (never cached), and throws forbidden unless the session holds `role`. */
  authorize(request: FastifyRequest, role: string): Promise<Session>;
  /** The revocation feed, when the gateway subscribes to it. */
  revocations: RevocationSubscription | null;
  /** The end-to-end proof that the feed hears notifications (with the feed). */
  guard: CacheGuard | null;
  /** Where validations read, with read replicas. */
  router: ReplicaRouter | null;
  cache: SessionCache | null;
  /**
   * Whether the database of the calls takes no writes now (a hot standby, a primary being
   * demoted, default_transaction_read_only): logins would fail, so the gateway is not ready.
   */
  readOnly(): Promise<boolean>;
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

/** What a login or refresh records of its caller. */
export function loginContext(request: FastifyRequest): { ip?: string; userAgent?: string } {
  return { ip: clientIp(request) ?? undefined, userAgent: userAgent(request) ?? undefined };
}

/** `db` with every query counted in pgauth_db_calls_in_flight. */
function counted(db: Database, metrics: Metrics): Database {
  const query: Queryable['query'] = async (sql, params) => {
    metrics.dbInFlight.inc();
    try {
      return await db.query(sql, params);
    } finally {
      metrics.dbInFlight.dec();
    }
  };
  return {
    engine: db.engine,
    query,
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    listen: (channel, onNotify, onLost) => db.listen(channel, onNotify, onLost),
    close: () => db.close(),
  };
}

/** The labels of pgauth_validations_total, made once (a validation is the hot path). */
const [VALID, INVALID] = [{ outcome: 'valid' }, { outcome: 'invalid' }];

export function createGateway(db: Database, metrics: Metrics, options: GatewayOptions): Gateway {
  const calls = counted(db, metrics);
  const channel = probeChannel();
  const revocations = options.revocations
    ? new RevocationSubscription(databaseSource(db, channel), {
        onError: options.onSubscriptionError,
      })
    : null;
  let cache: SessionCache | null = null;
  if (revocations && options.cache) {
    const store = new SessionCache(options.cache);
    revocations.onEvent((event) => store.apply(event));
    cache = store;
  }
  // Probes go the way every call goes (the pool, maybe through a pooler) and must come back on
  // the LISTEN connection: only then may the cache serve (client probe.ts).
  let guard: CacheGuard | null = null;
  if (revocations) {
    guard = new CacheGuard(
      async (c, nonce) => {
        await calls.query('select pg_notify($1, $2)', [c, nonce]);
      },
      channel,
      { fix: LISTEN_FIX, ...options.probe },
    );
    metrics.cacheEnabled.set(0);
    guard.onChange((enabled, cause, deaf) => {
      metrics.cacheEnabled.set(enabled && cache ? 1 : 0);
      options.onCacheChange?.(enabled, cause, deaf);
    });
    guardCache(revocations, guard, cache);
  }
  // What this process revokes leaves its cache, and fences its replicas, before the answer goes.
  // (The router is made below: it needs the operations these hooks are part of.)
  let router: ReplicaRouter | null = null;
  const hooks = {
    onRevoked: (revoked: Revoked) => {
      cache?.applyRevoked(revoked);
      router?.fenceAll();
    },
  };
  const ops = serviceOperations(calls, hooks);
  const primaryValidate = fastValidate(ops);
  router = readReplicas(
    { db, validate: primaryValidate },
    {
      replicas: options.replicas ?? [],
      maxLagMs: options.maxReplicaLagMs,
      onError: options.onReplicaError,
    },
    { revocations, guard },
    metrics,
    (replica) => serviceOperations(counted(replica, metrics)),
  );
  const plainValidate = router ? router.validate : primaryValidate;
  // JWT access tokens: verified here against the published keys, then looked up (a session's by
  // its sid and jti, a client-credentials token's by its jti), cached with the opaque tokens'
  // answers and evicted by the same revocation events.
  const verifier = jwtVerifier(databaseKeys(() => ops.publishedSigningKeys()));
  const lookup = (claims: JwtClaims): Promise<Session | null> =>
    claims.subjectType === 'user'
      ? ops.validateSessionJwt(claims.sid as string, claims.jti)
      : ops.validateJti(claims.jti);
  const validate = withJwt(plainValidate, { verifier, lookup, cache: null });
  const cachedValidate = withJwt(cache ? withCache(plainValidate, cache) : plainValidate, {
    verifier,
    lookup,
    cache,
  });
  revocations?.start();

  const authenticate = async (request: FastifyRequest, cached = false): Promise<Session> => {
    const token = bearerToken(request);
    const session = token ? await (cached ? cachedValidate : validate)(token) : null;
    metrics.validations.inc(session ? VALID : INVALID);
    if (!session) throw new AuthError('invalid_token');
    return session;
  };
  return {
    db,
    metrics,
    ops,
    validate,
    admin: adminOperations(calls, hooks),
    hashing: fairHashing({
      slots: options.hashConcurrency,
      queue: options.hashQueue,
      perClient: options.hashQueuePerClient ?? Math.max(1, Math.ceil(options.hashQueue / 2)),
    }),
    authenticate,
    async authorize(request, role) {
      const session = await authenticate(request);
      if (!session.roles.includes(role)) throw new AuthError('forbidden');
      return session;
    },
    revocations,
    guard,
    router,
    cache,
    async readOnly() {
      const r = await db.query<{ ro: boolean }>(
        `select current_setting('transaction_read_only') = 'on' as ro`,
      );
      return r.rows[0]?.ro === true;
    },
    async close() {
      router?.close();
      guard?.close();
      await revocations?.close();
    },
  };
}
