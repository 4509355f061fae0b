/**
 * What the cache tests without a database share: a fixed "now", sessions made up around it, and a
 * cache whose subscription is live (a cache serves nothing until it is).
 */
import { SessionCache } from '../../packages/client/src/cache.ts';
import type { CacheOptions, Session } from '../../packages/client/src/types.ts';

/** The clock of the cache tests, in ms: every time they pass is this or counted from it. */
export const NOW = 1_800_000_000_000;

/** A session `id` of user `user`, expiring `expiresInMs` after NOW. */
export function session(id: string, user = 'u1', expiresInMs = 3_600_000): Session {
  return {
    userId: user,
    username: `name-${user}`,
    sessionId: id,
    subjectType: 'user',
    roles: [],
    expiresAt: new Date(NOW + expiresInMs),
    aal: 1,
  };
}

/** A cache with `options` whose subscription is live. */
export function liveCache(options: CacheOptions = {}): SessionCache {
  const cache = new SessionCache(options);
  cache.setSubscribed(true);
  return cache;
}
