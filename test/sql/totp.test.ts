import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import {
  auditEvents,
  createUser,
  PASSWORD,
  rejects,
  scalar,
  validate,
  WRONG_PASSWORD,
  withSettings,
} from '../helpers/sql.ts';
import { stepAt, totpCode } from '../helpers/totp.ts';

const t = useTestDatabase();

type Durable = {
  user_id: string | null;
  access_token: string | null;
  refresh_token: string | null;
  mfa_challenge: string | null;
  mfa_expires_at: Date | null;
};

async function enroll(userId: string): Promise<string> {
  const r = await t.db.query<{ secret: string; otpauth_uri: string }>(
    'select * from pgauth.totp_enroll($1)',
    [userId],
  );
  return r.rows[0]?.secret as string;
}

async function confirm(userId: string, code: string): Promise<string[] | null> {
  return scalar<string[] | null>(t.db, 'select pgauth.totp_confirm($1, $2) as v', [userId, code]);
}

/** A user with TOTP on: its id, secret and recovery codes. */
async function userWithTotp(name: string) {
  const id = await createUser(t.db, name);
  const secret = await enroll(id);
  const codes = await confirm(id, totpCode(secret, stepAt() - 1));
  assert.ok(codes, `${name} confirms`);
  return { id, secret, codes };
}

function loginDurably(username: string, password = PASSWORD): Promise<Durable> {
  return t.db
    .query<Durable>('call pgauth.login_durably($1, $2)', [username, password])
    .then((r) => r.rows[0] as Durable);
}

function loginMfa(challenge: string, code: string | null, recovery: string | null = null) {
  return t.db
    .query<Durable>('call pgauth.login_mfa_durably($1, $2, $3)', [challenge, code, recovery])
    .then((r) => r.rows[0] as Durable);
}

const failedLogins = (id: string) =>
  scalar<number>(t.db, 'select failed_logins as v from pgauth.users where id = $1', [id]);

test('totp_code passes the RFC 6238 test vectors (SHA-1, SHA-256, SHA-512, 8 digits)', async () => {
  const seeds: Record<string, string> = {
    sha1: '12345678901234567890',
    sha256: '12345678901234567890123456789012',
    sha512: '1234567890123456789012345678901234567890123456789012345678901234',
  };
  // Appendix B's table: the time, then the code with SHA-1, SHA-256 and SHA-512.
  const table: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [time, ...codes] of table) {
    for (const [i, algorithm] of ['sha1', 'sha256', 'sha512'].entries()) {
      const code = await scalar<string>(
        t.db,
        `select pgauth.totp_code(convert_to($1, 'UTF8'), $2, 8, $3) as v`,
        [seeds[algorithm], Math.floor(time / 30), algorithm],
      );
      assert.equal(code, codes[i], `T=${time} ${algorithm}`);
    }
  }
});

test('totp_enroll returns the secret once, in base32 and as an otpauth URI naming the user', async () => {
  const id = await createUser(t.db, 'to enrol@x');
  const r = await t.db.query<{ secret: string; otpauth_uri: string }>(
    'select * from pgauth.totp_enroll($1)',
    [id],
  );
  const { secret, otpauth_uri } = r.rows[0] as { secret: string; otpauth_uri: string };
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(
    otpauth_uri,
    `otpauth://totp/pgauth:to%20enrol%40x?secret=${secret}&issuer=pgauth&algorithm=SHA1&digits=6&period=30`,
  );
  assert.deepEqual(await auditEvents(t.db, { userId: id }), [
    'user_created',
    'totp_enrolment_started',
  ]);
});

test('totp_confirm with a wrong code returns NULL, counts a failed login and leaves TOTP off', async () => {
  const id = await createUser(t.db, 'to_wrong');
  const secret = await enroll(id);
  const wrong = totpCode(secret, stepAt() + 5);
  assert.equal(await confirm(id, wrong), null);
  assert.equal(await failedLogins(id), 1);
  const status = await t.db.query('select * from pgauth.mfa_status($1)', [id]);
  assert.deepEqual(status.rows[0], { totp: false, totp_pending: true, recovery_codes_left: 0 });
});

test('totp_confirm accepts ±1 step and returns ten distinct recovery codes, stored only hashed', async () => {
  const { id, codes } = await userWithTotp('to_confirm');
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]{2}$/);
  const stored = await scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.recovery_codes
     where user_id = $1 and code_hash = any(array(select sha256(convert_to(replace(c, '-', ''), 'UTF8'))
       from unnest($2::text[]) c))`,
    [id, codes],
  );
  assert.equal(stored, 10);
  const clear = await scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.recovery_codes r, unnest($1::text[]) c
     where position(convert_to(c, 'UTF8') in r.code_hash) > 0`,
    [codes],
  );
  assert.equal(clear, 0);
  await rejects(
    t.db.query('select * from pgauth.totp_enroll($1)', [id]),
    'MFAON',
    'mfa_already_enabled',
  );
});

test('totp_confirm and totp_remove without a factor fail with MFAOF mfa_not_enabled', async () => {
  const id = await createUser(t.db, 'to_none');
  for (const fn of ['totp_confirm', 'totp_remove']) {
    await rejects(
      t.db.query(`select pgauth.${fn}($1, $2)`, [id, '123456']),
      'MFAOF',
      'mfa_not_enabled',
    );
  }
});

