/**
 * The revocation subscription: one live feed of `pgauth_revocations` events (a LISTEN connection
 * in SQL mode, the gateway's Server-Sent Events stream in HTTP mode), resubscribed by itself
 * with a capped backoff when it drops. Listeners hear every event and every change of state;
 * the cache (cache.ts) is one such listener, the gateway's event stream another.
 *
 * Threat model: PostgreSQL has no privilege for LISTEN or NOTIFY, so any role that can connect
 * to the database may send on the channel. An event is therefore a hint, never a verdict: its
 * listeners only forget what it names (or everything) and ask the database again. A forged event
 * costs cache misses; nothing is accepted, rejected or ended because an event said so.
 */
import { createHash } from 'node:crypto';
import type { Database } from './db/types.ts';

/** The NOTIFY channel the sessions trigger (migration 0010) writes to. */
export const REVOCATION_CHANNEL = 'pgauth_revocations';

export interface RevocationEvent {
  /** Cache keys (see cacheKey) of the access tokens whose cached validation may be stale. */
  keys: string[];
  /** Session ids whose cached validations may be stale: what databases before 0010 send. */
  sessionIds: string[];
  /**
   * Every cached validation may be stale: the sessions were truncated, or the payload could not
   * be read (it may have named anything).
   */
  flush: boolean;
}

/**
 * The key a notification names an access token by: the first 8 bytes of its SHA-256 (of the
 * access_token_hash pgauth stores), in hex. Only a holder of the token can tell which one it is.
 */
export function cacheKey(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('hex').slice(0, 16);
}

/** What a payload nobody can read stands for. */
export function flushEvent(): RevocationEvent {
  return { keys: [], sessionIds: [], flush: true };
}

export interface SourceHandlers {
  /** A raw payload, as NOTIFY sent it. */
  onPayload(payload: string): void;
  /** A probe that came back (probe.ts): its payload, or '' over the gateway's stream. */
  onProbe?(payload: string): void;
  onLost(err: Error): void;
}

/** Opens one subscription; resolves once it is live, with the function that closes it. */
export type RevocationSource = (handlers: SourceHandlers) => Promise<() => Promise<void>>;

/**
 * A source on a database connection: LISTEN pgauth_revocations, and on the same connection the
 * probe channel of this process when there is one (probe.ts).
 */
export function databaseSource(db: Database, probeChannel?: string): RevocationSource {
  return ({ onPayload, onProbe, onLost }) =>
    probeChannel
      ? db.listen(
          [REVOCATION_CHANNEL, probeChannel],
          (payload, channel) => {
            if (channel === REVOCATION_CHANNEL) onPayload(payload);
            else onProbe?.(payload);
          },
          onLost,
        )
      : db.listen(REVOCATION_CHANNEL, onPayload, onLost);
}

/**
 * The event a payload stands for: `{"keys": [...]}`, `{"flush": true}`, or (before migration
 * 0010) `{"session_ids": [...], ...}`; null when it is none of these, which a listener must treat
 * as a flush.
 */
export function parseRevocation(payload: string): RevocationEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { keys, session_ids, flush } = v as Record<string, unknown>;
  if (flush === true) return flushEvent();
  if (keys === undefined && session_ids === undefined) return null;
  const k = strings(keys);
  const s = strings(session_ids);
  if (k === null || s === null) return null;
  return { keys: k, sessionIds: s, flush: false };
}

/** An absent list as empty; null unless every element is a string. */
function strings(v: unknown): string[] | null {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return null;
  return v;
}

export interface SubscriptionOptions {
  /** First retry delay after a drop; doubled up to maxRetryMs. Defaults 100 and 1,000 ms. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Told about every failed (re)subscription, for logs. */
  onError?: (err: Error) => void;
}

/**
 * Resolves at once when `now` is true, else when the listener given to `subscribe` is first
 * called with true (then unsubscribes); rejects after `timeoutMs` with the message `late()` makes.
 */
export function becomesTrue(
  now: boolean,
  subscribe: (listener: (value: boolean) => void) => () => void,
  timeoutMs: number,
  late: () => string,
): Promise<void> {
  if (now) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(late()));
    }, timeoutMs);
    const off = subscribe((value) => {
      if (!value) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

type StateListener = (live: boolean) => void;
type EventListener = (event: RevocationEvent) => void;
type ProbeListener = (payload: string) => void;

export class RevocationSubscription {
  private live = false;
  private closed = false;
  private closeCurrent: (() => Promise<void>) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private delay: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly eventListeners = new Set<EventListener>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly probeListeners = new Set<ProbeListener>();
  /** Bumped by every (re)subscription attempt: callbacks of an older one are ignored. */
  private generation = 0;

  constructor(
    private readonly source: RevocationSource,
    private readonly options: SubscriptionOptions = {},
  ) {
    this.minRetryMs = options.minRetryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 1_000;
    this.delay = this.minRetryMs;
  }

  get subscribed(): boolean {
    return this.live;
  }

  /** Starts subscribing in the background. */
  start(): this {
    if (!this.closed && this.generation === 0) void this.connect();
    return this;
  }

  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Told of every probe heard on the subscription (probe.ts). */
  onProbe(listener: ProbeListener): () => void {
    this.probeListeners.add(listener);
    return () => this.probeListeners.delete(listener);
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Resolves when the subscription is live; rejects after `timeoutMs`. */
  ready(timeoutMs = 10_000): Promise<void> {
    return becomesTrue(
      this.live,
      (listener) => this.onState(listener),
      timeoutMs,
      () => `the revocation subscription is not live after ${timeoutMs} ms`,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.setLive(false);
    const close = this.closeCurrent;
    this.closeCurrent = null;
    await close?.().catch(() => {});
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    const current = (): boolean => generation === this.generation && !this.closed;
    try {
      const close = await this.source({
        onPayload: (payload) => {
          if (current()) this.dispatch(payload);
        },
        onProbe: (payload) => {
          if (!current()) return;
          for (const listener of this.probeListeners) listener(payload);
        },
        onLost: (err) => {
          if (current()) this.lost(err);
        },
      });
      if (!current()) {
        await close().catch(() => {});
        return;
      }
      this.closeCurrent = close;
      this.delay = this.minRetryMs;
      this.setLive(true);
    } catch (err) {
      if (current()) this.lost(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private dispatch(payload: string): void {
    // An event we cannot read may have named anything: it is a flush. It is still only an event:
    // the subscription stays live, so nobody who can NOTIFY can end the gateway's streams.
    const event = parseRevocation(payload) ?? flushEvent();
    for (const listener of this.eventListeners) listener(event);
  }

  private lost(err: Error): void {
    this.generation++;
    const close = this.closeCurrent;
    this.closeCurrent = null;
    void close?.().catch(() => {});
    this.setLive(false);
    this.options.onError?.(err);
    if (this.closed) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxRetryMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) void this.connect();
    }, wait);
    this.retryTimer.unref?.();
  }

  /** Tells every state listener of a change: lost, or live again (either way: clear caches). */
  private setLive(live: boolean): void {
    if (!live && !this.live) return;
    this.live = live;
    for (const listener of this.stateListeners) listener(live);
  }
}
