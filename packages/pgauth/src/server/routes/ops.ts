/** Liveness, readiness and metrics: for orchestrators and Prometheus, never behind a token. */
import type { FastifyInstance } from 'fastify';
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

export function opsRoutes(app: FastifyInstance, gw: Gateway): void {
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

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      const body = await gw.metrics.registry.metrics();
      return reply.type(gw.metrics.registry.contentType).send(body);
    },
  );
}
