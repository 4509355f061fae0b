/**
 * The revocation-aware validation cache, shared by the SDK and the gateway.
 *
 * A positive validation is kept until the session's expires_at, capped by maxAgeMs; a negative
 * one for at most negativeMaxAgeMs. Nothing is served unless the revocation subscription is live:
 * a `pgauth_revocations` event evicts the tokens whose cache keys it names (or every token of the
 * sessions it names, from a database before migration 0010), a flush event empties the cache, and
 * so does a lost subscription. Events only ever remove: a forged one costs cache misses. The one
 * race — a validation read before a revocation committed but stored after its event was applied —
 * is closed with tickets: a lookup takes a ticket before it asks the source, and its answer is not
 * stored when an eviction of that token or session (or a clear) came after the ticket.
 */
import type { Revoked } from './operations.ts';
import { cacheKey, type RevocationEvent } from './revocations.ts';
import type { CacheOptions, Session } from './types.ts';

interface Entry {
  session: Session | null;
  /** Epoch ms after which the entry is not served. */
  until: number;
  /** `stamp` of the cache when the entry was stored or last moved to the end. */
  stamp: number;
  /** cacheKey of the token, for a positive entry: what events name it by. */
  key: string | null;
}

/** Taken before asking the source; gives the right to store its answer if nothing moved since. */
export interface Ticket {
  seq: number;
  at: number;
}

/**
 * How long an eviction is remembered for the race above. A lookup that takes longer than this
 * between its ticket and its answer is not stored at all.
 */
const EVICTION_MEMORY_MS = 60_000;

/**
 * The most evictions remembered for that race. Beyond it (a flood of events, maybe forged) the
 * cache empties itself instead, so that memory stays bounded and no ticket is trusted.
 */
const EVICTION_MEMORY_MAX = 100_000;

export const CACHE_DEFAULTS = {
  maxEntries: 10_000,
  maxAgeMs: 60_000,
  negativeMaxAgeMs: 1_000,
} as const;

/** The most a negative answer is cached, whatever the options say. */
const NEGATIVE_MAX_AGE_CAP_MS = 5_000;

export class SessionCache {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly negativeMaxAgeMs: number;
  /**
   * Token → entry, least recently used first, and the first entry goes when the cache is full.
   * A hit moves its entry to the end only when it has drifted into the older half (more than
   * maxEntries / 2 stores or moves since its own): the same order for eviction purposes as moving
   * on every hit, for a fraction of the cost on the hot path.
   */
  private readonly entries = new Map<string, Entry>();
  /** Session id → its cached tokens (an access token, and its successor after a rotation). */
  private readonly tokensOf = new Map<string, Set<string>>();
  /** Cache key → the cached token that has it (positive entries only). */
  private readonly tokenOfKey = new Map<string, string>();
  /** User id → the ids of their cached sessions. */
  private readonly sessionsOf = new Map<string, Set<string>>();
  /** Bumped by every eviction and clear. */
  private seq = 0;
  /** seq of the last clear: tickets older than that store nothing. */
  private clearedAt = 0;
  /** Session id or cache key → seq of its last eviction, remembered EVICTION_MEMORY_MS. */
  private readonly evictedAt = new Map<string, number>();
  private readonly evictionLog: { at: number; id: string; seq: number }[] = [];
  private live = false;
  /** Bumped by every store and every move to the end. */
  private stamp = 0;

