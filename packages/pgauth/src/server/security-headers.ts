/**
 * Security headers of every answer: a Content-Security-Policy, no MIME sniffing, no Referer, no
 * framing. API answers are JSON that no browser should ever render as a page, so their policy
 * allows nothing at all. /docs (Swagger UI) gets the one policy it needs: its own script and
 * style files from 'self' (it has nothing inline), images from 'self' and data: URIs (its
 * stylesheet draws its icons that way), and fetches of its own origin (the OpenAPI document).
 *
 * Threat model: a page of another site may frame /docs (clickjacking) or get a browser to render
 * an answer that echoes input; a script injected into /docs would run with the origin of the
 * gateway. The admin console (/console) gets the policy of /docs without data: images, and a
 * Cross-Origin-Opener-Policy: its scripts and styles are files of its own, so no inline script
 * runs there at all, and a window it did not open cannot reach it. TLS and HSTS are the job of
 * the proxy that terminates TLS (docs/security.md).
 */
import type { FastifyInstance } from 'fastify';

const COMMON = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

const LOCKED = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const API_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON,
  'content-security-policy': LOCKED,
};

const DOCS_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON,
  'content-security-policy': `${LOCKED}; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'`,
};

const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON,
  'content-security-policy': `${LOCKED}; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'`,
  'cross-origin-opener-policy': 'same-origin',
};

/** Whether `url` is `prefix` itself or a path or query under it. */
function under(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`);
}

/** The headers every answer to `url` carries (for routes that write their own head, too). */
export function securityHeaders(url: string): Readonly<Record<string, string>> {
  if (under(url, '/docs')) return DOCS_HEADERS;
  if (under(url, '/console')) return CONSOLE_HEADERS;
  return API_HEADERS;
}

/** Sets them first thing on every request, so that errors and 404s carry them too. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(securityHeaders(request.url));
    done();
  });
}
