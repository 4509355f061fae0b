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
import type { Revoked } from './operations.ts';
import {
  databaseSource,
  type RevocationEvent,
  type RevocationSource,
  RevocationSubscription,
} from './revocations.ts';
import { sqlOperations } from './sql.ts';
import type { AuthClient, CacheOptions, CacheState, Session } from './types.ts';

export { SessionCache, withCache } from './cache.ts';
export { AuthError, ERRORS, type ErrorCode } from './errors.ts';
export type { TokenProvider } from './http.ts';
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
  /** SQL mode: a PostgreSQL URL (its sslmode is honoured). */
  databaseUrl?: string;
  /** SQL mode on a Database of pgauth's own (tests, embedding); the client does not close it. */
  database?: Database;
  /** HTTP mode: the gateway's base URL. */
  baseUrl?: string;
  /** SQL mode: pool size (default 10). */
  poolSize?: number;
  /** HTTP mode: per-request timeout in ms (default 10,000). */
  timeoutMs?: number;
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
}

/** Wires a cache to a subscription: events evict (hints only), a change of state empties it. */
function cacheState(subscription: RevocationSubscription, cache: SessionCache): CacheState {
  const evictListeners = new Set<(ids: readonly string[]) => void>();
  subscription.onEvent((event: RevocationEvent) => {
    const evicted = cache.apply(event);
    for (const listener of evictListeners) listener(evicted);
  });
  subscription.onState((live) => cache.setSubscribed(live));
  return {
    get subscribed() {
      return cache.subscribed;
    },
    get size() {
      return cache.size;
    },
    onEvict(listener) {
      evictListeners.add(listener);
      return () => evictListeners.delete(listener);
    },
    ready: (timeoutMs) => subscription.ready(timeoutMs),
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
  // What this process revokes leaves its cache at once, even before the event arrives.
  const hooks = { onRevoked: (revoked: Revoked) => store?.applyRevoked(revoked) };
  let ops: Omit<AuthClient, 'cache' | 'close'>;
  let source: RevocationSource | null;
  const closers: (() => Promise<void> | void)[] = [];
  if (options.baseUrl) {
    const http = httpOperations({ baseUrl: options.baseUrl, timeoutMs: options.timeoutMs }, hooks);
    ops = http;
    closers.push(() => http.close());
    source = options.serviceToken
      ? eventStreamSource(options.baseUrl, options.serviceToken, {
          maxSilenceMs: options.maxStreamSilenceMs,
        })
      : null;
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
        max: options.poolSize ?? 10,
        application_name: 'pgauth-client',
      });
    if (!options.database) closers.push(() => db.close());
    ops = sqlOperations(db, hooks);
    source = databaseSource(db);
  }

  let cache: CacheState | null = null;
  let validate = ops.validate;
  if (store && source) {
    const subscription = new RevocationSubscription(source, {
      onError: options.onSubscriptionError,
    });
    cache = cacheState(subscription, store);
    validate = withCache<Session | null>(ops.validate, store);
    closers.unshift(() => subscription.close());
    subscription.start();
  }

  return {
    validate,
    login: ops.login,
    refresh: ops.refresh,
    logout: ops.logout,
    changePassword: ops.changePassword,
    cache,
    async close() {
      for (const close of closers) await close();
    },
  };
}