  constructor(options: CacheOptions = {}) {
    this.maxEntries = positive(options.maxEntries, CACHE_DEFAULTS.maxEntries, 'maxEntries');
    this.maxAgeMs = positive(options.maxAgeMs, CACHE_DEFAULTS.maxAgeMs, 'maxAgeMs');
    const negative = options.negativeMaxAgeMs ?? CACHE_DEFAULTS.negativeMaxAgeMs;
    if (!Number.isFinite(negative) || negative < 0) {
      throw new TypeError('cache.negativeMaxAgeMs must be a number ≥ 0');
    }
    this.negativeMaxAgeMs = Math.min(negative, NEGATIVE_MAX_AGE_CAP_MS);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether answers are served and stored: only while the revocation subscription is live. */
  get subscribed(): boolean {
    return this.live;
  }

  /**
   * The cached answer for `token`: a session, null (known not valid), or undefined (ask the
   * source).
   */
  get(token: string, now = Date.now()): Session | null | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.remove(token, entry);
      return undefined;
    }
    if (this.stamp - entry.stamp > this.maxEntries >> 1) {
      entry.stamp = ++this.stamp;
      this.entries.delete(token);
      this.entries.set(token, entry);
    }
    return entry.session;
  }

  ticket(now = Date.now()): Ticket {
    return { seq: this.seq, at: now };
  }

  /**
   * Stores the source's answer for `token`, unless the ticket is stale (see the module comment).
   * Events name a positive answer by `key`: cacheKey(token) unless given (a session's JWT is named
   * by the key of the opaque access token it stands for, jwt.ts).
   */
  put(
    token: string,
    session: Session | null,
    ticket: Ticket,
    now = Date.now(),
    eventKey?: string,
  ): void {
    if (!this.live || ticket.seq < this.clearedAt) return;
    if (now - ticket.at >= EVICTION_MEMORY_MS) return;
    let until: number;
    let key: string | null = null;
    if (session) {
      key = eventKey ?? cacheKey(token);
      const evicted = Math.max(
        this.evictedAt.get(session.sessionId) ?? 0,
        this.evictedAt.get(key) ?? 0,
      );
      if (evicted > ticket.seq) return;
      // Two cached tokens with one key (a chance of 2^-64) would leave one that no event names.
      const holder = this.tokenOfKey.get(key);
      if (holder !== undefined && holder !== token) return;
      until = Math.min(session.expiresAt.getTime(), now + this.maxAgeMs);
    } else {
      if (this.negativeMaxAgeMs === 0) return;
      until = now + this.negativeMaxAgeMs;
    }
    if (until <= now) return;
    const old = this.entries.get(token);
    if (old) this.remove(token, old);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.entries().next().value;
      if (!oldest) break;
      this.remove(oldest[0], oldest[1]);
    }
    this.entries.set(token, { session, until, stamp: ++this.stamp, key });
    if (key !== null) this.tokenOfKey.set(key, token);
    if (session) {
      let tokens = this.tokensOf.get(session.sessionId);
      if (!tokens) {
        tokens = new Set();
        this.tokensOf.set(session.sessionId, tokens);
      }
      tokens.add(token);
      let sessions = this.sessionsOf.get(session.userId);
      if (!sessions) {
        sessions = new Set();
        this.sessionsOf.set(session.userId, sessions);
      }
      sessions.add(session.sessionId);
    }
  }

  /**
   * Drops every session of `userId`: for a process that has just changed the user itself and
   * must not serve the old state even until the event arrives.
   */
  evictUser(userId: string): void {
    const sessions = this.sessionsOf.get(userId);
    if (sessions) this.evict([...sessions]);
  }

  /**
   * Applies a revocation event, a hint: the tokens it names go (every token on a flush), and the
   * next validation of each asks the source. Returns the ids of the cached sessions it evicted.
   */
  apply(event: RevocationEvent, now = Date.now()): string[] {
    if (event.flush) return this.clear();
    return this.evictIds(event.sessionIds, event.keys, now);
  }

  /** Every token of these sessions goes, at once. */
  evict(sessionIds: readonly string[], now = Date.now()): void {
    this.evictIds(sessionIds, [], now);
  }

  private evictIds(sessionIds: readonly string[], keys: readonly string[], now: number): string[] {
    const seq = ++this.seq;
    this.forgetOldEvictions(now);
    const tokens: string[] = [];
    for (const id of sessionIds) {
      this.remember(id, seq, now);
      for (const token of this.tokensOf.get(id) ?? []) tokens.push(token);
    }
    for (const key of keys) {
      this.remember(key, seq, now);
      const token = this.tokenOfKey.get(key);
      if (token !== undefined) tokens.push(token);
    }
    const evicted = new Set<string>();
    for (const token of tokens) {
      const entry = this.entries.get(token);
      if (!entry) continue;
      if (entry.session) evicted.add(entry.session.sessionId);
      this.remove(token, entry);
    }
    if (this.evictionLog.length > EVICTION_MEMORY_MAX) return [...evicted, ...this.clear()];
    return [...evicted];
  }

  private remember(id: string, seq: number, now: number): void {
    this.evictedAt.set(id, seq);
    this.evictionLog.push({ at: now, id, seq });
  }

  /**
   * Drops what an operation of this process revoked (operations.ts), without waiting for its
   * event: a token (and its session), a session, every session of a user, or every session of the
   * user of a token.
   */
  applyRevoked(revoked: Revoked): void {
    if ('token' in revoked) this.forget(revoked.token);
    else if ('sessionId' in revoked) this.evict([revoked.sessionId]);
    else if ('userId' in revoked) this.evictUser(revoked.userId);
    else {
      const session = this.entries.get(revoked.userOf)?.session;
      if (session) this.evictUser(session.userId);
    }
  }

  /** Drops `token` and every other token of its session, as an event naming it would. */
  forget(token: string): void {
    const entry = this.entries.get(token);
    if (!entry) return;
    if (entry.session) this.evict([entry.session.sessionId]);
    else this.entries.delete(token);
  }

  /**
   * Marks the subscription live or lost. Either way everything cached goes: on loss because
   * events may be missed from now on, on (re)subscription because they may have been missed.
   * Returns the ids of the cached sessions that went.
   */
  setSubscribed(live: boolean): string[] {
    this.live = live;
    return this.clear();
  }

  /** Empties the cache. Returns the ids of the cached sessions that went. */
  clear(): string[] {
    const held = [...this.tokensOf.keys()];
    this.clearedAt = ++this.seq;
    this.entries.clear();
    this.tokensOf.clear();
    this.tokenOfKey.clear();
    this.sessionsOf.clear();
    this.evictedAt.clear();
    this.evictionLog.length = 0;
    return held;
  }

  private remove(token: string, entry: Entry): void {
    this.entries.delete(token);
    if (entry.key !== null) this.tokenOfKey.delete(entry.key);
    if (!entry.session) return;
    const tokens = this.tokensOf.get(entry.session.sessionId);
    if (!tokens) return;
    tokens.delete(token);
    if (tokens.size > 0) return;
    this.tokensOf.delete(entry.session.sessionId);
    this.unlinkSession(entry.session);
  }

  private unlinkSession(session: Session): void {
    const sessions = this.sessionsOf.get(session.userId);
    if (!sessions) return;
    sessions.delete(session.sessionId);
    if (sessions.size === 0) this.sessionsOf.delete(session.userId);
  }

  private forgetOldEvictions(now: number): void {
    const log = this.evictionLog;
    let i = 0;
    while (i < log.length && (log[i] as { at: number }).at <= now - EVICTION_MEMORY_MS) {
      const old = log[i] as { id: string; seq: number };
      if (this.evictedAt.get(old.id) === old.seq) this.evictedAt.delete(old.id);
      i++;
    }
    if (i > 0) log.splice(0, i);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new TypeError(`cache.${name} must be a number > 0`);
  return v;
}

/** `validate` answered from `cache` where it can, and stored in it otherwise. */
export function withCache<S extends Session | null>(
  validate: (token: string) => Promise<S>,
  cache: SessionCache,
): (token: string) => Promise<S> {
  const miss = async (token: string): Promise<S> => {
    const ticket = cache.ticket();
    const answer = await validate(token);
    cache.put(token, answer, ticket);
    return answer;
  };
  // A hit is answered without an async function's frame and promise of its own.
  return (token) => {
    const hit = cache.get(token);
    return hit !== undefined ? Promise.resolve(hit as S) : miss(token);
  };
}
