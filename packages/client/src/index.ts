/**
 * `pgauth/client`: the SDK. `createAuthClient({ databaseUrl })` calls the `pgauth.*` functions
 * over its own pool; `createAuthClient({ baseUrl })` calls the gateway over HTTP. Both offer the
 * same methods and types, throw AuthError with a registry code, and can keep a cache of
 * validations that revocation events evict (see cache.ts).
 */

import { SessionCache, withCache } from './cache.ts';
import { openPostgres } from './db/postgres.ts';
import type { Database } from './db/types.ts';
import { eventStreamSource, httpOperations, type TokenProvider } from './http.ts';
import { databaseKeys, type JwtValidation, jwtVerifier, remoteKeys, withJwt } from './jwt.ts';
import { type Revoked, serviceOperations } from './operations.ts';
import { CacheGuard, guardCache, PROBE_DEFAULTS, probeChannel } from './probe.ts';
import { ReplicaRouter } from './replicas.ts';
import {
  becomesTrue,
  databaseSource,
  type RevocationEvent,
  type RevocationSource,
  RevocationSubscription,
} from './revocations.ts';
import { sqlOperations } from './sql.ts';
import type { AuthClient, CacheOptions, CacheState, Session } from './types.ts';

export { SessionCache, withCache } from './cache.ts';
export { AuthError, ERRORS, type ErrorCode, MfaRequiredError } from './errors.ts';
export type { TokenProvider } from './http.ts';
export { CacheGuard, PROBE_DEFAULTS, type ProbeOptions } from './probe.ts';
export {
  cacheKey,
  databaseSource,
  parseRevocation,
  REVOCATION_CHANNEL,
  type RevocationEvent,
  RevocationSubscription,
} from './revocations.ts';
export type * from './types.ts';

export interface ClientOptions {
  /**
   * SQL mode: a PostgreSQL URL (its sslmode is honoured), or a pooler in front of it (PgBouncer
   * in transaction mode works with its default settings).
   */
  databaseUrl?: string;
  /**
   * SQL mode: where the cache's LISTEN goes (default: databaseUrl). Behind a transaction pooler
   * this must be a direct connection to the primary (or a session-mode pool): LISTEN through a
   * transaction pooler hears nothing, and the cache then stays off (see probe).
   */
  listenUrl?: string;
  /** SQL mode on a Database of pgauth's own (tests, embedding); the client does not close it. */
  database?: Database;
  /** HTTP mode: the gateway's base URL. */
  baseUrl?: string;
  /** SQL mode: pool size (default 10). */
  poolSize?: number;
  /** HTTP mode: per-request timeout in ms (default 10,000). */
  timeoutMs?: number;
  /**
   * Verify JWT access tokens here (default true): the signature against pgauth's published keys
   * (pgauth.published_signing_keys, or the gateway's /.well-known/jwks.json), then the token's jti
   * as any token (from the cache while it is proven, so a revocation stops it at once). Needs the
   * optional peer dependency `jose` (npm install jose) the first time a JWT arrives. False sends a
   * JWT to the database (never valid there) or the gateway (which verifies it).
   */
  verifyJwt?: boolean;
  /**
   * Keep validations in memory, evicted by revocation events. In HTTP mode the event stream needs
   * `serviceToken`, an access token of an account holding role `introspect`.
   */
  cache?: CacheOptions | boolean;
  serviceToken?: TokenProvider;
  /**
   * HTTP mode with a cache: the longest the gateway's event stream may stay silent before the
   * cache counts it lost and empties itself (default 2,000 ms): the bound on serving a token
   * revoked while the stream was cut without a sign.
   */
  maxStreamSilenceMs?: number;
  /** Told when the revocation subscription fails or drops (it retries by itself). */
  onSubscriptionError?: (err: Error) => void;
  /**
   * The end-to-end proof the cache needs before it serves (probe.ts). SQL mode: a probe sent
   * through the pool must come back on the LISTEN connection within timeoutMs (default 1,000).
   * HTTP mode: the gateway's probes must arrive on its stream at most timeoutMs apart (default
   * 1,500: the gateway's interval and timeout).
   */
  probe?: { intervalMs?: number; timeoutMs?: number };
  /**
   * SQL mode: read replicas for validation (everything else goes to databaseUrl). A replica is
   * asked only while revocation events are proven to arrive and it is within maxReplicaLagMs
   * (default 1,000) of the primary; a token revoked since, as far as this client heard, is asked
   * on the primary (replicas.ts).
   */
  readUrls?: string[];
  maxReplicaLagMs?: number;
  /** Told when the cache turns off (with the cause) or on again (cause null). */
  onCacheChange?: (enabled: boolean, cause: string | null) => void;
}

/**
 * Wires a cache to a subscription: events evict (hints only); it serves only while the guard's
 * probes pass, and every change of that state empties it.
 */
function cacheState(
  subscription: RevocationSubscription,
  cache: SessionCache,
  guard: CacheGuard,
): CacheState {
  const evictListeners = new Set<(ids: readonly string[]) => void>();
  const evicted = (ids: readonly string[]): void => {
    for (const listener of evictListeners) listener(ids);
  };
  subscription.onEvent((event: RevocationEvent) => evicted(cache.apply(event)));
  guardCache(subscription, guard, cache, evicted);
  return {
    get subscribed() {
      return cache.subscribed;
    },
    get cause() {
      return guard.cause;
    },
    get size() {
      return cache.size;
    },
    onEvict(listener) {
      evictListeners.add(listener);
      return () => evictListeners.delete(listener);
    },
    ready: (timeoutMs = 10_000) =>
      becomesTrue(
        guard.enabled,
        (listener) => guard.onChange(listener),
        timeoutMs,
        () => `the cache is not on after ${timeoutMs} ms: ${guard.cause}`,
      ),
  };
}

