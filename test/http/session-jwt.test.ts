/**
 * JWT access tokens for user sessions (settings.access_token_format = jwt): POST /v1/login,
 * /v1/login/mfa and /v1/refresh answer a signed JWT (the refresh token stays opaque) that a
 * foreign verifier checks against the JWKS, that every pgauth verifier accepts as the session,
 * and that stops working for them when the session is revoked: the gateway at once, the SDK (SQL
 * and HTTP mode) by the revocation event that names it, seen evicting it before it refuses.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { AuthClient } from '@pgauth/client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { withSettings } from '../helpers/sql.ts';
import { call, createUser, login, PASSWORD, startApp, type Tokens, withTotp } from './helpers.ts';
import { assertSdkSessions, useVerifiers, verdicts } from './verifiers.ts';

const ISSUER = 'https://auth.example.test';
const KEK = randomBytes(32);

const v = useVerifiers({
  admin: 'sjwt_root',
  app: { keyEncryptionKey: KEK, issuer: ISSUER },
  async setup(app) {
    await app.t.db.query(`update pgauth.settings set access_token_format = 'jwt'`);
  },
});

const JWT = /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/;
let users = 0;

/** A new user with `roles`, logged in over HTTP. */
async function session(roles: string[] = ['orders.read']): Promise<Tokens & { username: string }> {
  const username = `sjwt_${++users}`;
  await createUser(v.app, username, roles);
  return { ...(await login(v.app, username)), username };
}

/**
 * Resolves when `client`'s cache no longer holds session `sid`: an applied event evicted it, or
 * the cache emptied itself because its probes turned it off (or on again), as a loaded machine
 * can make them do; onEvict reports both. Fails when neither happened within 5 s (a bound on
 * failure: success never waits for a time).
 */
function evicted(client: AuthClient, sid: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop?.();
      reject(new Error(`no revocation event evicted session ${sid} within 5 s`));
    }, 5_000);
    const stop = client.cache?.onEvict((ids) => {
      if (!ids.includes(sid)) return;
      clearTimeout(timer);
      stop?.();
      resolve();
    });
  });
}

test('login answers a JWT that the JWKS verifies, with the session claims; the refresh token stays opaque', async () => {
  const s = await session(['orders.read', 'orders.write']);
  assert.match(s.access_token, JWT);
  assert.match(s.refresh_token, /^pgr_/);
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', v.app.url));
  const { payload, protectedHeader } = await jwtVerify(s.access_token, jwks, {
    issuer: ISSUER,
    audience: ISSUER,
    typ: 'at+jwt',
  });
  assert.ok(protectedHeader.kid);
  assert.equal(payload.sub, s.user_id);
  assert.equal(payload.sid, s.session_id);
  assert.equal(payload.subject_type, 'user');
  assert.equal(payload.scope, 'orders.read orders.write');
  assert.deepEqual(payload.roles, ['orders.read', 'orders.write']);
  assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
  const life = (payload.exp ?? 0) - (payload.iat ?? 0);
  assert.ok(life > 0 && life <= 300, `a short lifetime (service_token_ttl, 5 min): ${life} s`);
  const meta = await call(v.app, 'GET', '/.well-known/oauth-authorization-server');
  assert.equal(meta.json.issuer, ISSUER, 'discovery names the configured issuer, not the origin');
  assert.equal(meta.json.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
});

test('the JWT is accepted as the session by the SDK, the gateway, auth_request and introspection', async () => {
  const s = await session();
  const sessions = await assertSdkSessions(v, s.access_token, {
    subjectType: 'user',
    userId: s.user_id,
    sessionId: s.session_id,
    username: s.username,
    roles: ['orders.read'],
  });
  const exp = (decodeJwt(s.access_token).exp ?? 0) * 1000;
  for (const got of sessions) {
    assert.ok(got.expiresAt.getTime() <= exp, 'never beyond the JWT');
  }
  const g = await call(v.app, 'GET', '/v1/session', { token: s.access_token });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.session_id, s.session_id);
  const check = await call(v.app, 'GET', '/v1/auth/check', { token: s.access_token });
  assert.equal(check.status, 200);
  assert.equal(check.headers.get('x-auth-session-id'), s.session_id);
  assert.equal(check.headers.get('x-auth-subject-type'), 'user');
  const i = await call(v.app, 'POST', '/oauth2/introspect', {
    token: v.admin.access_token,
    form: { token: s.access_token },
  });
  assert.equal(i.json.active, true);
  assert.equal(i.json.sid, s.session_id);
});

