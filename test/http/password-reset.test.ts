import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditEvents, scalar, withClock, withSettings } from '../helpers/sql.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, isErrorBody, login, PASSWORD } from './helpers.ts';
import { PUBLIC_URL, useMailApp } from './mail-app.ts';

const m = useMailApp();
const NEW_PASSWORD = 'a brand new passphrase';

function userWithEmail(username: string, email: string): Promise<string> {
  return scalar<string>(m.a.t.db, 'select pgauth.create_user($1, $2, $3)::text as v', [
    username,
    PASSWORD,
    email,
  ]);
}

function forgot(body: Record<string, string>) {
  return call(m.a, 'POST', '/v1/password/forgot', { json: body });
}

function reset(token: string, password = NEW_PASSWORD) {
  return call(m.a, 'POST', '/v1/password/reset', { json: { token, password } });
}

const mailsTo = (email: string) => m.smtp.received.filter((x) => x.to.includes(email));

/** Asks for a reset of `who` and returns the token of the next mail to `email`. */
async function resetToken(who: Record<string, string>, email: string): Promise<string> {
  const before = mailsTo(email).length;
  assert.equal((await forgot(who)).status, 202);
  const mails = await m.smtp.waitFor(email, before + 1);
  return m.smtp.tokenOf(mails[before] as (typeof mails)[number]);
}

test('POST /v1/password/forgot answers 202 with one body for an account by username, by email, and for nobody', async () => {
  await userWithEmail('pr_same', 'same@example.test');
  const answers = [
    await forgot({ username: 'pr_same' }),
    await forgot({ email: 'SAME@example.test' }),
    await forgot({ username: 'pr_nobody' }),
    await forgot({ email: 'nobody@example.test' }),
  ];
  for (const r of answers) {
    assert.equal(r.status, 202);
    assert.equal(r.text, '{"status":"accepted"}');
  }
  const unmatched = await scalar<number>(
    m.a.t.db,
    `select count(*)::int as v from pgauth.audit_log
     where event = 'password_reset_requested' and user_id is null and detail = '{"matched": false}'`,
  );
  assert.equal(unmatched, 2, 'a request that matched nobody is audited too');
  const mails = await m.smtp.waitFor('same@example.test', 2);
  assert.equal(mails[0]?.subject, 'Reset your password');
  assert.ok(mails[0]?.body.includes(`${PUBLIC_URL}/reset-password#token=pgp_`));
});

test('POST /v1/password/reset sets the password, revokes every session, and the token works once', async () => {
  const id = await userWithEmail('pr_reset', 'reset@example.test');
  const session = await login(m.a, 'pr_reset');
  const token = await resetToken({ username: 'pr_reset' }, 'reset@example.test');
  const r = await reset(token);
  assert.equal(r.status, 204, r.text);
  assert.equal(
    (await call(m.a, 'GET', '/v1/session', { token: session.access_token })).status,
    401,
  );
  await login(m.a, 'pr_reset', NEW_PASSWORD);
  const again = await reset(token, 'yet another passphrase');
  assert.equal(again.status, 400);
  assert.ok(isErrorBody(again, 'invalid_link'), again.text);
  const events = await auditEvents(m.a.t.db, { userId: id });
  for (const e of ['password_reset_requested', 'mail_sent', 'password_reset', 'sessions_revoked']) {
    assert.ok(events.includes(e), `${e} in ${events.join(', ')}`);
  }
  const stored = await scalar<number>(
    m.a.t.db,
    `select count(*)::int as v from pgauth.mail_outbox o where o::text like '%' || $1 || '%'`,
    [token],
  );
  assert.equal(stored, 0);
});

test('a new request kills the older token; so does a password change', async () => {
  await userWithEmail('pr_older', 'older@example.test');
  const first = await resetToken({ username: 'pr_older' }, 'older@example.test');
  await resetToken({ email: 'older@example.test' }, 'older@example.test');
  const dead = await reset(first);
  assert.equal(dead.status, 400);
  assert.ok(isErrorBody(dead, 'invalid_link'));
  const third = await resetToken({ username: 'pr_older' }, 'older@example.test');
  const { access_token } = await login(m.a, 'pr_older');
  const changed = await call(m.a, 'POST', '/v1/password', {
    token: access_token,
    json: { current_password: PASSWORD, new_password: NEW_PASSWORD },
  });
  assert.equal(changed.status, 204, changed.text);
  const r = await reset(third, 'yet another passphrase');
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_link'));
});

