/**
 * The SQL side of the security review of issue 14 (migration 0009), one test or more per item:
 * each fails on the functions of 0001–0008 and passes with 0009.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dictionary } from '@zxcvbn-ts/language-common';
import { postgresOnly, useTestDatabaseAs } from '../helpers/db.ts';
import {
  type TokenPair as Pair,
  PASSWORD as PW,
  rejects,
  sqlOn,
  WRONG_PASSWORD as WRONG,
} from '../helpers/sql.ts';

const t = useTestDatabaseAs();
const {
  register,
  session,
  refresh,
  validates,
  login: loginRows,
  lockState,
  withClock,
  withSettings,
} = sqlOn(t);

/** PostgreSQL only: a fresh login role in `group`, and a pool connected as it. */
const connectAs = (group: string) => t.connectAs(group);

async function revokedReason(sessionId: string): Promise<string | null> {
  const r = await t.db.query<{ reason: string | null }>(
    'select revoked_reason as reason from pgauth.sessions where id = $1',
    [sessionId],
  );
  return r.rows[0]?.reason ?? null;
}

async function failures(userId: string): Promise<{ reason: string; via?: string }[]> {
  const r = await t.db.query<{ detail: { reason: string; via?: string } }>(
    `select detail from pgauth.audit_log where event = 'login_failure' and user_id = $1 order by id`,
    [userId],
  );
  return r.rows.map((x) => x.detail);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return (await t.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) x`, params))
    .rows[0]?.n as number;
}

// ---- Item 4: purge_audit with a mixed interval ------------------------------------------------

test('purge_audit with a negative part (-1 month +31 days) fails with BADIN invalid_input and deletes nothing', async () => {
  await t.db.query(`select pgauth.register('sf_purge', $1)`, [PW]);
  const rows = await count('select 1 from pgauth.audit_log');
  assert.ok(rows > 0);
  for (const older of ['-1 month +31 days', '-1 year +366 days', '2 days -1 hour', '-14 months']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
  assert.equal(await count('select 1 from pgauth.audit_log'), rows, 'no audit row was deleted');
});

test('purge_audit checks the cut-off as a point in time: it must lie at least one day back', async () => {
  // 1 month is at least 28 days, whatever the month: accepted, and nothing here is that old.
  const r = await t.db.query<{ n: number }>(`select pgauth.purge_audit('1 month') as n`);
  assert.equal(r.rows[0]?.n, 0);
  for (const older of ['23 hours 59 minutes', '0']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
});

// ---- Item 7: the grace window is measured at the statement, not at the transaction's start ----

test('a transaction begun inside the grace window cannot replay the rotated refresh token after the window: no row, refresh_reuse', {
  skip: postgresOnly,
}, async () => {
  const p = await session('sf_stale_tx');
  const other = t.connect({ max: 1 });
  const rows = await other.transaction(async (tx) => {
    await tx.query('select 1'); // now() of this transaction is fixed from here on
    // The rotation happens after that, on a clock 10 s behind: its window (10 s) ends now.
    const rotated = await withClock('-10 seconds', () => refresh(p.refresh_token));
    assert.equal(rotated.length, 1);
    return (await tx.query<Pair>('select * from pgauth.refresh($1)', [p.refresh_token])).rows;
  });
  assert.deepEqual(rows, [], 'the old token is not worth a pair once the window has passed');
  assert.equal(await revokedReason(p.session_id), 'refresh_reuse');
});

// ---- Item 8: no stored salt derives the live pair after the grace window ----------------------

async function derivedFromStore(oldRefresh: string, sessionId: string) {
  const r = await t.db.query<{ access: string | null; refresh: string | null; salt: boolean }>(
    `select pgauth._derive_token('pga_', $1, rotation_salt, 'access') as access,
            pgauth._derive_token('pgr_', $1, rotation_salt, 'refresh') as refresh,
            rotation_salt is not null as salt
     from pgauth.sessions where id = $2`,
    [oldRefresh, sessionId],
  );
  return r.rows[0] as NonNullable<(typeof r.rows)[0]>;
}

test('after the grace window purge_expired() wipes the rotation salt: the stored row and the rotated refresh token no longer derive the live pair', async () => {
  const p = await session('sf_salt');
  const n = (await refresh(p.refresh_token))[0] as Pair;
  const inside = await derivedFromStore(p.refresh_token, p.session_id);
  assert.deepEqual(
    [inside.access, inside.refresh],
    [n.access_token, n.refresh_token],
    'inside the window the salt rebuilds the pair: that is what a retry needs',
  );
  await withClock('11 seconds', () => t.db.query('select pgauth.purge_expired()'));
  const afterWindow = await derivedFromStore(p.refresh_token, p.session_id);
  assert.deepEqual(afterWindow, { access: null, refresh: null, salt: false });
  assert.ok(await validates(n.access_token), 'the live pair keeps working');
  assert.equal((await refresh(n.refresh_token)).length, 1, 'and rotates on');
});

test('purge_expired() keeps a salt whose window is still open: a retry at 7 s still gets the same pair', async () => {
  const p = await session('sf_salt_open');
  const n = (await refresh(p.refresh_token))[0] as Pair;
  // Well inside the 10 s window: the real clock runs on under the offset (the purge takes time).
  const again = await withClock('7 seconds', async () => {
    await t.db.query('select pgauth.purge_expired()');
    return refresh(p.refresh_token);
  });
  assert.deepEqual(again, [n]);
});

test('a rotated refresh token presented after the window revokes the session and wipes its salt', async () => {
  const p = await session('sf_salt_reuse');
  await refresh(p.refresh_token);
  await withClock('11 seconds', async () => {
    assert.deepEqual(await refresh(p.refresh_token), []);
  });
  assert.equal(await revokedReason(p.session_id), 'refresh_reuse');
  assert.equal((await derivedFromStore(p.refresh_token, p.session_id)).salt, false);
});

// ---- Item 1: re-locking after a lockout ------------------------------------------------------

test('after a lockout has ended one wrong password does not lock again: the next lock needs max_failed_logins new failures', async () => {
  const id = await register('sf_relock');
  await withSettings({ max_failed_logins: 3 }, async () => {
    for (let i = 0; i < 3; i++) await loginRows('sf_relock', WRONG);
    assert.equal((await lockState(id)).seconds, 300);
    await withClock('301 seconds', async () => {
      await loginRows('sf_relock', WRONG);
      assert.equal((await lockState(id)).locked, false, 'one failure after the lock: no lock');
      assert.equal((await loginRows('sf_relock', PW)).length, 1, 'the owner gets in');
    });
  });
});

test('an attempt while the account is locked is refused and not counted, whatever the password', async () => {
  const id = await register('sf_locked_count');
  for (let i = 0; i < 10; i++) await loginRows('sf_locked_count', WRONG);
  const locked = await lockState(id);
  assert.deepEqual([locked.failed_logins, locked.locked], [10, true]);
  for (const pw of [WRONG, PW, WRONG]) assert.deepEqual(await loginRows('sf_locked_count', pw), []);
  assert.equal((await lockState(id)).failed_logins, 10);
  assert.deepEqual((await failures(id)).slice(-3), [
    { reason: 'locked' },
    { reason: 'locked' },
    { reason: 'locked' },
  ]);
});

// ---- Item 2: change_password on a locked account ----------------------------------------------

/** Calls of pgauth's hashing functions made by `sql`, in a transaction of its own. */
async function hashesDuring(sql: string, params: unknown[]): Promise<number> {
  // The view may still hold unflushed counts of earlier transactions: take the difference.
  const calls = `select coalesce(sum(calls), 0)::int as n from pg_stat_xact_user_functions
                 where schemaname = 'pgauth'
                   and funcname in ('_crypt', '_verify_password', '_hash_password')`;
  let n = -1;
  await t.db.transaction(async (tx) => {
    await tx.query(`set local track_functions = 'all'`);
    const before = (await tx.query<{ n: number }>(calls)).rows[0]?.n ?? 0;
    await tx.query(sql, params);
    n = ((await tx.query<{ n: number }>(calls)).rows[0]?.n ?? 0) - before;
  });
  return n;
}

test('change_password on a locked account fails like a wrong password (false) before any password hash is computed, and counts nothing', async () => {
  const id = await register('sf_cp_locked');
  assert.ok(
    (await hashesDuring('select pgauth.change_password($1, $2, $3)', [
      id,
      WRONG,
      'new passphrase 1',
    ])) > 0,
    'a check on an account that is not locked does hash',
  );
  await t.db.query(`select pgauth.lock_user($1, now() + interval '1 hour')`, [id]);
  const before = (await lockState(id)).failed_logins;
  const hashes = await hashesDuring('select pgauth.change_password($1, $2, $3)', [
    id,
    PW,
    'new passphrase 2',
  ]);
  assert.equal(hashes, 0, 'no hash for a locked account, not even of the right password');
  const ok = (
    await t.db.query<{ ok: boolean }>('select pgauth.change_password($1, $2, $3) as ok', [
      id,
      PW,
      'new passphrase 3',
    ])
  ).rows[0]?.ok;
  assert.equal(ok, false);
  assert.equal((await lockState(id)).failed_logins, before, 'nothing counted');
  assert.deepEqual((await failures(id)).at(-1), { reason: 'locked', via: 'change_password' });
});

test('wrong current passwords in change_password count toward the lockout like failed logins', async () => {
  const id = await register('sf_cp_count');
  for (let i = 0; i < 10; i++) {
    const r = await t.db.query<{ ok: boolean }>('select pgauth.change_password($1, $2, $3) as ok', [
      id,
      WRONG,
      'new passphrase 4',
    ]);
    assert.equal(r.rows[0]?.ok, false);
  }
  const s = await lockState(id);
  assert.deepEqual([s.failed_logins, s.locked, s.lock_count], [10, true, 1]);
  assert.deepEqual(await loginRows('sf_cp_count', PW), [], 'the lock holds for login too');
});

// ---- Item 3: guessing by rollback -------------------------------------------------------------

test('a pgauth_service member cannot try a password in a transaction it rolls back: pgauth.login and pgauth.change_password are refused (42501)', {
  skip: postgresOnly,
}, async () => {
  const id = await register('sf_rollback');
  const svc = await connectAs('pgauth_service');
  for (const [sql, params] of [
    ['select * from pgauth.login($1, $2)', ['sf_rollback', WRONG]],
    ['select pgauth.change_password($1, $2, $3)', [id, WRONG, 'new passphrase 5']],
  ] as const) {
    await assert.rejects(
      svc.transaction(async (tx) => {
        await tx.query(sql, [...params]);
        throw new Error('the guess was made and is rolled back');
      }),
      (err: { code?: string }) => err.code === '42501',
      sql,
    );
  }
  // What it may call instead commits the failure before it answers.
  const r = await svc.query<Pair>('call pgauth.login_durably($1, $2)', ['sf_rollback', WRONG]);
  assert.equal(r.rows[0]?.user_id, null);
  const c = await svc.query<{ changed: boolean }>(
    'call pgauth.change_password_durably($1, $2, $3)',
    [id, WRONG, 'new passphrase 6'],
  );
  assert.equal(c.rows[0]?.changed, false);
  assert.equal((await lockState(id)).failed_logins, 2);
  assert.deepEqual(await failures(id), [
    { reason: 'bad_password' },
    { reason: 'bad_password', via: 'change_password' },
  ]);
});

test('login_durably: a wrong password is counted and audited and yields NULLs; the right one a session', async () => {
  const id = await register('sf_durable');
  const bad = await t.db.query<Pair>('call pgauth.login_durably($1, $2, $3, $4)', [
    'sf_durable',
    WRONG,
    '203.0.113.9',
    'agent/1',
  ]);
  assert.deepEqual(bad.rows, [
    {
      user_id: null,
      session_id: null,
      access_token: null,
      access_expires_at: null,
      refresh_token: null,
      refresh_expires_at: null,
      mfa_challenge: null,
      mfa_expires_at: null,
    },
  ]);
  assert.equal((await lockState(id)).failed_logins, 1);
  const audit = await t.db.query<{ ip: string; agent: string; detail: unknown }>(
    `select host(client_ip) as ip, user_agent as agent, detail from pgauth.audit_log
     where user_id = $1 and event = 'login_failure'`,
    [id],
  );
  assert.deepEqual(audit.rows, [
    { ip: '203.0.113.9', agent: 'agent/1', detail: { reason: 'bad_password' } },
  ]);
  const good = (await t.db.query<Pair>('call pgauth.login_durably($1, $2)', ['sf_durable', PW]))
    .rows[0] as Pair;
  assert.equal(good.user_id, id);
  assert.match(good.access_token, /^pga_[A-Za-z0-9_-]{43}$/);
  assert.ok(await validates(good.access_token));
  assert.equal((await lockState(id)).failed_logins, 0);
  assert.equal(await count('select 1 from pgauth.password_attempts'), 0, 'no ticket left');
});

test('login_durably inside a transaction block fails with 2D000 before it answers, and leaves nothing', async () => {
  const id = await register('sf_in_block');
  await assert.rejects(
    t.db.transaction((tx) => tx.query('call pgauth.login_durably($1, $2)', ['sf_in_block', PW])),
    (err: { code?: string }) => err.code === '2D000',
  );
  assert.equal(
    await count(`select 1 from pgauth.audit_log where user_id = $1 and event <> 'register'`, [id]),
    0,
  );
  assert.equal(await count('select 1 from pgauth.sessions where user_id = $1', [id]), 0);
});

test('login_durably followed by a failing statement in the same query string fails whole with 2D000: no answer', async () => {
  await register('sf_multi');
  await assert.rejects(
    t.db.exec(`call pgauth.login_durably('sf_multi', '${WRONG}'); select 1 / 0`),
    (err: { code?: string }) => err.code === '2D000',
  );
});

test('login_answer reveals nothing before the attempt has committed, even for the right password; after the commit it answers once', async () => {
  const id = await register('sf_answer');
  let early: Pair[] = [];
  await assert.rejects(
    t.db.transaction(async (tx) => {
      const ticket = (
        await tx.query<{ ticket: string }>('select pgauth.login_attempt($1, $2) as ticket', [
          'sf_answer',
          PW,
        ])
      ).rows[0]?.ticket;
      early = (await tx.query<Pair>('select * from pgauth.login_answer($1, $2)', [ticket, PW]))
        .rows;
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.deepEqual(early, [], 'no answer inside the transaction of the attempt');
  const ticket = (
    await t.db.query<{ ticket: string }>('select pgauth.login_attempt($1, $2) as ticket', [
      'sf_answer',
      PW,
    ])
  ).rows[0]?.ticket as string;
  assert.match(ticket, /^pgc_[A-Za-z0-9_-]{43}$/);
  const answer = await t.db.query<Pair>('select * from pgauth.login_answer($1, $2)', [ticket, PW]);
  assert.equal(answer.rows[0]?.user_id, id);
  assert.deepEqual(
    (await t.db.query('select * from pgauth.login_answer($1, $2)', [ticket, PW])).rows,
    [],
    'a ticket answers once',
  );
});

test('login_attempt must be the first write of its transaction: a second attempt fails with BADIN invalid_input', async () => {
  await register('sf_second');
  await rejects(
    t.db.transaction(async (tx) => {
      await tx.query('select pgauth.login_attempt($1, $2)', ['sf_second', WRONG]);
      await tx.query('select pgauth.login_attempt($1, $2)', ['sf_second', PW]);
    }),
    'BADIN',
    'invalid_input',
  );
});

/** What one statement wrote to each pgauth table, in a transaction that is rolled back. */
async function writesOf(sql: string, params: unknown[]): Promise<string[]> {
  // pg_stat_xact_user_tables may still hold counts of earlier transactions of the same backend
  // that were not flushed yet: read it before and after, and keep the difference.
  const counts = `select relname, n_tup_ins as i, n_tup_upd as u, n_tup_del as d
                  from pg_stat_xact_user_tables where schemaname = 'pgauth'`;
  type Counts = { relname: string; i: number; u: number; d: number };
  let writes: string[] = [];
  await assert.rejects(
    t.db.transaction(async (tx) => {
      const before = new Map((await tx.query<Counts>(counts)).rows.map((r) => [r.relname, r]));
      await tx.query(sql, params);
      writes = (await tx.query<Counts>(counts)).rows
        .map((r) => {
          const b = before.get(r.relname) ?? { i: 0, u: 0, d: 0 };
          return { name: r.relname, i: r.i - b.i, u: r.u - b.u, d: r.d - b.d };
        })
        .filter((w) => w.i + w.u + w.d > 0)
        .map((w) => `${w.name} ${w.i}/${w.u}/${w.d}`)
        .sort();
      throw new Error('roll back');
    }),
    /roll back/,
  );
  return writes;
}

test('login_attempt writes the same, whatever the outcome: one update of the user row, one attempt row', async () => {
  const id = await register('sf_shape');
  for (let i = 0; i < 9; i++) await loginRows('sf_shape', WRONG);
  const attempt = 'select pgauth.login_attempt($1, $2)';
  const right = await writesOf(attempt, ['sf_shape', PW]);
  const wrongAndLocks = await writesOf(attempt, ['sf_shape', WRONG]);
  assert.deepEqual(right, ['password_attempts 1/0/0', 'users 0/1/0']);
  assert.deepEqual(wrongAndLocks, right, 'the tenth wrong password locks, and writes no more');
  const ch = 'select pgauth.change_password_attempt($1, $2, $3)';
  assert.deepEqual(await writesOf(ch, [id, PW, 'new passphrase 7']), right);
  assert.deepEqual(await writesOf(ch, [id, WRONG, 'new passphrase 7']), right);
  assert.equal((await lockState(id)).failed_logins, 9, 'all of it was rolled back');
});

test('an answer read in a transaction that rolls back leaves the failure counted; purge_expired() audits the unread attempt after a minute', async () => {
  const id = await register('sf_unread');
  const ticket = (
    await t.db.query<{ ticket: string }>('select pgauth.login_attempt($1, $2) as ticket', [
      'sf_unread',
      WRONG,
    ])
  ).rows[0]?.ticket;
  await assert.rejects(
    t.db.transaction(async (tx) => {
      await tx.query('select * from pgauth.login_answer($1, $2)', [ticket, WRONG]);
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.equal((await lockState(id)).failed_logins, 1, 'counted when the attempt committed');
  assert.deepEqual(await failures(id), []);
  await withClock('61 seconds', () => t.db.query('select pgauth.purge_expired()'));
  assert.deepEqual(await failures(id), [{ reason: 'bad_password', unfinished: true } as never]);
  assert.equal(await count('select 1 from pgauth.password_attempts'), 0);
});

test('change_password_durably: false for a wrong current password (counted), true for the right one (every session revoked)', async () => {
  const p = await session('sf_cp_durable');
  const wrong = await t.db.query<{ changed: boolean }>(
    'call pgauth.change_password_durably($1, $2, $3)',
    [p.user_id, WRONG, 'new passphrase 8'],
  );
  assert.deepEqual(wrong.rows, [{ changed: false }]);
  assert.equal((await lockState(p.user_id)).failed_logins, 1);
  await rejects(
    t.db.query('call pgauth.change_password_durably($1, $2, $3)', [p.user_id, PW, 'short']),
    'WEAKP',
    'password_too_short',
  );
  const right = await t.db.query<{ changed: boolean }>(
    'call pgauth.change_password_durably($1, $2, $3)',
    [p.user_id, PW, 'new passphrase 8'],
  );
  assert.deepEqual(right.rows, [{ changed: true }]);
  assert.equal(await validates(p.access_token), false);
  assert.equal((await loginRows('sf_cp_durable', 'new passphrase 8')).length, 1);
});

// ---- Item 18: common passwords ------------------------------------------------------------------

function registerAs(username: string, password: string) {
  return t.db.query('select pgauth.register($1, $2)', [username, password]);
}

/** Registers each password under a username of its own (`<prefix>_<i>`): each is refused WEAKP. */
async function refusedAsCommon(prefix: string, passwords: readonly string[]): Promise<void> {
  for (const [i, pw] of passwords.entries()) {
    await rejects(registerAs(`${prefix}_${i}`, pw), 'WEAKP', 'password_common');
  }
}

test('password1234 fails with WEAKP password_common, as does any common password with digits, symbols or spaces around it', async () => {
  await refusedAsCommon('sf_common', [
    'password1234',
    'Password1234!',
    '!!dragon2024!!',
    '1qaz2wsx12345',
    'iloveyou 2024',
    '2024monkey!!!',
    '123456789012',
  ]);
  const id = await register('sf_common_change');
  // The same check behind the change of a password and behind an administrator's reset.
  for (const [sql, params] of [
    ['select pgauth.change_password($1, $2, $3)', [id, PW, 'Password1234']],
    ['select pgauth.set_password($1, $2)', [id, 'letmein!2024']],
  ] as const) {
    await rejects(t.db.query(sql, params), 'WEAKP', 'password_common');
  }
});

test('a simple repetition fails with WEAKP password_common: of a unit shorter than the minimum length, or of a refused one', async () => {
  await refusedAsCommon('sf_repeat', [
    'abcabcabcabc',
    'aaaaaaaaaaaa',
    '😀'.repeat(12),
    'passwordpassword',
    'Password1234password1234',
    'x7#kQ2x7#kQ2x7#kQ2',
  ]);
  // A unit long enough and not common: as strong as the unit, accepted.
  await registerAs('sf_repeat_ok', 'plum tree at dusk plum tree at dusk');
});

test('every entry of the common-password dictionary of @zxcvbn-ts/language-common is in pgauth.common_passwords', async () => {
  const words = [
    ...new Set((dictionary['passwords-common'] as string[]).map((w) => w.toLowerCase())),
  ];
  assert.ok(words.length > 49_000, `the dictionary has ${words.length} entries`);
  const r = await t.db.query<{ n: number }>(
    'select count(*)::int as n from pgauth.common_passwords where password = any($1::text[])',
    [words],
  );
  assert.equal(r.rows[0]?.n, words.length);
  const long = words.filter((w) => w.length >= 12).slice(0, 20);
  await refusedAsCommon('sf_long', long);
});

test('passphrases, random strings and common words inside other letters are accepted', async () => {
  for (const [i, pw] of [
    'correct horse battery staple',
    'a long enough passphrase',
    'x7k2p9q4m1z8',
    'password manager vault',
    'dragonfly1234x',
    'Tr0ub4dor&3 again',
    'é'.repeat(5) + 'ü'.repeat(7),
  ].entries()) {
    await registerAs(`sf_fine_${i}`, pw);
  }
});
