import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditEvents, scalar, withSettings } from '../helpers/sql.ts';
import { call, isErrorBody, login, PASSWORD } from './helpers.ts';
import { MAIL_FROM, PUBLIC_URL, useMailApp } from './mail-app.ts';

const m = useMailApp();

async function userWithEmail(username: string, email: string): Promise<string> {
  return scalar<string>(m.a.t.db, 'select pgauth.create_user($1, $2, $3)::text as v', [
    username,
    PASSWORD,
    email,
  ]);
}

/** Asks for a verification mail over HTTP and returns the token of the link it carries. */
async function verificationToken(username: string, email: string): Promise<string> {
  const { access_token } = await login(m.a, username);
  const before = m.smtp.received.filter((x) => x.to.includes(email)).length;
  const r = await call(m.a, 'POST', '/v1/email/verify/request', { token: access_token });
  assert.equal(r.status, 202, r.text);
  const mails = await m.smtp.waitFor(email, before + 1);
  return m.smtp.tokenOf(mails[before] as (typeof mails)[number]);
}

test('POST /v1/email/verify/request mails a link; POST /v1/email/verify with its token verifies, once', async () => {
  const id = await userWithEmail('ev_alice', 'alice@example.test');
  const { access_token } = await login(m.a, 'ev_alice');
  const r = await call(m.a, 'POST', '/v1/email/verify/request', { token: access_token });
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json, { status: 'accepted' });
  const [mail] = await m.smtp.waitFor('alice@example.test');
  assert.ok(mail);
  assert.equal(mail.from, MAIL_FROM);
  assert.equal(mail.subject, 'Verify your email address');
  assert.ok(mail.body.includes(`${PUBLIC_URL}/verify-email#token=pgv_`), mail.body);
  const token = m.smtp.tokenOf(mail);
  const ok = await call(m.a, 'POST', '/v1/email/verify', { json: { token } });
  assert.equal(ok.status, 204, ok.text);
  const again = await call(m.a, 'POST', '/v1/email/verify', { json: { token } });
  assert.equal(again.status, 400);
  assert.ok(isErrorBody(again, 'invalid_link'), again.text);
  const verified = await scalar<boolean>(
    m.a.t.db,
    'select email_verified_at is not null as v from pgauth.users where id = $1',
    [id],
  );
  assert.equal(verified, true);
  const events = await auditEvents(m.a.t.db, { userId: id });
  for (const e of ['email_verification_requested', 'mail_sent', 'email_verified']) {
    assert.ok(events.includes(e), `${e} in ${events.join(', ')}`);
  }
  const asked = await call(m.a, 'POST', '/v1/email/verify/request', { token: access_token });
  assert.equal(asked.status, 202, 'a verified address: accepted, and no mail');
});

test('the token is stored only as its SHA-256, and neither it nor the text reaches a log or a table', async () => {
  await userWithEmail('ev_secret', 'secret@example.test');
  const token = await verificationToken('ev_secret', 'secret@example.test');
  const hashed = await scalar<number>(
    m.a.t.db,
    `select count(*)::int as v from pgauth.account_tokens
     where token_hash = sha256(convert_to($1, 'UTF8'))`,
    [token],
  );
  assert.equal(hashed, 1);
  const anywhere = await scalar<number>(
    m.a.t.db,
    `select (select count(*) from pgauth.mail_outbox o where o::text like '%' || $1 || '%')
          + (select count(*) from pgauth.account_tokens t where t::text like '%' || $1 || '%')
          + (select count(*) from pgauth.audit_log a where a::text like '%' || $1 || '%') as v`,
    [token],
  );
  assert.equal(Number(anywhere), 0);
  const logs = m.a.logs.join('');
  assert.ok(logs.includes('"mail sent"'), 'the sender logged the delivery');
  assert.ok(!logs.includes(token), 'no token in the logs');
  assert.ok(!logs.includes('secret@example.test'), 'no address in the logs');
  assert.ok(!logs.includes('confirm that this address'), 'no message text in the logs');
});

test('POST /v1/email/verify with an unknown token is 400 invalid_link; without a body field, 400 invalid_input', async () => {
  const r = await call(m.a, 'POST', '/v1/email/verify', { json: { token: 'pgv_nothing' } });
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_link'), r.text);
  const bad = await call(m.a, 'POST', '/v1/email/verify', { json: {} });
  assert.equal(bad.status, 400);
  assert.ok(isErrorBody(bad, 'invalid_input'), bad.text);
});

test('POST /v1/email/verify/request without a token is 401; for an account without an address, 400 invalid_input', async () => {
  const none = await call(m.a, 'POST', '/v1/email/verify/request');
  assert.equal(none.status, 401);
  await scalar(m.a.t.db, 'select pgauth.create_user($1, $2)::text as v', ['ev_noaddr', PASSWORD]);
  const { access_token } = await login(m.a, 'ev_noaddr');
  const r = await call(m.a, 'POST', '/v1/email/verify/request', { token: access_token });
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_input'), r.text);
});

test('with require_verified_email, a right password on an unverified address is 403 email_not_verified; a wrong one 401', async () => {
  const id = await userWithEmail('ev_required', 'required@example.test');
  const token = await verificationToken('ev_required', 'required@example.test');
  await withSettings(m.a.t.db, { require_verified_email: true }, async () => {
    const refused = await call(m.a, 'POST', '/v1/login', {
      json: { username: 'ev_required', password: PASSWORD },
    });
    assert.equal(refused.status, 403, refused.text);
    assert.ok(isErrorBody(refused, 'email_not_verified'), refused.text);
    const wrong = await call(m.a, 'POST', '/v1/login', {
      json: { username: 'ev_required', password: 'not the right passphrase' },
    });
    assert.equal(wrong.status, 401);
    assert.ok(isErrorBody(wrong, 'invalid_credentials'));
    assert.equal((await call(m.a, 'POST', '/v1/email/verify', { json: { token } })).status, 204);
    const ok = await call(m.a, 'POST', '/v1/login', {
      json: { username: 'ev_required', password: PASSWORD },
    });
    assert.equal(ok.status, 200, ok.text);
  });
  const failures = await m.a.t.db.query<{ detail: { reason: string } }>(
    `select detail from pgauth.audit_log where user_id = $1 and event = 'login_failure' order by id`,
    [id],
  );
  assert.deepEqual(
    failures.rows.map((r) => r.detail.reason),
    ['email_not_verified', 'bad_password'],
  );
});

test('changing the address unverifies it, and a link sent to the old address no longer verifies', async () => {
  const id = await userWithEmail('ev_change', 'old@example.test');
  const first = await verificationToken('ev_change', 'old@example.test');
  assert.equal(
    (await call(m.a, 'POST', '/v1/email/verify', { json: { token: first } })).status,
    204,
  );
  const isVerified = () =>
    scalar<boolean>(
      m.a.t.db,
      'select email_verified_at is not null as v from pgauth.users where id = $1',
      [id],
    );
  assert.equal(await isVerified(), true);
  await m.a.t.db.query(`update pgauth.users set email = 'new@example.test' where id = $1`, [id]);
  assert.equal(await isVerified(), false, 'a raw UPDATE of the address unverifies it');
  const pending = await verificationToken('ev_change', 'new@example.test');
  await m.a.t.db.query(`update pgauth.users set email = 'newer@example.test' where id = $1`, [id]);
  const r = await call(m.a, 'POST', '/v1/email/verify', { json: { token: pending } });
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_link'));
  assert.equal(await isVerified(), false);
});
