/**
 * CORS for browser pages of other origins: exact origins only (--cors-origin), never a wildcard,
 * never credentials. The gateway authenticates by the Authorization header, not by cookies, so a
 * page needs no credentials mode; allowing it would only widen what a listed origin could do.
 *
 * Every OPTIONS request is answered 204, so a preflight no longer ends in a 404; only a preflight
 * from a listed origin gets the Access-Control-* headers that let the browser go on. Answers to a
 * listed origin name it and expose the headers a client reads (Retry-After, WWW-Authenticate,
 * X-Request-Id), errors included: the headers are set before anything can fail.
 */
import type { FastifyInstance } from 'fastify';

const METHODS = 'GET, POST, DELETE';
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id';
const EXPOSED_HEADERS = 'retry-after, www-authenticate, x-request-id';
/** Seconds a browser may keep a preflight's answer. */
const MAX_AGE = '600';

/** `value` when it is an origin as a browser sends it (scheme://host[:port]), else null. */
export function exactOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // URL drops a default port and adds a trailing slash: an origin is exactly what origin gives.
  return url.origin === value ? value : null;
}

export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  const allowed = new Set(origins);
  const listed = (origin: string | undefined): origin is string =>
    origin !== undefined && allowed.has(origin);

  if (allowed.size > 0) {
    app.addHook('onRequest', (request, reply, done) => {
      // The answer depends on Origin wherever CORS is on: shared caches must keep them apart.
      reply.header('vary', 'Origin');
      const origin = request.headers.origin;
      if (listed(origin)) {
        reply.header('access-control-allow-origin', origin);
        reply.header('access-control-expose-headers', EXPOSED_HEADERS);
      }
      done();
    });
  }

  app.options('*', { schema: { hide: true } }, (request, reply) => {
    const origin = request.headers.origin;
    if (listed(origin) && request.headers['access-control-request-method']) {
      reply.header('access-control-allow-methods', METHODS);
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', MAX_AGE);
    } else {
      // Not a preflight of a listed origin: the browser gets nothing that lets it go on.
      reply.removeHeader('access-control-allow-origin');
      reply.removeHeader('access-control-expose-headers');
    }
    reply.header('allow', `${METHODS}, OPTIONS`);
    return reply.code(204).send();
  });
}
