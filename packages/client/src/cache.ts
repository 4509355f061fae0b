/**
 * The revocation-aware validation cache, shared by the SDK and the gateway.
 *
 * A positive validation is kept until the session's expires_at, capped by maxAgeMs; a negative
 * one for at most negativeMaxAgeMs. Nothing is served unless the revocation subscription is live:
 * a `pgauth_revocations` event evicts every token of the sessions it names, and a lost
 * subscription empties the cache. The one race — a validation read before a revocation committed
 * but stored after its event was applied — is closed with tickets: a lookup takes a ticket before
 * it asks the source, and its answer is not stored when an eviction of that session (or a clear)
 * came after the ticket.
 */
import type { Revoked } from './operations.ts';
import type { CacheOptions, Session } from './types.ts';

interface Entry {
  session: Session | null;
  /** Epoch ms after which the entry is not served. */
  until: number;
  /** `stamp` of the cache when the entry was stored or last moved to the end. */
  stamp: number;
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
  /** User id → the ids of their cached sessions. */
  private readonly sessionsOf = new Map<string, Set<string>>();
  /** Bumped by every eviction and clear. */
  private seq = 0;
  /** seq of the last clear: tickets older than that store nothing. */
  private clearedAt = 0;
  /** Session id → seq of its last eviction, remembered EVICTION_MEMORY_MS. */
  private readonly evictedAt = new Map<string, number>();
  private readonly evictionLog: { at: number; sessionId: string; seq: number }[] = [];
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

  /** Stores the source's answer for `token`, unless the ticket is stale (see the module comment). */
  put(token: string, session: Session | null, ticket: Ticket, now = Date.now()): void {
    if (!this.live || ticket.seq < this.clearedAt) return;
    if (now - ticket.at >= EVICTION_MEMORY_MS) return;
    let until: number;
    if (session) {
      if ((this.evictedAt.get(session.sessionId) ?? 0) > ticket.seq) {
        return;
      }
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
    this.entries.set(token, { session, until, stamp: ++this.stamp });
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

  /** Applies a revocation event: every token of these sessions goes, at once. */
  evict(sessionIds: readonly string[], now = Date.now()): void {
    const seq = ++this.seq;
    this.forgetOldEvictions(now);
    for (const id of sessionIds) {
      this.evictedAt.set(id, seq);
      this.evictionLog.push({ at: now, sessionId: id, seq });
      const tokens = this.tokensOf.get(id);
      if (!tokens) continue;
      this.tokensOf.delete(id);
      for (const token of tokens) {
        const entry = this.entries.get(token);
        this.entries.delete(token);
        if (entry?.session) this.unlinkSession(entry.session);
      }
    }
  }

  /**
   * Drops what an operation of this process revoked (operations.ts), without waiting for its
   * event: a token (and its session), a session, every session of a user, or every session of the
   * user of a token.
   */
  apply(revoked: Revoked): void {
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
   */
  setSubscribed(live: boolean): void {
    this.clear();
    this.live = live;
  }

  clear(): void {
    this.clearedAt = ++this.seq;
    this.entries.clear();
    this.tokensOf.clear();
    this.sessionsOf.clear();
    this.evictedAt.clear();
    this.evictionLog.length = 0;
  }

  private remove(token: string, entry: Entry): void {
    this.entries.delete(token);
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
      const old = log[i] as { sessionId: string; seq: number };
      if (this.evictedAt.get(old.sessionId) === old.seq) this.evictedAt.delete(old.sessionId);
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
  return async (token) => {
    const hit = cache.get(token);
    if (hit !== undefined) return hit as S;
    const ticket = cache.ticket();
    const answer = await validate(token);
    cache.put(token, answer, ticket);
    return answer;
  };
}
