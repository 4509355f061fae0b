/**
 * Prometheus metrics of one gateway instance, in its own registry (several apps may live in one
 * process, as in the tests): requests by route, method, status and duration; logins and
 * validations by outcome; database calls in flight against the pool size.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  logins: Counter<'outcome'>;
  validations: Counter<'outcome'>;
  dbInFlight: Gauge;
  dbPoolSize: Gauge;
  cacheEnabled: Gauge;
  validationReads: Counter<'source'>;
  replicaLag: Gauge<'replica'>;
  purged: Counter<'kind'>;
  retentionRounds: Counter<'outcome'>;
  retentionRunning: Gauge;
}

export function createMetrics(poolSize: number, defaults: boolean): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  const dbPoolSize = new Gauge({
    name: 'pgauth_db_pool_size',
    help: 'Maximum number of database connections of the gateway',
    registers: [registry],
  });
  dbPoolSize.set(poolSize);
  return {
    registry,
    logins: new Counter({
      name: 'pgauth_logins_total',
      help: 'Login attempts by outcome (success, failure, rate_limited)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    validations: new Counter({
      name: 'pgauth_validations_total',
      help: 'Access token validations by outcome (valid, invalid)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    dbInFlight: new Gauge({
      name: 'pgauth_db_calls_in_flight',
      help: 'Database calls of the gateway in progress (pool connections in use or awaited)',
      registers: [registry],
    }),
    dbPoolSize,
    validationReads: new Counter({
      name: 'pgauth_validation_reads_total',
      help: 'Validations that asked the database, by who answered (replica, primary); with read replicas only',
      labelNames: ['source'],
      registers: [registry],
    }),
    replicaLag: new Gauge({
      name: 'pgauth_replica_lag_seconds',
      help: 'Lag of each read replica behind the primary at the last sample (+Inf: unknown or not answering)',
      labelNames: ['replica'],
      registers: [registry],
    }),
    purged: new Counter({
      name: 'pgauth_purged_total',
      help: 'Rows deleted by the retention job of this gateway (--purge-interval), by kind (sessions, service_tokens)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    retentionRounds: new Counter({
      name: 'pgauth_retention_rounds_total',
      help: 'Rounds of the retention job of this gateway, by outcome (done, failed: retried at the next interval, refused: the role may not purge, and the job stopped)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    retentionRunning: new Gauge({
      name: 'pgauth_retention_running',
      help: 'Whether the retention job runs in this gateway (1), or not (0: --purge-interval 0, or stopped after a refusal)',
      registers: [registry],
    }),
    cacheEnabled: new Gauge({
      name: 'pgauth_cache_enabled',
      help: 'Whether the validation cache serves from memory (1): its probes prove that revocation notifications arrive',
      registers: [registry],
    }),
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's metrics, for a listener of their own (metrics-listener.ts). */
    pgauthMetrics: {
      registry: Registry;
      /** Runs `close` when the gateway closes. */
      onClose(close: () => Promise<void>): void;
    };
  }
}

/** Times every request and counts it by route pattern (never the raw URL), method and status. */
export const requestMetrics = fp(
  async (app: FastifyInstance, opts: { metrics: Metrics }) => {
    const labelNames = ['route', 'method', 'status'] as const;
    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames,
      registers: [opts.metrics.registry],
    });
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route, method and status',
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [opts.metrics.registry],
    });
    // One labels object per route, method and status, made once: prom-client reads it on every
    // count, and a fresh object a request was a share of the hot path worth keeping.
    const labelsOf = new Map<string, { route: string; method: string; status: string }>();
    // The duration is Fastify's own (reply.elapsedTime: from the routing of the request to the
    // end of its answer), so that timing takes no hook of its own.
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${reply.statusCode} ${request.method} ${route}`;
      let labels = labelsOf.get(key);
      if (labels === undefined) {
        labels = { route, method: request.method, status: String(reply.statusCode) };
        labelsOf.set(key, labels);
      }
      requests.inc(labels);
      // 0: an answer Fastify did not time (a malformed URL answered before routing).
      const ms = reply.elapsedTime;
      if (ms > 0) duration.observe(labels, ms / 1e3);
      done();
    });
  },
  { name: 'pgauth-request-metrics' },
);