test('with TOTP on, login_durably gives a challenge and no tokens; the code gives a session of aal 2', async () => {
  const { id, secret } = await userWithTotp('to_login');
  const first = await loginDurably('to_login');
  assert.equal(first.user_id, null);
  assert.equal(first.access_token, null);
  assert.match(first.mfa_challenge ?? '', /^pgm_[A-Za-z0-9_-]{43}$/);
  assert.ok(first.mfa_expires_at && first.mfa_expires_at.getTime() > Date.now());
  const pair = await loginMfa(first.mfa_challenge as string, totpCode(secret, stepAt() + 1));
  assert.equal(pair.user_id, id);
  const [session] = await validate(t.db, pair.access_token);
  assert.equal((session as { aal?: number }).aal, 2);
  const again = await loginMfa(first.mfa_challenge as string, totpCode(secret));
  assert.equal(again.access_token, null, 'a challenge is used once');
  const events = await auditEvents(t.db, { userId: id });
  assert.deepEqual(events.slice(-2), ['mfa_challenge', 'login_success']);
});

test('a TOTP code is accepted once: the same code on a second challenge is refused (replay)', async () => {
  const { secret } = await userWithTotp('to_replay');
  const code = totpCode(secret, stepAt() + 1);
  const one = await loginDurably('to_replay');
  assert.ok((await loginMfa(one.mfa_challenge as string, code)).access_token);
  const two = await loginDurably('to_replay');
  assert.equal((await loginMfa(two.mfa_challenge as string, code)).access_token, null);
});

test('a code two steps away is refused, counts a failed login, and 5 wrong codes kill the challenge', async () => {
  const { id, secret } = await userWithTotp('to_far');
  const c = (await loginDurably('to_far')).mfa_challenge as string;
  assert.equal((await loginMfa(c, totpCode(secret, stepAt() + 3))).access_token, null);
  assert.equal(await failedLogins(id), 1);
  for (let i = 0; i < 4; i++) await loginMfa(c, '000000');
  assert.equal((await loginMfa(c, totpCode(secret, stepAt() + 1))).access_token, null);
  const failures = await t.db.query<{ detail: { reason: string; via: string } }>(
    `select detail from pgauth.audit_log where user_id = $1 and event = 'login_failure' order by id`,
    [id],
  );
  assert.deepEqual(failures.rows[0]?.detail, { reason: 'bad_code', via: 'login_mfa' });
});

test('wrong codes lock the account like wrong passwords (max_failed_logins)', async () => {
  const { id, secret } = await userWithTotp('to_lock');
  await withSettings(t.db, { max_failed_logins: 3 }, async () => {
    const c = (await loginDurably('to_lock')).mfa_challenge as string;
    for (let i = 0; i < 3; i++) await loginMfa(c, '000000');
    const locked = await scalar<boolean>(
      t.db,
      'select locked_until > pgauth.clock() as v from pgauth.users where id = $1',
      [id],
    );
    assert.equal(locked, true);
    assert.equal(
      (await loginDurably('to_lock')).mfa_challenge,
      null,
      'locked: no challenge either',
    );
    assert.ok(secret);
  });
});

test('a recovery code logs in once; a used one is refused', async () => {
  const { codes } = await userWithTotp('to_recovery');
  const code = (codes[0] as string).toUpperCase();
  const c1 = (await loginDurably('to_recovery')).mfa_challenge as string;
  assert.ok((await loginMfa(c1, null, code)).access_token);
  const c2 = (await loginDurably('to_recovery')).mfa_challenge as string;
  assert.equal((await loginMfa(c2, null, code)).access_token, null);
  const left = await t.db.query(
    'select recovery_codes_left from pgauth.mfa_status((select id from pgauth.users where username = $1))',
    ['to_recovery'],
  );
  assert.deepEqual(left.rows[0], { recovery_codes_left: 9 });
});

test('login_mfa_durably with both or neither code fails with BADIN', async () => {
  await rejects(loginMfa('pgm_x', '123456', 'abc'), 'BADIN', 'invalid_input');
  await rejects(loginMfa('pgm_x', null, null), 'BADIN', 'invalid_input');
});

test('a wrong password with TOTP on gives no challenge; pgauth.login gives no row for an account with TOTP', async () => {
  await userWithTotp('to_wrongpw');
  const r = await loginDurably('to_wrongpw', WRONG_PASSWORD);
  assert.equal(r.mfa_challenge, null);
  assert.equal(
    (await t.db.query('select * from pgauth.login($1, $2)', ['to_wrongpw', PASSWORD])).rows.length,
    0,
  );
});

test('totp_remove needs a current code; reset_mfa (admin) removes every factor and is audited', async () => {
  const { id, secret } = await userWithTotp('to_remove');
  assert.equal(await scalar(t.db, 'select pgauth.totp_remove($1, $2) as v', [id, '000000']), false);
  assert.equal(
    await scalar(t.db, 'select pgauth.totp_remove($1, $2) as v', [
      id,
      totpCode(secret, stepAt() + 1),
    ]),
    true,
  );
  const pair = await loginDurably('to_remove');
  assert.ok(pair.access_token, 'TOTP off: the password alone logs in');
  assert.equal(((await validate(t.db, pair.access_token)) as { aal?: number }[])[0]?.aal, 1);
  const other = await userWithTotp('to_reset');
  assert.equal(await scalar(t.db, 'select pgauth.reset_mfa($1) as v', [other.id]), true);
  assert.ok((await loginDurably('to_reset')).access_token);
  assert.ok((await auditEvents(t.db, { userId: other.id })).includes('mfa_reset'));
});
