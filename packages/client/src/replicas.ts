/**
 * Validation from read replicas. Streaming replicas are behind the primary, and a revocation is a
 * write: a replica that has not replayed it yet still answers "valid". So a replica is asked only
 * when it cannot resurrect anything this process should know is revoked:
 *
 * - Its lag is measured, not trusted: every `sampleMs` the primary's WAL position is read through
 *   the ordinary path, and each replica's replay position; a replica's lag is the age of the
 *   newest primary sample it has replayed. One past `maxLagMs` (default 1 s), or that did not
 *   answer, is not asked.
 * - A revocation event (its cache keys) leaves a tombstone: those tokens are validated on the
 *   primary until every replica that may be asked has replayed past the primary's position read
 *   after the event came (see tombstones below). A flush, and every revocation made by this
 *   process (which it knows of before any event), fence every replica the same way.
 * - Replicas are asked only while the revocation feed is proven (probe.ts): without notifications
 *   there are no tombstones.
 * - A replica's "not valid" is asked again on the primary: the token may be younger than the
 *   replica (a login a moment ago).
 *
 * Everything else (logins, refreshes, logouts, administration) goes to the primary.
 */
import type { Queryable } from './db/types.ts';
import type { RevocationEvent } from './revocations.ts';
import { cacheKey } from './revocations.ts';
import type { Session } from './types.ts';

export const REPLICA_DEFAULTS = {
  /** A replica further behind than this is not asked. */
  maxLagMs: 1_000,
  /** How often WAL positions are read. */
  sampleMs: 100,
} as const;

/** At most this many tombstones; past it every replica is fenced instead (bounded memory). */
const MAX_TOMBSTONES = 100_000;

export interface ReplicaOptions {
  maxLagMs?: number;
  sampleMs?: number;
  /** Whether revocation events are proven to arrive now (default: always). */
  trusted?: () => boolean;
  /** Told when a replica fails to answer (it is skipped until it answers again). */
  onError?: (replica: number, err: Error) => void;
  /** Told which answered each validation. */
  onRead?: (source: 'replica' | 'primary') => void;
  /** Told the lag of each replica (ms; Infinity: unknown) after each sample. */
  onSample?: (lagsMs: number[]) => void;
}

type Validate = (token: string) => Promise<Session | null>;

export interface Replica {
  /** WAL positions are read here. */
  db: Queryable;
  /** pgauth.validate on this replica. */
  validate: Validate;
}

