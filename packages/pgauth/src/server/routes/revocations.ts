/**
 * `GET /v1/revocations` (and `GET /v1/admin/revocations`, for the admin console): the gateway's
 * revocation events as Server-Sent Events, so that an HTTP client (the SDK in HTTP mode) can
 * cache validations as safely as a client with its own LISTEN.
 *
 * The stream is only offered while the gateway's own subscription is live, and it is ended when
 * that subscription drops or resubscribes: a client must then empty its cache and reconnect,
 * exactly as it would on losing its own LISTEN connection. It also ends when the caller's own
 * token would no longer be accepted: at its expiry (a timer to the session's expires_at, then
 * the database's word), when its session is revoked, or when its account loses the role the
 * route needs (`introspect`, or `admin` for the admin route).
 *
 * Threat model: any role that can connect to the database can NOTIFY pgauth_revocations, so an
 * event proves nothing. Events are passed on as eviction hints; none ends a stream. When one names
 * the caller's own token (or is a flush), the database is asked whether the caller's session still
 * holds, and only its answer ends the stream.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RevocationEvent } from '@pgauth/client/internal';
import { AuthError, cacheKey } from '@pgauth/client/internal';
import type { FastifyInstance } from 'fastify';
import { bearerToken, type Gateway } from '../context.ts';
import { bearer, errors } from '../schemas.ts';

export interface RevocationStreamOptions {
  /**
   * Interval of the `: ping` comments that prove the stream alive (default 1,000 ms). A client
   * counts the stream lost after twice this without a byte (the SDK: at most 2 s), which bounds
   * how long a silently cut stream lets it serve a revoked token.
   */
  heartbeatMs?: number;
}

/** What the OpenAPI document says of both streams; the role each needs follows. */
const STREAM_DESCRIPTION =
  'First `event: ready` with `{"heartbeat_ms": n, "probe_ms": m}`, then `event: probe` (data `{}`) each time the gateway proved that notifications reach it, at most probe_ms apart while they do (a client caches only while probes arrive), and one `event: revocation` per pgauth_revocations notification, with `{"keys": [...]}` (the cache keys of the access tokens to evict: the first 16 hex digits of their SHA-256) or `{"flush": true}` (evict everything), and a `: ping` comment every heartbeat_ms. Events are hints: evict, then ask again. The stream ends when the gateway loses its own subscription (drop every cached validation and reconnect), or when the caller\'s token would no longer be accepted: at its expiry, when its session is revoked, or when its account loses the role';

/** The longest delay setTimeout takes (about 24.8 days); a later expiry is re-armed then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The event as the SDK's parser reads it; session ids only from a database before 0010. */
function frame(event: RevocationEvent): string {
  const data = event.flush
    ? { flush: true }
    : event.sessionIds.length > 0
      ? { keys: event.keys, session_ids: event.sessionIds }
      : { keys: event.keys };
  return `event: revocation\ndata: ${JSON.stringify(data)}\n\n`;
}

export function revocationRoutes(
  app: FastifyInstance,
  gw: Gateway,
  options: RevocationStreamOptions = {},
): void {
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const open = new Set<() => void>();
  // Streams never finish by themselves: end them so that a graceful shutdown does not wait.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  // The same stream for services (introspect) and for the admin console (admin), each ended
  // when its caller loses its own role.
  for (const { url, role, tag } of [
    { url: '/v1/revocations', role: 'introspect', tag: 'account' },
    { url: '/v1/admin/revocations', role: 'admin', tag: 'admin' },
  ]) {
    app.get(
      url,
      {
        schema: {
          tags: [tag],
          summary: `Revocation events as Server-Sent Events (role ${role})`,
          description: `${STREAM_DESCRIPTION} ${role}.`,
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
        const caller = await gw.authorize(request, role);
        const token = bearerToken(request) as string;
        const callerKey = cacheKey(token);
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
        // The head the hooks set (security headers, CORS, request id) is written by hand here.
        res.writeHead(200, {
          ...(reply.getHeaders() as OutgoingHttpHeaders),
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-request-id': request.id,
        });
        const probeMs = gw.guard ? gw.guard.intervalMs + gw.guard.timeoutMs : undefined;
        res.write(
          `event: ready\ndata: ${JSON.stringify({ heartbeat_ms: heartbeatMs, probe_ms: probeMs })}\n\n`,
        );
        const ping = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
        let expiry: NodeJS.Timeout | undefined;
        let offEvent = (): void => {};
        let offState = (): void => {};
        // Each probe of the gateway's that came back is passed on: the client's proof that the
        // whole path, database to gateway to this stream, delivers now (client probe.ts).
        const offProbe =
          gw.guard?.onPass(() => res.write('event: probe\ndata: {}\n\n')) ?? (() => {});
        const end = (): void => {
          clearInterval(ping);
          clearTimeout(expiry);
          offEvent();
          offState();
          offProbe();
          open.delete(end);
          if (!res.writableEnded) res.end();
        };
        open.add(end);
        // One check at a time; an event naming the caller during a check makes it run once more,
        // so that a revocation committed while a check was reading is never missed.
        let checking = false;
        let again = false;
        const recheck = async (): Promise<void> => {
          if (checking) {
            again = true;
            return;
          }
          checking = true;
          try {
            do {
              again = false;
              // A database that does not answer ends the stream too (fail closed): the client
              // empties its cache and reconnects, which is all a forged event can then cost.
              const session = await gw.validate(token).catch(() => null);
              if (!session?.roles.includes(role)) {
                end();
                return;
              }
              untilExpiry(session.expiresAt);
            } while (again && !res.writableEnded);
          } finally {
            checking = false;
          }
        };
        // At the session's expiry the database is asked again, as for an event naming the caller.
        // Still valid then (the database's clock behind ours): asked again every second.
        const untilExpiry = (at: Date): void => {
          clearTimeout(expiry);
          const ms = at.getTime() - Date.now();
          expiry = setTimeout(() => void recheck(), ms > 0 ? Math.min(ms, MAX_TIMER_MS) : 1_000);
        };
        untilExpiry(caller.expiresAt);
        offEvent = feed.onEvent((event) => {
          res.write(frame(event));
          if (
            event.flush ||
            event.keys.includes(callerKey) ||
            event.sessionIds.includes(caller.sessionId)
          ) {
            void recheck();
          }
        });
        offState = feed.onState(end);
        request.raw.socket.on('close', end);
      },
    );
  }
}
