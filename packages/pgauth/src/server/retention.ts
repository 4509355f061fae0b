/**
 * The gateway's retention job. Every --purge-interval it runs one round of pgauth's retention
 * (adminOperations.purge): sessions that ended longer than settings.session_retention ago, the
 * refresh rotation salts whose grace window has passed (a database read together with an old
 * refresh token must not derive a live pair for longer than that), password-check tickets nobody
 * read, expired link tokens and login challenges, and client-credentials token rows past their
 * expiry. Without it those rows stay until someone schedules pgauth.purge_expired(); with it a
 * deployment is safe by default. Several gateways may run it: an advisory lock lets one at a time
 * do each step. A database role that may not run it (no pgauth_admin) gets one error line, and
 * the job stops: `pgauth purge` from cron is the other way.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AdminOperations, PurgeReport } from '../operations.ts';

export interface RetentionJob {
  /** Resolves once no round is running; none starts after. */
  stop(): Promise<void>;
}

/** How a round ended: rows deleted (or none to delete), an error retried next time, or refused. */
export type RoundOutcome = 'done' | 'failed' | 'refused';

/** What the job tells as it goes (the gateway's metrics). */
export interface RetentionObserver {
  report(report: PurgeReport): void;
  round(outcome: RoundOutcome): void;
  /** Whether the job runs on its interval: true at start, false once it stopped. */
  running(on: boolean): void;
}

export function startRetention(
  ops: Pick<AdminOperations, 'purge'>,
  intervalMs: number,
  log: FastifyBaseLogger,
  observe: RetentionObserver,
): RetentionJob {
  let running: Promise<void> | null = null;
  let stopped = false;
  const round = async (): Promise<void> => {
    try {
      const report = await ops.purge();
      observe.report(report);
      observe.round('done');
      if (report.sessions || report.serviceTokens) log.info({ purged: report }, 'retention round');
      else log.debug({ purged: report }, 'retention round');
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (code === '42501') {
        // Stopped before the round is counted: whoever sees the count sees the job stopped.
        stop();
        observe.round('refused');
        log.error(
          'retention: this database role may not run pgauth.purge_expired (it needs pgauth_admin), so ended sessions and spent refresh salts are not deleted by this gateway: grant pgauth_admin to the role, or start the gateways with --purge-interval 0 and run `pgauth purge` from cron every minute',
        );
        return;
      }
      observe.round('failed');
      log.warn({ cause: { code } }, 'retention round failed; the next one retries');
    }
  };
  const tick = (): void => {
    if (stopped || running) return;
    running = round().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  observe.running(true);
  tick();
  function stop(): void {
    if (!stopped) observe.running(false);
    stopped = true;
    clearInterval(timer);
  }
  return {
    async stop() {
      stop();
      while (running) await running;
    },
  };
}