test('logout ends the JWT: the gateway at once, the SDK caches by the event that names it', async () => {
  const s = await session();
  assert.deepEqual(await verdicts(v, s.access_token), ['accepted', 'accepted', 'accepted']);
  // The caches answer from memory: a revocation behind the triggers' back (no event) is unseen.
  await v.app.t.db.transaction(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query(
      `update pgauth.sessions set revoked_at = now(), revoked_reason = 'x' where id = $1`,
      [s.session_id],
    );
  });
  assert.deepEqual(
    (await verdicts(v, s.access_token)).slice(0, 2),
    ['accepted', 'accepted'],
    'no event: both SDK caches still answer from memory',
  );
  await v.app.t.db.transaction(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query(
      'update pgauth.sessions set revoked_at = null, revoked_reason = null where id = $1',
      [s.session_id],
    );
  });
  const heard = Promise.all([evicted(v.sdk, s.session_id), evicted(v.overHttp, s.session_id)]);
  const out = await call(v.app, 'POST', '/v1/logout', { token: s.access_token });
  assert.equal(out.status, 204, out.text);
  assert.equal((await call(v.app, 'GET', '/v1/session', { token: s.access_token })).status, 401);
  await heard;
  assert.deepEqual(await verdicts(v, s.access_token), ['rejected', 'rejected', 'rejected']);
  const refresh = await call(v.app, 'POST', '/v1/refresh', {
    json: { refresh_token: s.refresh_token },
  });
  assert.equal(refresh.status, 401, 'the refresh token died with the session');
  const audit = await v.app.t.db.query<{ detail: { via?: string } }>(
    `select detail from pgauth.audit_log where event = 'logout' and session_id = $1`,
    [s.session_id],
  );
  assert.equal(audit.rows[0]?.detail.via, 'jwt');
});

test("the SDK's own logout and password change drop the JWT from its cache before they answer", async () => {
  for (const client of [v.overHttp, v.sdk]) {
    const out = await session();
    const changed = await session();
    for (const s of [out, changed]) {
      assert.deepEqual(await verdicts(v, s.access_token), ['accepted', 'accepted', 'accepted']);
    }
    await client.logout(out.access_token);
    assert.equal(await client.validate(out.access_token), null);
    await client.changePassword(changed.access_token, PASSWORD, 'another long passphrase 43');
    assert.equal(await client.validate(changed.access_token), null);
  }
});

test('a lock, a password change and RFC 7009 revocation end the JWT for every verifier', async () => {
  const locked = await session();
  const changed = await session();
  const revoked = await session();
  for (const s of [locked, changed, revoked]) {
    assert.deepEqual(await verdicts(v, s.access_token), ['accepted', 'accepted', 'accepted']);
  }
  const heard = Promise.all(
    [locked, changed, revoked].flatMap((s) => [
      evicted(v.sdk, s.session_id),
      evicted(v.overHttp, s.session_id),
    ]),
  );
  await v.app.t.db.query('select pgauth.lock_user($1)', [locked.user_id]);
  const pw = await call(v.app, 'POST', '/v1/password', {
    token: changed.access_token,
    json: { current_password: PASSWORD, new_password: 'another long passphrase 42' },
  });
  assert.equal(pw.status, 204, pw.text);
  const r = await call(v.app, 'POST', '/oauth2/revoke', { form: { token: revoked.access_token } });
  assert.equal(r.status, 200);
  await heard;
  for (const s of [locked, changed, revoked]) {
    assert.deepEqual(await verdicts(v, s.access_token), ['rejected', 'rejected', 'rejected']);
  }
});

