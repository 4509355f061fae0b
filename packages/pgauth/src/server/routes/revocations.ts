/**
 * `GET /v1/revocations`: the gateway's revocation events as Server-Sent Events, so that an HTTP
 * client (the SDK in HTTP mode) can cache validations as safely as a client with its own LISTEN.
 *
 * The stream is only offered while the gateway's own subscription is live, and it is ended when
 * that subscription drops or resynchronises: a client must then empty its cache and reconnect,
 * exactly as it would on losing its own LISTEN connection. It also ends when the caller's own
 * session is revoked.
 */
import type { ServerResponse } from 'node:http';
import type { RevocationEvent } from '@pgauth/client/internal';
import { AuthError } from '@pgauth/client/internal';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../context.ts';
import { bearer, errors } from '../schemas.ts';

export interface RevocationStreamOptions {
  /** Interval of the `: ping` comments that prove the stream alive (default 15,000 ms). */
  heartbeatMs?: number;
}

function frame(event: RevocationEvent): string {
  const data = { user_id: event.userId, session_ids: event.sessionIds, reason: event.reason };
  return `event: revocation\ndata: ${JSON.stringify(data)}\n\n`;
}

export function revocationRoutes(
  app: FastifyInstance,
  gw: Gateway,
  options: RevocationStreamOptions = {},
): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const open = new Set<() => void>();
  // Streams never finish by themselves: end them so that a graceful shutdown does not wait.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/v1/revocations',
    {
      schema: {
        tags: ['account'],
        summary: 'Revocation events as Server-Sent Events (role introspect)',
        description:
          'First `event: ready` with `{"heartbeat_ms": n}`, then one `event: revocation` with `{"user_id", "session_ids", "reason"}` per pgauth_revocations notification, and a `: ping` comment every heartbeat_ms. The stream ends when the gateway loses its own subscription: drop every cached validation and reconnect.',
        security: bearer,
        response: {
          200: {
            description: 'An event stream',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errors(401, 403, 503),
        },
      },
    },
    async (request, reply) => {
      const caller = await gw.authorize(request, 'introspect');
      const feed = gw.revocations;
      if (!feed?.subscribed) {
        throw new AuthError(
          'unavailable',
          feed
            ? undefined
            : 'The service is unavailable: this gateway has no revocation feed (embedded database).',
        );
      }
      reply.hijack();
      const res: ServerResponse = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      res.write(`event: ready\ndata: ${JSON.stringify({ heartbeat_ms: heartbeatMs })}\n\n`);
      const ping = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
      let offEvent = (): void => {};
      let offState = (): void => {};
      const end = (): void => {
        clearInterval(ping);
        offEvent();
        offState();
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      offEvent = feed.onEvent((event) => {
        res.write(frame(event));
        if (event.sessionIds.includes(caller.sessionId)) end();
      });
      offState = feed.onState(end);
      request.raw.socket.on('close', end);
    },
  );
}
