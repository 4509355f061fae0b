/**
 * Foreign verifiers: PyJWT's PyJWKClient (Debian's python3-jwt) and jose's createRemoteJWKSet
 * verify pgauth's JWT access tokens against /.well-known/jwks.json, across a key rotation (a token
 * signed by the retired key stays verifiable until it expires; then the key leaves the JWKS);
 * and a client-credentials flow driven by curl, shaped as RFC 6749 §4.4.2 and §4.4.3 show it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { adminOperations } from '../../packages/pgauth/src/operations.ts';
import { rotateSigningKey } from '../../packages/pgauth/src/server/signing-keys.ts';
import { runProcess } from '../helpers/processes.ts';
import { withClock } from '../helpers/sql.ts';
import { needs } from '../helpers/tools.ts';
import { call, createSession, startApp, type TestApp } from '../http/helpers.ts';

/** Debian's own interpreter: a python3 earlier on PATH (pyenv) lacks the Debian packages. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./verify_jwt.py', import.meta.url));
const hasPyJwt =
  existsSync(PYTHON) &&
  spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' }).status === 0;
const CURL = ['/usr/bin/curl', '/bin/curl'].find((p) => existsSync(p));

const KEK = randomBytes(32);
let app: TestApp;
let secret = '';

before(async () => {
  app = await startApp({ keyEncryptionKey: KEK });
  const admin = await createSession(app, 'jwks_root', ['admin']);
  await app.t.db.query(`select pgauth.create_service_account('reporting', '{reports.read}')`);
  await app.t.db.query(`select pgauth.set_service_account_token_format('reporting', 'jwt')`);
  const k = await call(app, 'POST', '/v1/admin/service-accounts/reporting/api-keys', {
    token: admin.access_token,
    json: { name: 'foreign' },
  });
  secret = k.json.key;
});
after(async () => {
  await app?.close();
});

async function jwtFrom(a: TestApp): Promise<string> {
  const r = await call(a, 'POST', '/oauth2/token', {
    form: { grant_type: 'client_credentials', client_id: 'reporting', client_secret: secret },
  });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

/** PyJWT verifies `tokens` of `issuer` with the JWKS of `a`. */
async function pyVerify(a: TestApp, issuer: string, tokens: string[]): Promise<string[]> {
  const r = await runProcess([PYTHON, SCRIPT, `${a.url}/.well-known/jwks.json`, issuer, ...tokens]);
  assert.equal(r.code, 0, `PyJWT refused: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

async function joseVerify(a: TestApp, issuer: string, token: string): Promise<string | undefined> {
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', a.url));
  const { payload } = await jwtVerify(token, jwks, { issuer, audience: issuer });
  return payload.jti;
}

test('a key rotation keeps old tokens verifiable by PyJWT and jose until they expire', {
  skip: needs('PyJWT PyJWKClient', hasPyJwt ? [] : ['python3-jwt']),
}, async () => {
  const old = await jwtFrom(app);
  await rotateSigningKey(adminOperations(app.t.db), KEK, 'EdDSA');
  // A gateway reads the active key again within 30 s; a fresh one reads it at once.
  const rotated = await startApp({ keyEncryptionKey: KEK }, app.t);
  try {
    const fresh = await jwtFrom(rotated);
    assert.notEqual(decodeProtectedHeader(fresh).kid, decodeProtectedHeader(old).kid);
    assert.equal(decodeProtectedHeader(fresh).alg, 'EdDSA');
    // Each gateway issues under the origin it was reached at; both publish the same keys.
    assert.deepEqual(await pyVerify(app, app.url, [old]), [decodeJwt(old).jti]);
    assert.deepEqual(await pyVerify(app, rotated.url, [fresh]), [decodeJwt(fresh).jti]);
    assert.equal(await joseVerify(rotated, app.url, old), decodeJwt(old).jti);
    assert.equal(await joseVerify(app, rotated.url, fresh), decodeJwt(fresh).jti);
    const jwks = await call(app, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.json.keys.length, 2, 'the retired key is still published');
    await withClock(app.t.db, '6 minutes', async () => {
      const later = await call(app, 'GET', '/.well-known/jwks.json');
      assert.deepEqual(
        later.json.keys.map((k: { kid: string }) => k.kid),
        [decodeProtectedHeader(fresh).kid],
        'once its last token expired, the retired key left the JWKS',
      );
    });
  } finally {
    await rotated.close();
  }
});

test('PyJWT refuses a token whose signature does not match', {
  skip: needs('PyJWT PyJWKClient', hasPyJwt ? [] : ['python3-jwt']),
}, async () => {
  const token = await jwtFrom(app);
  const [h, p, s] = token.split('.') as [string, string, string];
  const flipped = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  const r = await runProcess([
    PYTHON,
    SCRIPT,
    `${app.url}/.well-known/jwks.json`,
    app.url,
    flipped,
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /InvalidSignatureError|DecodeError/);
});

test('curl: client credentials as RFC 6749 §4.4.2 sends them, the token used as a Bearer', {
  skip: needs('curl', CURL ? [] : ['curl']),
}, async () => {
  await app.t.db.query(`select pgauth.set_service_account_token_format('reporting', null)`);
  try {
    const r = await runProcess([
      CURL as string,
      '-sS',
      '-i',
      '-u',
      `reporting:${secret}`,
      '-H',
      'Content-Type: application/x-www-form-urlencoded',
      '--data',
      'grant_type=client_credentials',
      `${app.url}/oauth2/token`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [head, body] = r.stdout.split('\r\n\r\n') as [string, string];
    assert.match(head, /^HTTP\/1\.1 200 OK/);
    assert.match(head, /^content-type: application\/json/im);
    assert.match(head, /^cache-control: no-store\r?$/im);
    assert.match(head, /^pragma: no-cache\r?$/im);
    const json = JSON.parse(body);
    assert.equal(json.token_type, 'Bearer');
    assert.equal(json.scope, 'reports.read');
    assert.ok(json.expires_in > 0);
    assert.equal(json.refresh_token, undefined, '§4.4.3: no refresh token');
    const use = await runProcess([
      CURL as string,
      '-sS',
      '-H',
      `Authorization: Bearer ${json.access_token}`,
      `${app.url}/v1/session`,
    ]);
    assert.equal(JSON.parse(use.stdout).username, 'reporting');
    const wrong = await runProcess([
      CURL as string,
      '-sS',
      '-i',
      '-u',
      'reporting:wrong',
      '--data',
      'grant_type=client_credentials',
      `${app.url}/oauth2/token`,
    ]);
    assert.match(wrong.stdout, /^HTTP\/1\.1 401/);
    assert.match(wrong.stdout, /^www-authenticate: Basic realm="pgauth"/im);
    assert.match(wrong.stdout, /"error":"invalid_client"/);
  } finally {
    await app.t.db.query(`select pgauth.set_service_account_token_format('reporting', 'jwt')`);
  }
});