test('refresh answers a new JWT; the previous one stops working, a retry in the grace window gets the same jti', async () => {
  const s = await session();
  assert.deepEqual(await verdicts(v, s.access_token), ['accepted', 'accepted', 'accepted']);
  const heard = Promise.all([evicted(v.sdk, s.session_id), evicted(v.overHttp, s.session_id)]);
  const r = await call(v.app, 'POST', '/v1/refresh', { json: { refresh_token: s.refresh_token } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.access_token, JWT);
  assert.match(r.json.refresh_token, /^pgr_/);
  assert.equal(decodeJwt(r.json.access_token).sid, s.session_id);
  assert.notEqual(decodeJwt(r.json.access_token).jti, decodeJwt(s.access_token).jti);
  await heard;
  assert.deepEqual(await verdicts(v, s.access_token), ['rejected', 'rejected', 'rejected']);
  assert.deepEqual(await verdicts(v, r.json.access_token), ['accepted', 'accepted', 'accepted']);
  // The same refresh token again, within refresh_reuse_grace: the same pair, the same jti.
  const again = await call(v.app, 'POST', '/v1/refresh', {
    json: { refresh_token: s.refresh_token },
  });
  assert.equal(again.status, 200, again.text);
  assert.equal(decodeJwt(again.json.access_token).jti, decodeJwt(r.json.access_token).jti);
  assert.equal(again.json.refresh_token, r.json.refresh_token);
  assert.deepEqual(await verdicts(v, again.json.access_token), [
    'accepted',
    'accepted',
    'accepted',
  ]);
});

test('refresh reuse revokes the session: its JWT goes with it', async () => {
  const s = await session();
  await withSettings(v.app.t.db, { refresh_reuse_grace: '0' }, async () => {
    const r = await call(v.app, 'POST', '/v1/refresh', {
      json: { refresh_token: s.refresh_token },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await verdicts(v, r.json.access_token), ['accepted', 'accepted', 'accepted']);
    const heard = Promise.all([evicted(v.sdk, s.session_id), evicted(v.overHttp, s.session_id)]);
    const reuse = await call(v.app, 'POST', '/v1/refresh', {
      json: { refresh_token: s.refresh_token },
    });
    assert.equal(reuse.status, 401);
    await heard;
    assert.deepEqual(await verdicts(v, r.json.access_token), ['rejected', 'rejected', 'rejected']);
  });
});

test('the second factor step answers a JWT of aal 2', async () => {
  const totp = await withSettings(v.app.t.db, { access_token_format: 'opaque' }, () =>
    withTotp(v.app, 'sjwt_mfa'),
  );
  const first = await call(v.app, 'POST', '/v1/login', {
    json: { username: 'sjwt_mfa', password: PASSWORD },
  });
  assert.equal(first.json.mfa_required, true);
  const r = await call(v.app, 'POST', '/v1/login/mfa', {
    json: { challenge: first.json.challenge, recovery_code: totp.recovery[0] },
  });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.access_token, JWT);
  assert.equal(decodeJwt(r.json.access_token).aal, 2);
  assert.equal((await v.sdk.validate(r.json.access_token))?.aal, 2);
});

test('a forged session JWT, or one whose jti is not the current token of its sid, is never valid', async () => {
  const a = await session();
  const b = await session();
  const [h, , sig] = a.access_token.split('.');
  const claims = decodeJwt(a.access_token);
  const other = Buffer.from(JSON.stringify({ ...claims, sid: b.session_id })).toString('base64url');
  assert.deepEqual(await verdicts(v, `${h}.${other}.${sig}`), ['rejected', 'rejected', 'rejected']);
  // Logging out with an altered token (another sid) ends nothing.
  const out = await call(v.app, 'POST', '/v1/logout', { token: `${h}.${other}.${sig}` });
  assert.equal(out.status, 401);
  const ends = await v.app.t.db.query<{ ok: boolean }>('select pgauth.logout_jwt($1, $2) as ok', [
    b.session_id,
    claims.jti,
  ]);
  assert.equal(ends.rows[0]?.ok, false, 'the jti of a does not end b');
  assert.deepEqual(await verdicts(v, b.access_token), ['accepted', 'accepted', 'accepted']);
});

test('without a key-encryption key, login in jwt format is 503 naming the flag and leaves no live session', async () => {
  const bare = await startApp({}, v.app.t);
  try {
    const username = `sjwt_${++users}`;
    const userId = await createUser(v.app, username);
    const r = await call(bare, 'POST', '/v1/login', { json: { username, password: PASSWORD } });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'signing_unavailable');
    assert.match(r.json.message, /--key-encryption-key/);
    const live = await v.app.t.db.query<{ n: number }>(
      'select count(*)::int as n from pgauth.sessions where user_id = $1 and revoked_at is null',
      [userId],
    );
    assert.equal(live.rows[0]?.n, 0);
  } finally {
    await bare.close();
  }
});

test('a gateway without revocation events (nothing cached) still refuses a revoked session JWT', async () => {
  const deaf = await startApp({ keyEncryptionKey: KEK, revocations: false }, v.app.t);
  try {
    const r = await call(deaf, 'POST', '/v1/login', {
      json: { username: (await session()).username, password: PASSWORD },
    });
    assert.equal(r.status, 200, r.text);
    const token = r.json.access_token as string;
    assert.equal((await call(deaf, 'GET', '/v1/session', { token })).status, 200);
    assert.equal((await call(deaf, 'GET', '/v1/auth/check', { token })).status, 200);
    await v.app.t.db.query('select pgauth.revoke_session($1)', [r.json.session_id]);
    assert.equal((await call(deaf, 'GET', '/v1/session', { token })).status, 401);
    assert.equal((await call(deaf, 'GET', '/v1/auth/check', { token })).status, 401);
  } finally {
    await deaf.close();
  }
});

test('with the opaque format (the default) login still answers opaque tokens', async () => {
  await withSettings(v.app.t.db, { access_token_format: 'opaque' }, async () => {
    const s = await session();
    assert.match(s.access_token, /^pga_/);
    assert.deepEqual(await verdicts(v, s.access_token), ['accepted', 'accepted', 'accepted']);
  });
});
