/**
 * The gateway's read replicas (--read-url): validation and introspection read them through the
 * client's ReplicaRouter (lag bound, tombstones and fences: @pgauth/client replicas.ts), fed by
 * the gateway's revocation events and trusted only while its cache guard proves that those events
 * arrive. Counted in the metrics: who answered each validation, and each replica's lag.
 */
import {
  type CacheGuard,
  type Database,
  fastValidate,
  ReplicaRouter,
  type RevocationSubscription,
  type ServiceOperations,
  type Session,
} from '@pgauth/client/internal';
import type { Metrics } from './metrics.ts';

export interface ReadReplicaOptions {
  replicas: readonly Database[];
  maxLagMs?: number;
  onError?: (replica: number, err: Error) => void;
}

/** A router over `replicas`, started; null without replicas. */
export function readReplicas(
  primary: { db: Database; validate: (token: string) => Promise<Session | null> },
  options: ReadReplicaOptions,
  feed: { revocations: RevocationSubscription | null; guard: CacheGuard | null },
  metrics: Metrics,
  calls: (db: Database) => ServiceOperations,
): ReplicaRouter | null {
  if (options.replicas.length === 0) return null;
  const router = new ReplicaRouter(
    primary,
    options.replicas.map((db) => ({ db, validate: fastValidate(calls(db)) })),
    {
      maxLagMs: options.maxLagMs,
      // Without proven notifications there are no tombstones: replicas wait for the proof.
      trusted: () => feed.guard?.enabled === true,
      onError: options.onError,
      onRead: (source) => metrics.validationReads.inc({ source }),
      onSample: (lags) =>
        lags.forEach((ms, i) => {
          metrics.replicaLag.set({ replica: String(i) }, ms / 1000);
        }),
    },
  );
  feed.revocations?.onEvent((event) => router.apply(event));
  // Whatever was missed before the feed was proven again is behind a fence.
  feed.guard?.onChange(() => router.fenceAll());
  return router.start();
}