/** A WAL position (X/Y) as a number that orders like it. */
export function parseLsn(lsn: string): bigint {
  const [hi = '0', lo = '0'] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

interface ReplicaState {
  replay: bigint | null;
  /** Lag at the last sample, ms; Infinity when unknown. */
  lagMs: number;
  /** Whether its last answer was an error (told once, when it starts failing). */
  failing: boolean;
}

/** A position of the primary to be read after `since`, then (lsn) known. */
interface Mark {
  since: number;
  lsn: bigint | null;
  /** When the primary was read at lsn. */
  at: number;
}

export interface ReadStats {
  /** Validations answered by a replica, and those the primary answered. */
  replica: number;
  primary: number;
}

export class ReplicaRouter {
  readonly maxLagMs: number;
  readonly sampleMs: number;
  readonly stats: ReadStats = { replica: 0, primary: 0 };
  private readonly states: ReplicaState[];
  /** Primary samples, oldest first, kept about maxLagMs. */
  private history: { at: number; lsn: bigint }[] = [];
  private readonly tombstones = new Map<string, Mark>();
  private fence: Mark | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;
  private next = 0;
  private closed = false;

  constructor(
    private readonly primary: { db: Queryable; validate: Validate },
    private readonly replicas: readonly Replica[],
    private readonly options: ReplicaOptions = {},
  ) {
    this.maxLagMs = options.maxLagMs ?? REPLICA_DEFAULTS.maxLagMs;
    this.sampleMs = options.sampleMs ?? REPLICA_DEFAULTS.sampleMs;
    this.states = replicas.map(() => ({
      replay: null,
      lagMs: Number.POSITIVE_INFINITY,
      failing: false,
    }));
  }

  /** Starts reading WAL positions. */
  start(): this {
    if (this.timer || this.closed) return this;
    this.timer = setInterval(() => void this.sample(), this.sampleMs);
    this.timer.unref?.();
    void this.sample();
    return this;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Lag of each replica at the last sample, in ms (Infinity: unknown or not answering). */
  lags(): number[] {
    return this.states.map((s) => s.lagMs);
  }

  /** A revocation event: tombstones for its keys, or a fence for a flush. */
  apply(event: RevocationEvent): void {
    const now = Date.now();
    if (event.flush || event.sessionIds.length > 0) {
      this.fenceAll(now);
      return;
    }
    for (const key of event.keys) this.tombstones.set(key, { since: now, lsn: null, at: 0 });
    if (this.tombstones.size > MAX_TOMBSTONES) {
      this.tombstones.clear();
      this.fenceAll(now);
    }
  }

  /** No replica is asked until each has replayed what the primary holds from now on. */
  fenceAll(now = Date.now()): void {
    this.fence = { since: now, lsn: null, at: 0 };
  }

  /** pgauth.validate, from a replica where that is safe, else from the primary. */
  validate: Validate = async (token) => {
    const replica = this.pick(token);
    if (replica !== null) {
      try {
        const session = await (this.replicas[replica] as Replica).validate(token);
        if (session) {
          this.stats.replica++;
          this.options.onRead?.('replica');
          return session;
        }
      } catch (err) {
        this.unusable(replica, err as Error);
      }
    }
    this.stats.primary++;
    this.options.onRead?.('primary');
    return this.primary.validate(token);
  };

  /** The replica to ask for `token` (round robin among the safe ones), or null for the primary. */
  private pick(token: string): number | null {
    if (this.replicas.length === 0) return null;
    if (this.options.trusted && !this.options.trusted()) return null;
    const now = Date.now();
    if (this.tombstones.size > 0) {
      const mark = this.tombstones.get(cacheKey(token));
      if (mark && !this.expired(mark, now)) return null;
    }
    const fence = this.fence && !this.expired(this.fence, now) ? this.fence : null;
    if (fence && fence.lsn === null) return null;
    for (let i = 0; i < this.replicas.length; i++) {
      const n = (this.next + i) % this.replicas.length;
      const state = this.states[n] as ReplicaState;
      if (!(state.lagMs <= this.maxLagMs) || state.replay === null) continue;
      if (fence?.lsn != null && state.replay < fence.lsn) continue;
      this.next = n + 1;
      return n;
    }
    return null;
  }

  /**
   * A mark (tombstone or fence) can go once the primary position it names is older than the lag
   * bound: any replica still asked has replayed past it. Until that position is known it stays.
   */
  private expired(mark: Mark, now: number): boolean {
    return mark.lsn !== null && now - mark.at > this.maxLagMs;
  }

  private unusable(n: number, err: Error): void {
    const state = this.states[n] as ReplicaState;
    state.lagMs = Number.POSITIVE_INFINITY;
    state.replay = null;
    if (!state.failing) this.options.onError?.(n, err);
    state.failing = true;
  }

  private async sample(): Promise<void> {
    if (this.sampling || this.closed) return;
    this.sampling = true;
    const started = Date.now();
    try {
      let lsn: bigint;
      try {
        const r = await this.primary.db.query<{ lsn: string }>(
          'select pg_current_wal_lsn()::text as lsn',
        );
        lsn = parseLsn(r.rows[0]?.lsn ?? '0/0');
      } catch {
        // No primary to compare with (down, or a standby during a failover): no replica is safe.
        for (const state of this.states) state.lagMs = Number.POSITIVE_INFINITY;
        this.options.onSample?.(this.lags());
        return;
      }
      const at = Date.now();
      this.history.push({ at: started, lsn });
      while (
        this.history.length > 1 &&
        (this.history[0] as { at: number }).at < at - this.maxLagMs * 2 - this.sampleMs
      ) {
        this.history.shift();
      }
      this.resolve(started, lsn, at);
      await Promise.all(
        this.replicas.map(async (replica, n) => {
          try {
            const r = await replica.db.query<{ lsn: string | null }>(
              `select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                       else pg_current_wal_lsn() end)::text as lsn`,
            );
            const replay = r.rows[0]?.lsn ? parseLsn(r.rows[0].lsn) : null;
            const state = this.states[n] as ReplicaState;
            state.replay = replay;
            state.failing = false;
            state.lagMs = replay === null ? Number.POSITIVE_INFINITY : this.lagOf(replay);
          } catch (err) {
            this.unusable(n, err as Error);
          }
        }),
      );
      this.options.onSample?.(this.lags());
    } finally {
      this.sampling = false;
    }
  }

  /** Age of the newest primary sample that `replay` has reached (Infinity: none kept). */
  private lagOf(replay: bigint): number {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i] as { at: number; lsn: bigint };
      if (s.lsn <= replay) {
        // Reached the newest sample: no lag that sampling can see.
        return i === this.history.length - 1 ? 0 : Date.now() - s.at;
      }
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Marks made before this sample started learn the primary's position. */
  private resolve(started: number, lsn: bigint, at: number): void {
    const learn = (mark: Mark): void => {
      if (mark.lsn === null && mark.since < started) {
        mark.lsn = lsn;
        mark.at = at;
      }
    };
    if (this.fence) learn(this.fence);
    for (const [key, mark] of this.tombstones) {
      learn(mark);
      if (this.expired(mark, at)) this.tombstones.delete(key);
    }
  }
}
