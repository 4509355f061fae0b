/**
 * The proof a validation cache must hold before it serves from memory: notifications reach this
 * process, end to end, now. A LISTEN that the server accepted proves nothing: through a
 * transaction pooler (PgBouncer in transaction mode) LISTEN is accepted on whichever server
 * connection ran it, the connection goes back to the pool, and the notifications it should hear
 * go to somebody else's client or nowhere, while the heartbeat (`select 1`) still passes.
 *
 * So the guard sends a probe through the ordinary path (the pool the calls use: `select
 * pg_notify(<channel of this process>, <nonce>)`) and waits for it on the LISTEN connection. A
 * probe that does not come back within `timeoutMs` disables the cache at once (which empties it);
 * `PASSES_TO_ENABLE` consecutive probes that come back enable it again. One probe is out at a
 * time, every `intervalMs` while the cache is on, back to back while it is proving itself, so a
 * revocation whose notification is lost is served from memory at most intervalMs + timeoutMs.
 *
 * Over HTTP the SDK cannot send a probe of its own: the gateway passes each of its own passing
 * probes on as an `event: probe` of its revocation stream, and the SDK's guard (no `send`) takes
 * a gap longer than `timeoutMs` between two of them as a miss. A stream that stalls without
 * closing, or a gateway whose own LISTEN hears nothing, disables the SDK's cache the same way.
 */
import { randomBytes } from 'node:crypto';
import type { SessionCache } from './cache.ts';
import type { RevocationSubscription } from './revocations.ts';

export const PROBE_DEFAULTS = {
  /** Between a probe that came back and the next one, while the cache is on. */
  intervalMs: 500,
  /** The longest a probe may take to come back (over HTTP: the longest gap between two). */
  timeoutMs: 1_000,
} as const;

/** Probes in a row that must come back before the cache serves again. */
const PASSES_TO_ENABLE = 2;

/** Sends `nonce` on `channel` through the ordinary (pooled) path. */
export type ProbeSend = (channel: string, nonce: string) => Promise<void>;

export interface ProbeOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /**
   * What to tell the operator when a probe does not come back, after the cause (default: how
   * the SDK's option is named).
   */
  fix?: string;
}

/** A channel of this process alone, so that no other process hears (or has to skip) its probes. */
export function probeChannel(): string {
  return `pgauth_probe_${randomBytes(8).toString('hex')}`;
}

/**
 * `enabled`, the cause of a disable, and whether it is the cache's own fault: the database
 * answered the probe but the LISTEN connection never heard it (a misconfiguration to fix, not an
 * outage to wait out).
 */
type ChangeListener = (enabled: boolean, cause: string | null, deaf: boolean) => void;

export class CacheGuard {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  private readonly fix: string;
  private on = false;
  private why: string | null = 'the revocation subscription is not live yet';
  private live = false;
  private closed = false;
  private passes = 0;
  private pending: { nonce: string; timer: NodeJS.Timeout } | null = null;
  private next: NodeJS.Timeout | null = null;
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly passListeners = new Set<() => void>();

  /**
   * `send` null: probes are not sent here but arrive by themselves (the gateway's, over its
   * event stream); each arrival is a pass, a gap longer than timeoutMs a miss.
   */
  constructor(
    private readonly send: ProbeSend | null,
    readonly channel: string,
    options: ProbeOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? PROBE_DEFAULTS.intervalMs;
    this.timeoutMs = options.timeoutMs ?? PROBE_DEFAULTS.timeoutMs;
    if (!(this.intervalMs > 0) || !(this.timeoutMs > 0)) {
      throw new TypeError('probe intervalMs and timeoutMs must be > 0');
    }
    this.fix =
      options.fix ??
      'LISTEN through a transaction pooler receives nothing: set listenUrl to a direct connection';
  }

  /** Whether the cache may serve from memory. */
  get enabled(): boolean {
    return this.on;
  }

  /** Why it may not, or null while it may. */
  get cause(): string | null {
    return this.why;
  }

