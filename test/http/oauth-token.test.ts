/**
 * POST /oauth2/token, client credentials (RFC 6749 §4.4), over real HTTP: client_secret_basic and
 * client_secret_post, the scope limited to the roles held, every §5.2 error with its status and
 * headers, the shared limit, and JWT access tokens that verify against the published JWKS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { call, createSession, type Reply, startApp, type Tokens, useApp } from './helpers.ts';

const KEK = randomBytes(32);
let admin: Tokens;
const a = useApp({ keyEncryptionKey: KEK }, async (app) => {
  admin = await createSession(app, 'root', ['admin']);
});

async function client(name: string, roles: string[], format?: 'jwt'): Promise<string> {
  await a.t.db.query('select pgauth.create_service_account($1, $2::text[])', [name, roles]);
  if (format)
    await a.t.db.query('select pgauth.set_service_account_token_format($1, $2)', [name, format]);
  const r = await call(a, 'POST', `/v1/admin/service-accounts/${name}/api-keys`, {
    token: admin.access_token,
    json: { name: 'test' },
  });
  return r.json.key;
}

function basic(id: string, secret: string): Record<string, string> {
  const enc = (s: string) => encodeURIComponent(s).replaceAll('%20', '+');
  return { authorization: `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}` };
}

function token(form: Record<string, string>, headers: Record<string, string> = {}) {
  return call(a, 'POST', '/oauth2/token', { form, headers });
}

function assertNoStore(r: Reply): void {
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.headers.get('pragma'), 'no-cache');
}

function assertOAuthError(r: Reply, status: number, error: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error, error, r.text);
  assert.equal(typeof r.json.error_description, 'string');
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'error_description']);
  assertNoStore(r);
}

test('client_secret_basic: an opaque Bearer token with every role, no refresh token, no-store', async () => {
  const key = await client('svc-basic', ['a.read', 'a.write']);
  const r = await token({ grant_type: 'client_credentials' }, basic('svc-basic', key));
  assert.equal(r.status, 200, r.text);
  assertNoStore(r);
  assert.deepEqual(Object.keys(r.json).sort(), [
    'access_token',
    'expires_in',
    'scope',
    'token_type',
  ]);
  assert.equal(r.json.token_type, 'Bearer');
  assert.match(r.json.access_token, /^pgs_/);
  assert.equal(r.json.scope, 'a.read a.write');
  assert.ok(r.json.expires_in > 0 && r.json.expires_in <= 300, String(r.json.expires_in));
  const s = await call(a, 'GET', '/v1/session', { token: r.json.access_token });
  assert.equal(s.json.subject_type, 'service_account');
  assert.equal(s.json.username, 'svc-basic');
});

test('client_secret_post with a scope: the token carries only the roles asked for', async () => {
  const key = await client('svc-post', ['a.read', 'a.write']);
  const r = await token({
    grant_type: 'client_credentials',
    client_id: 'svc-post',
    client_secret: key,
    scope: 'a.read',
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.scope, 'a.read');
  const s = await call(a, 'GET', '/v1/session', { token: r.json.access_token });
  assert.deepEqual(s.json.roles, ['a.read']);
});

test('invalid_client is 401 with WWW-Authenticate: Basic, alike for an unknown client, a wrong or revoked secret', async () => {
  const key = await client('svc-bad', ['x']);
  const attempts: [Record<string, string>, Record<string, string>][] = [
    [{ grant_type: 'client_credentials' }, basic('svc-bad', `${key}x`)],
    [{ grant_type: 'client_credentials' }, basic('nobody', key)],
    [{ grant_type: 'client_credentials', client_id: 'svc-bad', client_secret: 'nope' }, {}],
    [{ grant_type: 'client_credentials', client_id: 'svc-bad' }, {}],
    [{ grant_type: 'client_credentials' }, {}],
  ];
  const bodies = new Set<string>();
  for (const [form, headers] of attempts) {
    const r = await token(form, headers);
    assertOAuthError(r, 401, 'invalid_client');
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="pgauth"/);
    bodies.add(r.text);
  }
  assert.equal(bodies.size, 1, 'one body for every failure');
});

test('invalid_scope, unsupported_grant_type and invalid_request as RFC 6749 §5.2 says', async () => {
  const key = await client('svc-errors', ['only.this']);
  const ok = { grant_type: 'client_credentials', client_id: 'svc-errors', client_secret: key };
  assertOAuthError(await token({ ...ok, scope: 'only.this other' }), 400, 'invalid_scope');
  assertOAuthError(await token({ ...ok, scope: 'bad"scope' }), 400, 'invalid_scope');
  assertOAuthError(await token({ ...ok, grant_type: 'password' }), 400, 'unsupported_grant_type');
  const { grant_type: _, ...noGrant } = ok;
  assertOAuthError(await token(noGrant), 400, 'invalid_request');
  const twice = await call(a, 'POST', '/oauth2/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&grant_type=client_credentials&client_id=svc-errors&client_secret=${key}`,
  });
  assertOAuthError(twice, 400, 'invalid_request');
  const both = await token(
    { grant_type: 'client_credentials', client_secret: key },
    basic('svc-errors', key),
  );
  assertOAuthError(both, 400, 'invalid_request');
  assertOAuthError(
    await token({ grant_type: 'client_credentials' }, { authorization: 'Basic !!!' }),
    400,
    'invalid_request',
  );
  // §4.4.2: form-encoded parameters only; the same credentials as JSON are not a request.
  assertOAuthError(await call(a, 'POST', '/oauth2/token', { json: ok }), 400, 'invalid_request');
  assertOAuthError(
    await call(a, 'POST', '/oauth2/token', {
      json: { grant_type: 'client_credentials' },
      headers: basic('svc-errors', key),
    }),
    400,
    'invalid_request',
  );
});

test('refusals before the endpoint reads the request carry no-store and no-cache too (§5.1)', async () => {
  const unparsable = await call(a, 'POST', '/oauth2/token', {
    headers: { 'content-type': 'application/json' },
    body: '{"grant_type":',
  });
  assert.equal(unparsable.status, 400, unparsable.text);
  assertNoStore(unparsable);
  const inQuery = await call(a, 'POST', '/oauth2/token?client_secret=pgk_x', {
    form: { grant_type: 'client_credentials' },
  });
  assert.equal(inQuery.status, 400, inQuery.text);
  assertNoStore(inQuery);
});

test('client authentication is limited per client: past the limit 429 with Retry-After, before the database checks the secret', async () => {
  const limited = await startApp({ rateLimit: { loginPerUser: 3 } }, a.t);
  try {
    const key = await client('svc-limited', ['x']);
    const form = {
      grant_type: 'client_credentials',
      client_id: 'svc-limited',
      client_secret: 'wrong',
    };
    for (let i = 0; i < 3; i++) {
      const r = await call(limited, 'POST', '/oauth2/token', { form });
      assert.equal(r.status, 401);
    }
    const refused = await call(limited, 'POST', '/oauth2/token', {
      form: { ...form, client_secret: key },
    });
    assert.equal(refused.status, 429, refused.text);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(refused.json.error, 'rate_limited');
  } finally {
    await limited.close();
  }
});

test('jwt format: a signed token (kid, typ at+jwt, iss, sub, aud, exp, iat, jti, sid, scope) that the JWKS verifies', async () => {
  const key = await client('svc-jwt', ['r1', 'r2'], 'jwt');
  const r = await token({ grant_type: 'client_credentials', scope: 'r1' }, basic('svc-jwt', key));
  assert.equal(r.status, 200, r.text);
  const jwt = r.json.access_token as string;
  const header = decodeProtectedHeader(jwt);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.typ, 'at+jwt');
  assert.ok(header.kid);
  const meta = await call(a, 'GET', '/.well-known/oauth-authorization-server');
  assert.equal(meta.json.issuer, a.url);
  assert.equal(meta.json.token_endpoint, `${a.url}/oauth2/token`);
  assert.deepEqual(meta.json.grant_types_supported, ['client_credentials']);
  assert.match(
    meta.json.pgauth_revocation_notice,
    /learns of a revocation only when the token expires/,
  );
  const oidc = await call(a, 'GET', '/.well-known/openid-configuration');
  assert.equal(oidc.json.jwks_uri, meta.json.jwks_uri);
  const jwks = await call(a, 'GET', '/.well-known/jwks.json');
  assert.ok(
    jwks.json.keys.every((k: Record<string, unknown>) => !('d' in k)),
    'no private part',
  );
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks.json), {
    issuer: a.url,
    audience: a.url,
    typ: 'at+jwt',
  });
  assert.equal(payload.client_id, 'svc-jwt');
  assert.equal(payload.scope, 'r1');
  assert.ok(payload.jti && payload.sid && payload.sub);
  assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 300);
  const stored = await a.t.db.query<{ v: string }>(
    'select private_key_encrypted as v from pgauth.signing_keys',
  );
  assert.match(stored.rows[0]?.v ?? '', /^v1\./, 'the private key is stored encrypted');
});

test('without a key-encryption key a jwt client gets 503 naming the flag; opaque clients still work', async () => {
  const bare = await startApp({}, a.t);
  try {
    const key = await client('svc-nokek', ['r'], 'jwt');
    const r = await call(bare, 'POST', '/oauth2/token', {
      form: { grant_type: 'client_credentials' },
      headers: basic('svc-nokek', key),
    });
    assertOAuthError(r, 503, 'signing_unavailable');
    assert.match(r.json.error_description, /--key-encryption-key/);
  } finally {
    await bare.close();
  }
});
