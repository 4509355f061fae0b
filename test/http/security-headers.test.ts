/**
 * Every answer of the gateway carries strict security headers: a Content-Security-Policy, no MIME
 * sniffing, no Referer, no framing. /docs (Swagger UI) gets the one policy it needs to work: its
 * own script and style files from 'self', images from 'self' and data: URIs (its stylesheet draws
 * icons that way), and fetches of its own origin (the OpenAPI document); nothing inline.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  call,
  createUser,
  login,
  parseHead,
  rawExchange,
  startApp,
  type TestApp,
} from './helpers.ts';

let a: TestApp;
before(async () => {
  a = await startApp();
});
after(() => a.close());

/** A CSP header as a map of directive → sources. */
function policy(header: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}

function assertStrict(headers: Headers, what: string): void {
  const csp = policy(headers.get('content-security-policy'));
  assert.deepEqual(csp.get('default-src'), ["'none'"], `${what}: default-src`);
  assert.deepEqual(csp.get('frame-ancestors'), ["'none'"], `${what}: frame-ancestors`);
  assert.deepEqual(csp.get('base-uri'), ["'none'"], `${what}: base-uri`);
  assert.deepEqual(csp.get('form-action'), ["'none'"], `${what}: form-action`);
  for (const [name, sources] of csp) {
    for (const s of sources) {
      assert.ok(
        !["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:'].includes(s),
        `${what}: ${name} allows ${s}`,
      );
    }
  }
  assert.equal(headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', what);
  assert.equal(headers.get('x-frame-options'), 'DENY', what);
}

test('every answer carries a strict CSP, nosniff, Referrer-Policy no-referrer and frame denial', async () => {
  await createUser(a, 'headed', ['introspect']);
  const tokens = await login(a, 'headed');
  const replies: [string, Headers][] = [];
  for (const [method, path, token] of [
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/openapi.json'],
    ['GET', '/v1/session', tokens.access_token],
    ['GET', '/v1/session'],
    ['GET', '/no/such/route'],
    ['POST', '/v1/login'],
    ['GET', '/docs'],
    ['GET', '/docs/static/swagger-ui.css'],
    ['GET', '/console'],
    ['GET', '/console/no-such-file.js'],
  ] as const) {
    const r = await call(a, method, path, token ? { token } : {});
    replies.push([`${method} ${path} (${r.status})`, r.headers]);
  }
  // The event stream writes its own head.
  const controller = new AbortController();
  const stream = await fetch(`${a.url}/v1/revocations`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
    signal: controller.signal,
  });
  assert.equal(stream.status, 200);
  replies.push(['GET /v1/revocations (200)', stream.headers]);
  controller.abort();
  for (const [what, headers] of replies) assertStrict(headers, what);
});

test('/docs loads under its CSP: every script and stylesheet is a file of its own origin, none inline, each served', async () => {
  const page = await fetch(`${a.url}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const csp = policy(page.headers.get('content-security-policy'));
  assert.deepEqual(csp.get('script-src'), ["'self'"]);
  assert.deepEqual(csp.get('style-src'), ["'self'"]);
  assert.deepEqual(csp.get('img-src')?.sort(), ["'self'", 'data:']);
  assert.deepEqual(csp.get('connect-src'), ["'self'"]);
  const html = await page.text();

  // Nothing the policy would block: no inline script, style, handler or javascript: URL.
  assert.doesNotMatch(html, /<style/i, 'an inline <style>');
  assert.doesNotMatch(html, /\sstyle\s*=/i, 'a style attribute');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'an inline event handler');
  assert.doesNotMatch(html, /javascript:/i);
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.ok(scripts.length >= 3, 'the Swagger UI scripts');
  const files: [string, RegExp][] = [];
  for (const [, attrs, body] of scripts) {
    assert.equal(body?.trim(), '', 'an inline script');
    const src = /\ssrc="([^"]+)"/.exec(attrs ?? '')?.[1];
    assert.ok(src, 'a script without src');
    files.push([src, /javascript/]);
  }
  for (const [, href] of html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/gi)) {
    files.push([href ?? '', /^text\/css/]);
  }
  assert.ok(
    files.some(([, type]) => String(type) === String(/^text\/css/)),
    'a stylesheet',
  );
  const origin = new URL(a.url).origin;
  for (const [ref, type] of files) {
    const url = new URL(ref, `${a.url}/docs`);
    assert.equal(url.origin, origin, `${ref} is not from 'self'`);
    const r = await fetch(url);
    assert.equal(r.status, 200, ref);
    assert.match(r.headers.get('content-type') ?? '', type, ref);
    const text = await r.text();
    if (/css/.test(String(type))) {
      // Every url() of the stylesheets is a data: URI or a file of this origin.
      for (const [, u] of text.matchAll(/url\(\s*["']?([^"')]+)/g)) {
        const target = new URL(u ?? '', url);
        assert.ok(
          target.protocol === 'data:' || target.origin === origin,
          `${ref} loads ${u?.slice(0, 60)}`,
        );
      }
    }
    if (ref.endsWith('swagger-initializer.js')) {
      // It fetches the OpenAPI document from ./json, on this origin (connect-src 'self').
      assert.match(text, /resolveUrl\('\.\/json'\)/);
      const doc = await fetch(`${a.url}/docs/json`);
      assert.equal(doc.status, 200);
      assert.match((await doc.json()).openapi, /^3\./);
    }
  }
});

test('/console: its own files only, nothing inline, no framing; assets immutable and compressed, the page revalidated', async () => {
  const page = await fetch(`${a.url}/console`, { headers: { 'accept-encoding': 'br, gzip' } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  const csp = policy(page.headers.get('content-security-policy'));
  for (const directive of ['script-src', 'style-src', 'img-src', 'connect-src']) {
    assert.deepEqual(csp.get(directive), ["'self'"], directive);
  }
  // fetch decodes: the encoding header says what came over the wire.
  assert.equal(page.headers.get('content-encoding'), 'br');
  const html = await page.text();
  assert.doesNotMatch(html, /<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:/i);
  const refs = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
  assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), html);
  for (const [, , body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    assert.equal(body?.trim(), '', 'an inline script');
  }
  for (const ref of refs) {
    assert.match(ref, /^\/console\/assets\/[\w-]+\.(js|css)$/, 'a hashed asset of the console');
    const gz = await fetch(`${a.url}${ref}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200, ref);
    assert.equal(gz.headers.get('content-encoding'), 'gzip', ref);
    assert.equal(gz.headers.get('cache-control'), 'public, max-age=31536000, immutable', ref);
    assert.equal(gz.headers.get('vary'), 'accept-encoding', ref);
    const plain = await fetch(`${a.url}${ref}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null, ref);
    assert.equal(await plain.text(), await gz.text(), `${ref}: the same bytes, decoded`);
    const etag = plain.headers.get('etag') ?? '';
    const again = await fetch(`${a.url}${ref}`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304, ref);
  }
  const missing = await call(a, 'GET', '/console/assets/nope.js');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error, 'not_found');
});

/** One request written byte for byte; the head of the answer as a Headers object. */
async function rawHead(url: string, request: string): Promise<[number, Headers]> {
  return parseHead(await rawExchange(url, request, true));
}

test('answers the router never sees carry them too: a refused Expect (417), a request the HTTP parser refuses (400)', async () => {
  const [expect, h1] = await rawHead(
    a.url,
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}',
  );
  assert.equal(expect, 417);
  assertStrict(h1, 'a refused Expect');
  const [bad, h2] = await rawHead(a.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  assert.equal(bad, 400);
  assertStrict(h2, 'a request the parser refused');
});