  /**
   * Told of every change between enabled and disabled, with the cause of a disable, and of a new
   * cause while disabled (a cache that never came on still says why).
   */
  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Told of every probe that came back in time. */
  onPass(listener: () => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  /** The subscription went live (probing starts at once) or was lost (disabled at once). */
  setLive(live: boolean): void {
    if (this.closed) return;
    this.live = live;
    this.stop();
    if (!live) {
      this.disable('the revocation subscription is not live');
      return;
    }
    this.passes = 0;
    if (this.send) this.probe();
    else this.expect();
  }

  /** A payload heard on the probe channel. */
  heard(payload: string): void {
    if (this.closed || !this.live) return;
    if (this.send) {
      if (this.pending?.nonce !== payload) return;
      clearTimeout(this.pending.timer);
      this.pending = null;
      this.pass();
      // While proving itself the guard probes back to back; once on, at its interval.
      this.schedule(this.on ? this.intervalMs : 0);
    } else {
      this.pass();
      this.expect();
    }
  }

  /** Stops probing; the cache is off from now on (its owner is closing: nobody is told). */
  close(): void {
    this.closed = true;
    this.stop();
    this.on = false;
    this.why = 'closed';
  }

  private pass(): void {
    this.passes++;
    for (const listener of this.passListeners) listener();
    if (!this.on && this.passes >= PASSES_TO_ENABLE) {
      this.on = true;
      this.why = null;
      for (const listener of this.changeListeners) listener(true, null, false);
    }
  }

  private miss(cause: string, deaf = false): void {
    this.pending = null;
    this.passes = 0;
    this.disable(cause, deaf);
  }

  /** Tells the listeners when the cache goes off, and when the cause of its being off changes. */
  private disable(cause: string, deaf = false): void {
    const told = this.on || this.why !== cause;
    this.on = false;
    this.why = cause;
    if (told) for (const listener of this.changeListeners) listener(false, cause, deaf);
  }

  private stop(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = null;
    if (this.next) clearTimeout(this.next);
    this.next = null;
  }

  private schedule(ms: number): void {
    if (this.next) clearTimeout(this.next);
    this.next = setTimeout(() => {
      this.next = null;
      this.probe();
    }, ms);
    this.next.unref?.();
  }

  /** Sends one probe; its timer turns silence into a miss. */
  private probe(): void {
    if (this.closed || !this.live || !this.send || this.pending) return;
    const nonce = randomBytes(12).toString('base64url');
    /** Whether the database acknowledged the probe: only then is silence the LISTEN's fault. */
    let sent = false;
    const timer = setTimeout(() => {
      if (this.pending?.nonce !== nonce) return;
      if (sent) {
        this.miss(
          `a notification sent through the database connection did not come back on the LISTEN connection within ${this.timeoutMs} ms; ${this.fix}`,
          true,
        );
      } else {
        // A database that froze or is unreachable: an outage, not a misconfiguration.
        this.miss(`the database did not answer the probe within ${this.timeoutMs} ms`);
      }
      this.schedule(this.intervalMs);
    }, this.timeoutMs);
    timer.unref?.();
    this.pending = { nonce, timer };
    this.send(this.channel, nonce).then(
      () => {
        sent = true;
      },
      (err: Error) => {
        if (this.pending?.nonce !== nonce) return;
        clearTimeout(timer);
        this.miss(`the probe notification could not be sent: ${err.message}`);
        this.schedule(this.intervalMs);
      },
    );
  }

  /** Over a stream: the next probe must arrive within timeoutMs. */
  private expect(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    const timer = setTimeout(() => {
      this.miss(
        `no probe arrived on the revocation stream for ${this.timeoutMs} ms: the stream stalled, or the gateway's own LISTEN hears nothing`,
      );
      this.expect();
    }, this.timeoutMs);
    timer.unref?.();
    this.pending = { nonce: '', timer };
  }
}

/**
 * Wires a guard between a subscription and a cache: the guard probes while the subscription is
 * live, hears its probes, and the cache serves only while the guard says so (every change of
 * state empties it).
 */
export function guardCache(
  subscription: RevocationSubscription,
  guard: CacheGuard,
  cache: SessionCache | null,
  onEmptied?: (sessionIds: string[]) => void,
): void {
  if (cache) {
    guard.onChange((enabled) => {
      const dropped = cache.setSubscribed(enabled);
      if (dropped.length > 0) onEmptied?.(dropped);
    });
  }
  subscription.onProbe((payload) => guard.heard(payload));
  subscription.onState((live) => guard.setLive(live));
}