export function createAuthClient(options: ClientOptions): AuthClient {
  const modes = [options.databaseUrl, options.database, options.baseUrl].filter(Boolean).length;
  if (modes !== 1) {
    throw new TypeError('createAuthClient needs exactly one of databaseUrl, database or baseUrl');
  }
  const store = options.cache
    ? new SessionCache(options.cache === true ? {} : options.cache)
    : null;
  let router: ReplicaRouter | null = null;
  // What this process revokes leaves its cache at once, even before the event arrives, and no
  // replica is asked until it has replayed the revocation.
  const hooks = {
    onRevoked: (revoked: Revoked) => {
      store?.applyRevoked(revoked);
      router?.fenceAll();
    },
  };
  let ops: Omit<AuthClient, 'cache' | 'close'>;
  let jwt: Omit<JwtValidation, 'cache'> | null = null;
  let source: RevocationSource | null;
  let guard: CacheGuard | null = null;
  const closers: (() => Promise<void> | void)[] = [];
  if (options.baseUrl) {
    const http = httpOperations({ baseUrl: options.baseUrl, timeoutMs: options.timeoutMs }, hooks);
    ops = http;
    closers.push(() => http.close());
    jwt = {
      verifier: jwtVerifier(remoteKeys(options.baseUrl, options.timeoutMs)),
      lookup: (_claims, token) => http.validate(token),
    };
    source = options.serviceToken
      ? eventStreamSource(options.baseUrl, options.serviceToken, {
          maxSilenceMs: options.maxStreamSilenceMs,
        })
      : null;
    guard = new CacheGuard(null, '', {
      timeoutMs: options.probe?.timeoutMs ?? PROBE_DEFAULTS.intervalMs + PROBE_DEFAULTS.timeoutMs,
    });
    if (store && !source) {
      throw new TypeError(
        'an HTTP client with a cache needs serviceToken (an account with role introspect) for the revocation stream',
      );
    }
  } else {
    const db =
      options.database ??
      openPostgres({
        connectionString: options.databaseUrl as string,
        listenConnectionString: options.listenUrl,
        max: options.poolSize ?? 10,
        application_name: 'pgauth-client',
      });
    if (!options.database) closers.push(() => db.close());
    const service = serviceOperations(db);
    const sqlJwt: Omit<JwtValidation, 'cache'> = {
      verifier: jwtVerifier(databaseKeys(() => service.publishedSigningKeys())),
      lookup: (claims) =>
        claims.subjectType === 'user'
          ? service.validateSessionJwt(claims.sid as string, claims.jti)
          : service.validateJti(claims.jti),
    };
    jwt = sqlJwt;
    ops = sqlOperations(db, {
      ...hooks,
      // A password change with a session's JWT: verified here, never from the cache.
      checkToken:
        options.verifyJwt === false
          ? undefined
          : (validate) => withJwt(validate, { ...sqlJwt, cache: null }),
    });
    const channel = probeChannel();
    source = databaseSource(db, channel);
    const g = new CacheGuard(
      async (c, nonce) => {
        await db.query('select pg_notify($1, $2)', [c, nonce]);
      },
      channel,
      options.probe,
    );
    guard = g;
    const replicas = (options.readUrls ?? []).map((url) =>
      openPostgres({
        connectionString: url,
        max: options.poolSize ?? 10,
        application_name: 'pgauth-client:replica',
      }),
    );
    if (replicas.length > 0) {
      for (const replica of replicas) closers.push(() => replica.close());
      router = new ReplicaRouter(
        { db, validate: ops.validate },
        replicas.map((replica) => ({ db: replica, validate: sqlOperations(replica).validate })),
        { maxLagMs: options.maxReplicaLagMs, trusted: () => g.enabled },
      );
    }
  }

  let cache: CacheState | null = null;
  let validate = router ? router.validate : ops.validate;
  if ((store || router) && source && guard) {
    const subscription = new RevocationSubscription(source, {
      onError: options.onSubscriptionError,
    });
    const g = guard;
    if (options.onCacheChange) g.onChange(options.onCacheChange);
    if (router) {
      const r = router;
      subscription.onEvent((event) => r.apply(event));
      // Whatever was missed before the feed was proven again is behind a fence.
      g.onChange(() => r.fenceAll());
      r.start();
      closers.unshift(() => r.close());
    }
    if (store) {
      cache = cacheState(subscription, store, g);
      validate = withCache<Session | null>(validate, store);
    } else {
      guardCache(subscription, g, null);
    }
    closers.unshift(() => g.close());
    closers.unshift(() => subscription.close());
    subscription.start();
  }

  if (options.verifyJwt !== false && jwt) validate = withJwt(validate, { ...jwt, cache: store });
  return {
    validate,
    login: ops.login,
    loginMfa: ops.loginMfa,
    refresh: ops.refresh,
    logout: ops.logout,
    changePassword: ops.changePassword,
    cache,
    async close() {
      for (const close of closers) await close();
    },
  };
}