test('a refused password is 400 with its reason and leaves the token usable', async () => {
  await userWithEmail('pr_weak', 'weak@example.test');
  const token = await resetToken({ username: 'pr_weak' }, 'weak@example.test');
  const weak = await reset(token, 'short');
  assert.equal(weak.status, 400);
  assert.ok(isErrorBody(weak, 'password_too_short'), weak.text);
  assert.equal((await reset(token)).status, 204);
});

test('a reset lifts a lock of too many failures', async () => {
  await userWithEmail('pr_locked', 'locked@example.test');
  await withSettings(m.a.t.db, { max_failed_logins: 2 }, async () => {
    for (let i = 0; i < 2; i++) {
      await call(m.a, 'POST', '/v1/login', {
        json: { username: 'pr_locked', password: 'not the right passphrase' },
      });
    }
    const locked = await call(m.a, 'POST', '/v1/login', {
      json: { username: 'pr_locked', password: PASSWORD },
    });
    assert.equal(locked.status, 401, 'locked');
    const token = await resetToken({ username: 'pr_locked' }, 'locked@example.test');
    assert.equal((await reset(token)).status, 204);
    await login(m.a, 'pr_locked', NEW_PASSWORD);
  });
});

test('a reset token dies after password_reset_ttl (15 minutes)', async () => {
  await userWithEmail('pr_ttl', 'ttl@example.test');
  const token = await resetToken({ username: 'pr_ttl' }, 'ttl@example.test');
  const r = await withClock(m.a.t.db, '16 minutes', () => reset(token));
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_link'));
});

test('requests beyond password_reset_per_address an hour are answered alike and mail nothing', async () => {
  await userWithEmail('pr_limit', 'limit@example.test');
  await userWithEmail('pr_marker', 'marker@example.test');
  await withSettings(m.a.t.db, { password_reset_per_address: 2 }, async () => {
    for (let i = 0; i < 4; i++) {
      const r = await forgot({ username: 'pr_limit' });
      assert.equal(r.status, 202);
      assert.equal(r.text, '{"status":"accepted"}');
    }
    // The outbox is sent in order: once the marker's mail is in, the others would be too.
    await resetToken({ username: 'pr_marker' }, 'marker@example.test');
  });
  assert.equal(mailsTo('limit@example.test').length, 2);
});

test('POST /v1/password/forgot needs exactly one of email and username; /reset needs both fields', async () => {
  for (const body of [{}, { email: 'a@b', username: 'x' }, { phone: '1' }]) {
    const r = await forgot(body as Record<string, string>);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.ok(isErrorBody(r, 'invalid_input'));
  }
  const r = await call(m.a, 'POST', '/v1/password/reset', { json: { token: 'pgp_x' } });
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_input'));
  const unknown = await reset('pgp_unknown');
  assert.equal(unknown.status, 400);
  assert.ok(isErrorBody(unknown, 'invalid_link'));
});

test('a delivery that fails is retried after a backoff of 30 s, then sent once', async () => {
  const id = await userWithEmail('pr_retry', 'retry@example.test');
  m.smtp.refuse(1);
  assert.equal((await forgot({ username: 'pr_retry' })).status, 202);
  const row = await waitFor(
    'the failed delivery recorded',
    async () =>
      (
        await m.a.t.db.query<{ attempts: number; wait: number }>(
          `select attempts, extract(epoch from next_attempt_at - pgauth.clock())::float8 as wait
           from pgauth.mail_outbox where user_id = $1 and last_error is not null`,
          [id],
        )
      ).rows[0],
    10_000,
  );
  assert.equal(row.attempts, 1);
  assert.ok(row.wait > 20 && row.wait <= 30, `next attempt in about 30 s, got ${row.wait}`);
  await withClock(m.a.t.db, '1 minute', () => m.smtp.waitFor('retry@example.test', 1));
  // The server has the message; the sender records it (mail_sent) when the server's answer is in.
  const mailEvents = async (): Promise<string[]> =>
    (await auditEvents(m.a.t.db, { userId: id })).filter((e) => e.startsWith('mail_'));
  await waitFor('the delivery recorded', async () => (await mailEvents()).length > 1, 10_000);
  assert.deepEqual(await mailEvents(), ['mail_failed', 'mail_sent']);
});
