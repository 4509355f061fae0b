/**
 * Liveness, readiness and metrics: for orchestrators and Prometheus, never behind a token.
 * /metrics answers clients on this host only (or nobody, where it has a listener of its own):
 * what it tells helps an outsider time an attack.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { pendingMigrations } from '../../migrate.ts';
import type { Gateway } from '../context.ts';
import { sendError } from '../errors.ts';
import { errors } from '../schemas.ts';

/** How long readiness waits for the database before it answers 503. */
const READY_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const status = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
} as const;

function loopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}

/** Headers a proxy adds: a request that came through one is not from this host. */
const FORWARDING = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * A request from this very host: the TCP peer and the client IP (after --trust-proxy) are both
 * loopback, and no proxy on this host passed it on (a reverse proxy here would make every
 * client look local).
 */
function fromThisHost(request: FastifyRequest): boolean {
  return (
    loopback(request.socket.remoteAddress) &&
    loopback(request.ip) &&
    FORWARDING.every((h) => request.headers[h] === undefined)
  );
}

export interface OpsOptions {
  /** Who may read /metrics here: clients on this host, or nobody. */
  metrics: 'loopback' | false;
}

const readiness = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    cache: {
      type: 'string',
      enum: ['on', 'off', 'disabled'],
      description:
        'on: validations are served from memory; disabled: the cache is configured but its probes do not prove that revocation notifications arrive (see cache_cause), so every validation asks the database; off: no cache',
    },
    cache_cause: { type: 'string' },
  },
  required: ['status', 'cache'],
} as const;

/** The cache's part of a readiness answer. */
function cacheReadiness(gw: Gateway): { cache: 'on' | 'off' | 'disabled'; cache_cause?: string } {
  if (!gw.cache || !gw.guard) return { cache: 'off' };
  if (gw.guard.enabled) return { cache: 'on' };
  return { cache: 'disabled', cache_cause: gw.guard.cause ?? 'not proven yet' };
}

export function opsRoutes(app: FastifyInstance, gw: Gateway, options: OpsOptions): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness: the process answers (the database is not touched)',
        response: { 200: status },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary:
          'Readiness: the database answers, accepts writes, and no migration is pending; the body says whether the validation cache serves',
        response: { 200: readiness, ...errors(503) },
      },
    },
    async (request, reply) => {
      try {
        const [pending, readOnly] = await withTimeout(
          Promise.all([pendingMigrations(gw.db), gw.readOnly()]),
          READY_TIMEOUT_MS,
        );
        if (pending.length > 0) {
          return sendError(
            reply,
            'unavailable',
            `The service is unavailable: ${pending.length} migration(s) pending.`,
          );
        }
        if (readOnly) {
          request.log.warn('not ready: the database connection is read-only (a standby?)');
          return sendError(
            reply,
            'unavailable',
            'The service is unavailable: the database is read-only.',
          );
        }
        return { status: 'ready', ...cacheReadiness(gw) };
      } catch (err) {
        request.log.warn({ cause: { message: (err as Error).message } }, 'not ready');
        return sendError(reply, 'unavailable');
      }
    },
  );

  if (options.metrics === false) return;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics (clients on this host only; else 404)',
        produces: ['text/plain'],
        response: { 200: { type: 'string' }, ...errors(404) },
      },
    },
    async (request, reply) => {
      if (!fromThisHost(request)) return sendError(reply, 'not_found');
      const body = await gw.metrics.registry.metrics();
      return reply.type(gw.metrics.registry.contentType).send(body);
    },
  );
}
