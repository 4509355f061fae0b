/**
 * JWT access tokens verified locally and still revocable: the SDK in SQL and HTTP mode and the
 * gateway check the signature against pgauth's published keys, then the token's jti as any token.
 * A cache is shown to answer from memory (the key revoked behind the triggers' back is still
 * accepted); a real revocation reaches all three through the revocation events.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { waitFor } from '../helpers/wait.ts';
import { call } from '../http/helpers.ts';
import { assertSdkSessions, useVerifiers, verdicts } from '../http/verifiers.ts';

const v = useVerifiers({ admin: 'jwt_root' });

let clients = 0;
/** A service account in jwt format, its key id, and a JWT from POST /oauth2/token. */
async function jwtClient(): Promise<{ name: string; keyId: string; jwt: string }> {
  const name = `jwt-svc-${++clients}`;
  await v.app.t.db.query(`select pgauth.create_service_account($1, '{jobs.run}')`, [name]);
  await v.app.t.db.query(`select pgauth.set_service_account_token_format($1, 'jwt')`, [name]);
  const k = await call(v.app, 'POST', `/v1/admin/service-accounts/${name}/api-keys`, {
    token: v.admin.access_token,
    json: { name: 'k' },
  });
  const r = await call(v.app, 'POST', '/oauth2/token', {
    form: { grant_type: 'client_credentials', client_id: name, client_secret: k.json.key },
  });
  assert.equal(r.status, 200, r.text);
  return { name, keyId: k.json.id, jwt: r.json.access_token };
}

test('the SDK (SQL and HTTP) and the gateway accept a JWT as its service account', async () => {
  const c = await jwtClient();
  await assertSdkSessions(v, c.jwt, {
    subjectType: 'service_account',
    username: c.name,
    sessionId: c.keyId,
    roles: ['jobs.run'],
  });
  const g = await call(v.app, 'GET', '/v1/session', { token: c.jwt });
  assert.equal(g.json.subject_type, 'service_account');
});

test('a cached JWT is served from memory, and a revocation reaches every verifier at once', async () => {
  const c = await jwtClient();
  assert.deepEqual(await verdicts(v, c.jwt), ['accepted', 'accepted', 'accepted']);
  const { jti } = decodeJwt(c.jwt);
  await v.app.t.db.transaction(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query('update pgauth.api_keys set revoked_at = now() where id = $1', [jti]);
  });
  assert.deepEqual(
    await verdicts(v, c.jwt),
    ['accepted', 'accepted', 'accepted'],
    'no event: every cache still answers from memory',
  );
  await v.app.t.db.query('update pgauth.api_keys set revoked_at = null where id = $1', [jti]);
  const d = await call(v.app, 'DELETE', `/v1/admin/api-keys/${c.keyId}`, {
    token: v.admin.access_token,
  });
  assert.equal(d.status, 204);
  await waitFor(
    'every verifier to reject the revoked JWT',
    async () => (await verdicts(v, c.jwt)).every((verdict) => verdict === 'rejected'),
    5_000,
  );
});

test('a JWT signed by another key, altered, expired-looking or a bare pgj_<jti> is never valid', async () => {
  const c = await jwtClient();
  const header = decodeProtectedHeader(c.jwt);
  const claims = decodeJwt(c.jwt);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: header.kid as string, typ: 'at+jwt' })
    .sign(privateKey);
  const [h, p, s] = c.jwt.split('.');
  const altered = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${s}`;
  const unknownKid = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'nosuchkid123', typ: 'at+jwt' })
    .sign(privateKey);
  for (const token of [forged, altered, unknownKid, `pgj_${claims.jti}`, `${h}.${p}.`]) {
    assert.deepEqual(
      await verdicts(v, token),
      ['rejected', 'rejected', 'rejected'],
      token.slice(0, 40),
    );
  }
});
