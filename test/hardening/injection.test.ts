/**
 * Injection and privileges (SECURITY.md 24, and 22–23 where test/sql/privileges.test.ts does not
 * reach). Classic injection payloads go in as every kind of input — username, password, email,
 * token, refresh token, role name, path id, query since/limit, lock reason — over HTTP and as bound
 * parameters of every pgauth function. Each must be data: a generic registry answer (never a 5xx,
 * never a syntax error), stored verbatim where it is stored, and nothing it says executed — a
 * canary table in another schema stands, pgauth.users holds exactly the accounts that were
 * legitimately created, no call lasts the pg_sleep a payload asks for, and no SQL text the gateway
 * sent contains a payload. Then the catalog: no function builds SQL by concatenation, pinned
 * search paths hold no schema a caller can write, owners and caller groups carry no dangerous
 * attribute, and PUBLIC can execute no function after any single migration.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { Database, Queryable, QueryResult, Row } from '../../packages/client/src/db/types.ts';
import { fromDatabaseError } from '../../packages/client/src/errors.ts';
import {
  FUNCTIONS,
  MIGRATIONS_DIR,
  migrate,
  readMigrations,
} from '../../packages/pgauth/src/migrate.ts';
import { openEmptyTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  call,
  createUser,
  login,
  PASSWORD,
  type Reply,
  startApp,
  type TestApp,
  type Tokens,
} from '../http/helpers.ts';

/** What a payload asks the server to sleep; no call may take that long. */
const SLEEP_SECONDS = 5;
const CANARY = `canary_${randomBytes(6).toString('hex')}`;

const PAYLOADS: readonly string[] = [
  "' or 1=1 --",
  "' or '1'='1",
  "admin'--",
  "admin' #",
  "'; drop table pgauth.users; --",
  `'; drop table public.${CANARY}; --`,
  `'); drop table public.${CANARY}; --`,
  `$$; drop table public.${CANARY}; $$`,
  `$$; select pg_sleep(${SLEEP_SECONDS}); $$`,
  `'; select pg_sleep(${SLEEP_SECONDS}); --`,
  `' || pg_sleep(${SLEEP_SECONDS}) || '`,
  `1' and (select pg_sleep(${SLEEP_SECONDS})) is null --`,
  `1; select pg_sleep(${SLEEP_SECONDS})`,
  "') union select password_hash, null, null from pgauth.users --",
  "' union select null, username, password_hash, null, null from pgauth.users --",
  "' and 1=cast((select password_hash from pgauth.users limit 1) as int) --",
  `'; copy pgauth.users to program 'touch /tmp/${CANARY}'; --`,
  '"; drop table pgauth.users; --',
  "\\'; drop table pgauth.users; --",
  "\\\\'; select 1; --",
  "E'\\x27'",
  '\\x00',
  'a\u0000b',
  '%27',
  '%27%20or%201%3D1--',
  '%00',
  '\u2019 or 1=1 --',
  '\u02bc or \u02bc1\u02bc=\u02bc1',
  '\uff07; drop table pgauth.users; --',
  "x'--@example.com",
  "a@b';drop/**/table/**/pgauth.users;--",
  '1 or 1=1',
  '-1',
  '9999999999999999999',
  "2020-01-01'; select pg_sleep(5); --",
  'now(); select pg_sleep(5)',
  "00000000-0000-0000-0000-000000000000' or '1'='1",
  `${'x'.repeat(300)}' or 1=1 --`,
  "'".repeat(2000),
];

/** Traces of the server's insides in a body. */
const LEAKS: RegExp[] = [
  /\n\s+at |\bat (?:async )?[\w.<>]+ \(/,
  /sqlstate|SQLSTATE|"code"\s*:\s*"[0-9A-Z]{5}"|\b(?:BADIN|WEAKP|NOUSR|TAKEN|REGOF)\b/,
  /pgauth\.|node_modules|syntax error|invalid input syntax|out of range|does not exist/i,
];

/** A Database that records every SQL text it is given (never the parameters). */
function recording(db: Database, texts: string[]): Database {
  const wrap = (q: Queryable): Queryable => ({
    query<R extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      texts.push(sql);
      return q.query<R>(sql, params);
    },
    exec(sql: string): Promise<void> {
      texts.push(sql);
      return q.exec(sql);
    },
  });
  return {
    engine: db.engine,
    ...wrap(db),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    listen: (channel, onNotify, onLost) => db.listen(channel, onNotify, onLost),
    close: () => db.close(),
  };
}

let t: TestDatabase;
let a: TestApp;
const sqlTexts: string[] = [];
let admin: Tokens;
let introspector: Tokens;
/** The longest single call of the current test, HTTP or SQL. */
let slowest = { ms: 0, what: '' };
beforeEach(() => {
  slowest = { ms: 0, what: '' };
});

async function users(): Promise<number> {
  const r = await t.db.query<{ n: number }>('select count(*)::int as n from pgauth.users');
  return r.rows[0]?.n ?? -1;
}

async function canaryStands(): Promise<boolean> {
  const r = await t.db.query<{ t: string | null }>(
    `select to_regclass('public.${CANARY}')::text as t`,
  );
  return r.rows[0]?.t !== null && r.rows[0]?.t !== undefined;
}

/**
 * What every payload test ends with: the canary table stands, pgauth.users holds exactly the
 * accounts made on purpose, and no call lasted the sleep a payload asked for.
 */
async function assertNothingRan(usersAtStart: number, created: string[]): Promise<void> {
  assert.ok(await canaryStands(), `public.${CANARY} still exists`);
  assert.equal(
    await users(),
    usersAtStart + created.length,
    'pgauth.users holds exactly the accounts made',
  );
  assert.ok(slowest.ms < SLEEP_SECONDS * 1000, `a call took ${slowest.ms} ms: ${slowest.what}`);
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const ms = performance.now() - started;
    if (ms > slowest.ms) slowest = { ms, what };
  }
}

before(async () => {
  t = await openTestDatabase();
  await t.db.exec(`create table public.${CANARY} (x int); insert into public.${CANARY} values (1)`);
  a = await startApp({}, { ...t, db: recording(t.db, sqlTexts) });
  await createUser(a, 'inj-admin', ['admin']);
  await createUser(a, 'inj-introspect', ['introspect']);
  admin = await login(a, 'inj-admin');
  introspector = await login(a, 'inj-introspect');
});
after(async () => {
  await a.close();
  await t.db.exec(`drop table if exists public.${CANARY}`);
  await t.close();
});

/** What an answer may be: statuses and, for errors, the registry codes. */
interface Expect {
  status: number[];
  codes?: string[];
  body?: string;
}

/** One HTTP call with a payload; the problems with its answer (empty when it is as expected). */
async function probe(
  what: string,
  expect: Expect,
  send: () => Promise<Reply>,
): Promise<{ reply: Reply; problems: string[] }> {
  const reply = await timed(what, send);
  const problems: string[] = [];
  const say = (s: string): void => {
    problems.push(`${what}: ${s} — ${reply.status} ${reply.text.slice(0, 160)}`);
  };
  if (!expect.status.includes(reply.status)) say(`status not in ${expect.status.join('/')}`);
  if (reply.status >= 400 && reply.status !== 414) {
    const keys = Object.keys(reply.json ?? {})
      .sort()
      .join();
    if (keys !== 'error,message') say('not a registry error body');
    else if (expect.codes && !expect.codes.includes(reply.json.error)) say('unexpected code');
  }
  if (expect.body !== undefined && reply.status === 200 && reply.text !== expect.body) {
    say(`body is not ${expect.body}`);
  }
  // Error bodies only: a 2xx may hold a payload stored as data (a username, a lock reason).
  if (reply.status >= 400)
    for (const re of LEAKS) if (re.test(reply.text)) say(`body matches ${re}`);
  return { reply, problems };
}

const ROLE = /^[a-z][a-z0-9_.:-]{0,62}$/;
/** Whether fetch can carry `s` in a header at all (latin1, no control characters). */
const headerSafe = (s: string): boolean => /^[\x20-\x7e\x80-\xff]*$/.test(s);

test('injection payloads over HTTP get generic 4xx answers or are stored verbatim; nothing runs', {
  timeout: 240_000,
}, async (tc) => {
  const usersAtStart = await users();
  /** Accounts made on purpose: pgauth.users must end with exactly these more. */
  const created: string[] = [];
  const problems: string[] = [];
  let requests = 0;
  const check = async (what: string, expect: Expect, send: () => Promise<Reply>) => {
    requests++;
    const r = await probe(what, expect, send);
    problems.push(...r.problems);
    return r.reply;
  };
  const token = admin.access_token;
  const victimLogin = await createUser(a, 'inj-victim-login');
  const victimAdmin = await createUser(a, 'inj-victim-admin');
  created.push(victimLogin, victimAdmin, await createUser(a, 'inj-victim-pw'));
  const pw = await login(a, 'inj-victim-pw');
  const registered: { id: string; username: string }[] = [];
  const bad = ['invalid_input'];
  // A path the router cannot decode (a malformed %-sequence) is refused before any schema runs.
  const badPath = [...bad, 'bad_request'];
  const weak = [
    'invalid_input',
    'password_too_short',
    'password_too_long',
    'password_common',
    'password_is_username',
  ];

  for (const [i, p] of PAYLOADS.entries()) {
    const q = encodeURIComponent(p);
    // Unknown user, and a known user with the payload as password.
    await check(
      `login username ${i}`,
      { status: [401, 400], codes: ['invalid_credentials', ...bad] },
      () => call(a, 'POST', '/v1/login', { json: { username: p, password: PASSWORD } }),
    );
    await check(
      `login password ${i}`,
      { status: [401, 400], codes: ['invalid_credentials', ...bad] },
      () => call(a, 'POST', '/v1/login', { json: { username: 'inj-victim-login', password: p } }),
    );
    // Registration: the payload as username, email, password. Valid ones are stored as given.
    const reg = await check(
      `register username ${i}`,
      { status: [201, 400, 409], codes: [...bad, 'username_taken'] },
      () => call(a, 'POST', '/v1/users', { json: { username: p, password: PASSWORD } }),
    );
    if (reg.status === 201) registered.push({ id: reg.json.user_id, username: p });
    const mail = await check(`register email ${i}`, { status: [201, 400], codes: bad }, () =>
      call(a, 'POST', '/v1/users', {
        json: { username: `inj-mail-${i}`, password: PASSWORD, email: p },
      }),
    );
    if (mail.status === 201) {
      created.push(mail.json.user_id);
      const u = await call(a, 'GET', `/v1/admin/users/${mail.json.user_id}`, { token });
      if (u.json.email !== p) problems.push(`email ${i} stored as ${JSON.stringify(u.json.email)}`);
    }
    const pass = await check(`register password ${i}`, { status: [201, 400], codes: weak }, () =>
      call(a, 'POST', '/v1/users', { json: { username: `inj-pass-${i}`, password: p } }),
    );
    if (pass.status === 201) {
      created.push(pass.json.user_id);
      await check(`login with password ${i}`, { status: [200] }, () =>
        call(a, 'POST', '/v1/login', { json: { username: `inj-pass-${i}`, password: p } }),
      );
    }
    // Tokens.
    await check(`refresh ${i}`, { status: [401, 400], codes: ['invalid_token', ...bad] }, () =>
      call(a, 'POST', '/v1/refresh', { json: { refresh_token: p } }),
    );
    await check(
      `introspect ${i}`,
      { status: [200, 400], codes: bad, body: '{"active":false}' },
      () =>
        call(a, 'POST', '/oauth2/introspect', {
          token: introspector.access_token,
          form: { token: p },
        }),
    );
    await check(`revoke ${i}`, { status: [200, 400], codes: bad, body: '{}' }, () =>
      call(a, 'POST', '/oauth2/revoke', { form: { token: p } }),
    );
    if (headerSafe(p)) {
      await check(`bearer ${i}`, { status: [401], codes: ['invalid_token'] }, () =>
        call(a, 'GET', '/v1/session', { headers: { authorization: `Bearer ${p}` } }),
      );
      await check(`logout ${i}`, { status: [401], codes: ['invalid_token'] }, () =>
        call(a, 'POST', '/v1/logout', { headers: { authorization: `Bearer ${p}` } }),
      );
    }
    await check(
      `current password ${i}`,
      { status: [401, 400], codes: ['invalid_credentials', ...bad] },
      () =>
        call(a, 'POST', '/v1/password', {
          token: pw.access_token,
          json: { current_password: p, new_password: 'another long passphrase' },
        }),
    );
    // Admin routes: path id, role name, query values, lock reason, a new password, roles.
    for (const [method, path] of [
      ['GET', `/v1/admin/users/${q}`],
      ['DELETE', `/v1/admin/users/${q}`],
      ['POST', `/v1/admin/users/${q}/unlock`],
      ['GET', `/v1/admin/users/${q}/sessions`],
    ] as const) {
      await check(
        `${method} :id ${i}`,
        { status: [400, 404, 414], codes: [...badPath, 'not_found'] },
        () => call(a, method, path, { token }),
      );
    }
    await check(
      `grant role ${i}`,
      { status: ROLE.test(p) ? [204] : [400, 414], codes: badPath },
      () => call(a, 'POST', `/v1/admin/users/${victimAdmin}/roles/${q}`, { token }),
    );
    await check(`revoke role ${i}`, { status: [204, 400, 414], codes: badPath }, () =>
      call(a, 'DELETE', `/v1/admin/users/${victimAdmin}/roles/${q}`, { token }),
    );
    for (const key of ['since', 'limit', 'user_id']) {
      await check(`audit ${key} ${i}`, { status: [200, 400], codes: bad }, () =>
        call(a, 'GET', `/v1/admin/audit?${key}=${q}`, { token }),
      );
    }
    for (const key of ['limit', 'offset']) {
      await check(`users ${key} ${i}`, { status: [200, 400], codes: bad }, () =>
        call(a, 'GET', `/v1/admin/users?${key}=${q}`, { token }),
      );
    }
    const withRole = await check(
      `create with role ${i}`,
      { status: ROLE.test(p) ? [201] : [400], codes: bad },
      () =>
        call(a, 'POST', '/v1/admin/users', {
          token,
          json: { username: `inj-role-${i}`, password: PASSWORD, roles: [p] },
        }),
    );
    if (withRole.status === 201) created.push(withRole.json.user_id);
    const lock = await check(`lock reason ${i}`, { status: [204, 400], codes: bad }, () =>
      call(a, 'POST', `/v1/admin/users/${victimAdmin}/lock`, { token, json: { reason: p } }),
    );
    if (lock.status === 204) {
      const u = await call(a, 'GET', `/v1/admin/users/${victimAdmin}`, { token });
      if (u.json.lock_reason !== p)
        problems.push(`lock reason ${i} stored as ${u.json.lock_reason}`);
      await call(a, 'POST', `/v1/admin/users/${victimAdmin}/unlock`, { token });
    }
    const set = await check(`set password ${i}`, { status: [204, 400], codes: weak }, () =>
      call(a, 'POST', `/v1/admin/users/${victimAdmin}/password`, { token, json: { password: p } }),
    );
    if (set.status === 204) {
      await check(`login after set password ${i}`, { status: [200] }, () =>
        call(a, 'POST', '/v1/login', { json: { username: 'inj-victim-admin', password: p } }),
      );
    }
  }

  // Every payload registered as a username is stored exactly, and logs in as itself.
  for (const { id, username } of registered) {
    created.push(id);
    const u = await call(a, 'GET', `/v1/admin/users/${id}`, { token });
    if (u.json.username !== username) problems.push(`username stored as ${u.json.username}`);
    const l = await call(a, 'POST', '/v1/login', { json: { username, password: PASSWORD } });
    if (l.status !== 200 || l.json.user_id !== id) problems.push(`${username} does not log in`);
  }
  const roles = await call(a, 'GET', `/v1/admin/users/${victimAdmin}`, { token });
  assert.deepEqual(
    roles.json.roles,
    PAYLOADS.filter((p) => ROLE.test(p)),
    'only valid role names were granted',
  );

  tc.diagnostic(
    `${PAYLOADS.length} payloads, ${requests} requests; ${registered.length} stored as usernames; slowest call ${Math.round(slowest.ms)} ms (${slowest.what}); ${sqlTexts.length} SQL texts recorded`,
  );
  assert.deepEqual(problems, [], 'every answer is generic and expected');
  assert.ok(registered.length > PAYLOADS.length / 2, 'most payloads are valid usernames: data');
  await assertNothingRan(usersAtStart, created);
  const distinctive = PAYLOADS.filter((p) => p.length >= 6);
  const inSql = distinctive.filter((p) => sqlTexts.some((s) => s.includes(p)));
  assert.deepEqual(inSql, [], 'no payload ever appeared in the text of a SQL statement');
  assert.ok(sqlTexts.length > 1000, 'the recorder saw the gateway queries');
});

/** The outcome of one SQL call: its rows, or the error it raised. */
async function sqlCall(
  sql: string,
  params: unknown[],
): Promise<{ rows: Row[]; err?: { code?: string; message?: string } }> {
  try {
    return { rows: (await t.db.query(sql, params)).rows };
  } catch (err) {
    return { rows: [], err: err as { code?: string; message?: string } };
  }
}

test('injection payloads as bound parameters of every pgauth function: data only, registry errors only', {
  timeout: 240_000,
}, async (tc) => {
  const usersAtStart = await users();
  const victim = await createUser(a, 'inj-sql-victim');
  const other = await createUser(a, 'inj-sql-other');
  /** Accounts made on purpose: pgauth.users must end with exactly these more. */
  const created: string[] = [victim, other];
  const problems: string[] = [];
  let calls = 0;
  const codes = new Map<string, number>();
  /** Runs one call; `ok` judges a result without error (true: as expected). */
  const run = async (
    what: string,
    sql: string,
    params: unknown[],
    ok: (rows: Row[]) => boolean | Promise<boolean> = () => true,
  ): Promise<Row[] | null> => {
    calls++;
    const r = await timed(what, () => sqlCall(sql, params));
    if (r.err) {
      const code = r.err.code ?? '?';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      // A pgauth SQLSTATE, or input the server refuses before the function runs (NUL, a payload
      // given as a uuid or a time): what the registry maps to a code. Never 42601, never 22009.
      if (!fromDatabaseError(r.err)) problems.push(`${what}: ${code} ${r.err.message}`);
      return null;
    }
    if (!(await ok(r.rows)))
      problems.push(`${what}: unexpected ${JSON.stringify(r.rows).slice(0, 200)}`);
    return r.rows;
  };
  const none = (rows: Row[]): boolean => rows.length === 0;
  const isFalse = (rows: Row[]): boolean => rows[0]?.r === false;
  const loginRows = async (username: string, password: string): Promise<number> =>
    (await t.db.query('select * from pgauth.login($1, $2)', [username, password])).rows.length;

  for (const [i, p] of PAYLOADS.entries()) {
    const reg = await run(`register username ${i}`, 'select pgauth.register($1, $2)::text as r', [
      `s${p}`,
      PASSWORD,
    ]);
    if (reg) {
      created.push(String(reg[0]?.r));
      const u = await t.db.query<{ username: string }>(
        'select username from pgauth.users where id = $1',
        [reg[0]?.r],
      );
      if (u.rows[0]?.username !== `s${p}`)
        problems.push(`register ${i} stored ${u.rows[0]?.username}`);
    }
    const regPw = await run(`register password ${i}`, 'select pgauth.register($1, $2)::text as r', [
      `inj-sql-p${i}`,
      p,
    ]);
    if (regPw) {
      created.push(String(regPw[0]?.r));
      if ((await loginRows(`inj-sql-p${i}`, p)) !== 1)
        problems.push(`password ${i} does not log in`);
    }
    const regMail = await run(
      `register email ${i}`,
      'select pgauth.register($1, $2, $3)::text as r',
      [`inj-sql-e${i}`, PASSWORD, p],
    );
    if (regMail) created.push(String(regMail[0]?.r));
    const made = await run(
      `create_user username ${i}`,
      'select pgauth.create_user($1, $2)::text as r',
      [`c${p}`, PASSWORD],
    );
    if (made) created.push(String(made[0]?.r));
    const withRole = await run(
      `create_user roles ${i}`,
      'select pgauth.create_user($1, $2, null, $3::text[])::text as r',
      [`inj-sql-r${i}`, PASSWORD, [p]],
      () => ROLE.test(p),
    );
    if (withRole) created.push(String(withRole[0]?.r));

    await run(
      `login username ${i}`,
      'select * from pgauth.login($1, $2)',
      [`z${p}`, PASSWORD],
      none,
    );
    await run(
      `login password ${i}`,
      'select * from pgauth.login($1, $2)',
      ['inj-sql-other', p],
      none,
    );
    await run(
      `login client_ip ${i}`,
      'select * from pgauth.login($1, $2, $3)',
      ['nobody', 'x', p],
      none,
    );
    await run(
      `login user_agent ${i}`,
      'select * from pgauth.login($1, $2, null, $3)',
      ['nobody', 'x', p],
      none,
    );
    await run(`validate ${i}`, 'select * from pgauth.validate($1)', [p], none);
    await run(
      `validate_many ${i}`,
      'select * from pgauth.validate_many($1::text[])',
      [[p, p]],
      none,
    );
    await run(`refresh ${i}`, 'select * from pgauth.refresh($1)', [p], none);
    await run(
      `refresh user_agent ${i}`,
      'select * from pgauth.refresh($1, null, $2)',
      ['pgr_x', p],
      none,
    );
    await run(`logout ${i}`, 'select pgauth.logout($1) as r', [p], isFalse);
    await run(`revoke_token ${i}`, 'select pgauth.revoke_token($1) as r', [p], isFalse);
    await run(
      `change_password current ${i}`,
      'select pgauth.change_password($1, $2, $3) as r',
      [other, p, 'another long passphrase'],
      isFalse,
    );
    await run(
      `change_password user_id ${i}`,
      'select pgauth.change_password($1, $2, $3) as r',
      [p, PASSWORD, 'x'],
      () => false,
    );
    const changed = await run(
      `change_password new ${i}`,
      'select pgauth.change_password($1, $2, $3) as r',
      [victim, PASSWORD, p],
      (rows) => rows[0]?.r === true,
    );
    if (changed) {
      if ((await loginRows('inj-sql-victim', p)) !== 1)
        problems.push(`new password ${i} does not log in`);
      await t.db.query('select pgauth.set_password($1, $2)', [victim, PASSWORD]);
    }
    const set = await run(`set_password ${i}`, 'select pgauth.set_password($1, $2)', [victim, p]);
    if (set) {
      if ((await loginRows('inj-sql-victim', p)) !== 1)
        problems.push(`set password ${i} does not log in`);
      await t.db.query('select pgauth.set_password($1, $2)', [victim, PASSWORD]);
    }
    await run(
      `set_password user_id ${i}`,
      'select pgauth.set_password($1, $2)',
      [p, PASSWORD],
      () => false,
    );
    const locked = await run(
      `lock_user reason ${i}`,
      `select pgauth.lock_user($1, 'infinity', $2)`,
      [victim, p],
    );
    if (locked) {
      const u = await t.db.query<{ lock_reason: string }>(
        'select lock_reason from pgauth.users where id = $1',
        [victim],
      );
      if (u.rows[0]?.lock_reason !== p)
        problems.push(`lock reason ${i} stored as ${u.rows[0]?.lock_reason}`);
      await t.db.query('select pgauth.unlock_user($1)', [victim]);
    }
    await run(`lock_user until ${i}`, 'select pgauth.lock_user($1, $2)', [victim, p], () => false);
    await run(`unlock_user ${i}`, 'select pgauth.unlock_user($1)', [p], () => false);
    await run(`grant_role ${i}`, 'select pgauth.grant_role($1, $2)', [victim, p], () =>
      ROLE.test(p),
    );
    await run(`revoke_role ${i}`, 'select pgauth.revoke_role($1, $2)', [victim, p]);
    await run(`delete_user ${i}`, 'select pgauth.delete_user($1)', [p], () => false);
    await run(
      `revoke_user_sessions reason ${i}`,
      'select pgauth.revoke_user_sessions($1, $2) as r',
      [victim, p],
    );
    await run(
      `revoke_user_sessions user_id ${i}`,
      'select pgauth.revoke_user_sessions($1) as r',
      [p],
      () => false,
    );
    await run(`revoke_session ${i}`, 'select pgauth.revoke_session($1) as r', [p], () => false);
    await run(`find_user ${i}`, 'select pgauth.find_user($1)::text as r', [p], async (rows) => {
      // Only when a user of exactly that name exists (one of the payloads registered above).
      const u = await t.db.query<{ username: string }>(
        'select username from pgauth.users where id = $1',
        [rows[0]?.r],
      );
      return u.rows[0]?.username.toLowerCase() === p.toLowerCase();
    });
    await run(`get_user ${i}`, 'select * from pgauth.get_user($1)', [p], () => false);
    await run(`list_sessions ${i}`, 'select * from pgauth.list_sessions($1)', [p], () => false);
    await run(`list_users limit ${i}`, 'select * from pgauth.list_users($1)', [p], () =>
      /^\d+$/.test(p),
    );
    await run(`list_users offset ${i}`, 'select * from pgauth.list_users(100, $1)', [p], () =>
      /^\d+$/.test(p),
    );
    await run(
      `audit_events user_id ${i}`,
      'select * from pgauth.audit_events($1)',
      [p],
      () => false,
    );
    await run(`audit_events since ${i}`, 'select * from pgauth.audit_events(null, $1)', [p]);
    await run(
      `audit_events limit ${i}`,
      'select * from pgauth.audit_events(null, null, $1)',
      [p],
      () => /^\d+$/.test(p),
    );
    await run(
      `purge_audit ${i}`,
      'select pgauth.purge_audit($1) as r',
      [p],
      (rows) => rows[0]?.r === 0,
    );
  }

  tc.diagnostic(
    `${calls} SQL calls; errors by SQLSTATE ${JSON.stringify(Object.fromEntries([...codes].sort()))}; slowest call ${Math.round(slowest.ms)} ms (${slowest.what})`,
  );
  assert.deepEqual(problems, [], 'every call returned data or a registry error');
  assert.ok(!codes.has('42601'), 'no syntax error');
  await assertNothingRan(usersAtStart, created);
  const tables = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pg_class where relnamespace = 'pgauth'::regnamespace and relkind = 'r'`,
  );
  assert.ok((tables.rows[0]?.n ?? 0) >= 8, 'every pgauth table still exists');
});

// ---------------------------------------------------------------------------------------------
// The catalog.
// ---------------------------------------------------------------------------------------------

/** A PL/pgSQL body with string literals, dollar quotes and comments blanked (same length). */
function blankLiterals(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const dollar = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest)?.[0];
    let stop: number;
    if (src[i] === "'") {
      const escapes = /[eE]$/.test(src.slice(0, i));
      let j = i + 1;
      while (j < src.length) {
        if (escapes && src[j] === '\\') j += 2;
        else if (src[j] === "'" && src[j + 1] === "'") j += 2;
        else if (src[j] === "'") break;
        else j++;
      }
      stop = j + 1;
    } else if (dollar) {
      const end = src.indexOf(dollar, i + dollar.length);
      stop = end < 0 ? src.length : end + dollar.length;
    } else if (rest.startsWith('--')) {
      const nl = src.indexOf('\n', i);
      stop = nl < 0 ? src.length : nl;
    } else if (rest.startsWith('/*')) {
      const end = src.indexOf('*/', i + 2);
      stop = end < 0 ? src.length : end + 2;
    } else {
      out += src[i];
      i++;
      continue;
    }
    const kept = src[i] === "'" ? "'" : ' ';
    out += kept + ' '.repeat(Math.max(0, stop - i - 2)) + (stop - i >= 2 ? kept : '');
    i = stop;
  }
  return out;
}

/**
 * The EXECUTE statements of a PL/pgSQL body that could build SQL from input: those that
 * concatenate (||) outside literals, or whose format() string interpolates with %s. Allowed:
 * `execute format(… %I / %L …)` and `execute '…' using …`.
 */
function unsafeExecutes(src: string): string[] {
  const blank = blankLiterals(src);
  const out: string[] = [];
  for (const m of blank.matchAll(/\bexecute\b/gi)) {
    const start = m.index ?? 0;
    const end = blank.indexOf(';', start);
    const stmt = blank.slice(start, end < 0 ? blank.length : end);
    const original = src.slice(start, end < 0 ? src.length : end);
    const viaFormat = /^execute\s+(pg_catalog\.)?format\s*\(/i.test(stmt);
    const literalUsing = /^execute\s+'\s*'\s*(using\b[\s\S]*)?$/i.test(stmt.trim());
    const interpolates = /%(\d+\$)?s/.test(original);
    if (stmt.includes('||') || !(viaFormat || literalUsing) || interpolates) out.push(original);
  }
  return out;
}

test('no pgauth function builds dynamic SQL by concatenation: every EXECUTE is format(%I/%L) or USING', async (tc) => {
  // The checker itself tells the bad from the good.
  assert.deepEqual(
    [
      `begin execute 'select * from t where a = ''' || p_x || ''''; end`,
      'begin execute format($q$select %s$q$, p_x); end',
      'begin execute p_sql; end',
      'begin return query execute $$select $$ || p_x; end',
    ].map((b) => unsafeExecutes(b).length),
    [1, 1, 1, 1],
  );
  assert.deepEqual(
    [
      `begin execute format('select %L, %I', p_x, p_y); end`,
      `begin execute 'select $1' using p_x; end`,
      `begin raise notice 'execute ' || p_x; end -- execute || comment`,
    ].map((b) => unsafeExecutes(b).length),
    [0, 0, 0],
  );
  const r = await t.db.query<{ fn: string; src: string }>(
    `select p.oid::regprocedure::text as fn, p.prosrc as src
     from pg_proc p join pg_language l on l.oid = p.prolang
     where p.pronamespace = 'pgauth'::regnamespace and l.lanname = 'plpgsql' order by 1`,
  );
  assert.ok(r.rows.length > 20, 'the PL/pgSQL functions were read');
  const executes = r.rows.flatMap((f) =>
    [...blankLiterals(f.src).matchAll(/\bexecute\b/gi)].map(() => f.fn),
  );
  tc.diagnostic(
    `${r.rows.length} PL/pgSQL functions; EXECUTE in: ${executes.join(', ') || 'none'}`,
  );
  const unsafe = r.rows.flatMap((f) => unsafeExecutes(f.src).map((s) => `${f.fn}: ${s}`));
  assert.deepEqual(unsafe, []);
});

test('every pinned search_path lists only pg_catalog, pgauth and pg_temp (last), none writable by a caller', async () => {
  const r = await t.db.query<{ fn: string; setting: string }>(
    `select p.oid::regprocedure::text as fn, substr(c, 13) as setting
     from pg_proc p, unnest(p.proconfig) c
     where p.pronamespace = 'pgauth'::regnamespace and c like 'search_path=%' order by 1`,
  );
  assert.ok(r.rows.length > 20, 'the functions with a pinned search_path were read');
  const wrong = r.rows.filter(({ setting }) => {
    const path = setting.split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    return (
      path.some((s) => !['pg_catalog', 'pgauth', 'pg_temp'].includes(s)) ||
      path.at(-1) !== 'pg_temp' ||
      path[0] !== 'pg_catalog'
    );
  });
  assert.deepEqual(wrong, [], 'pg_catalog first, pg_temp last, nothing else but pgauth');
  const writable = await t.db.query<{ who: string; schema: string }>(
    `select w.who, s.schema from (values ('public'), ('pgauth_service'), ('pgauth_admin')) w(who)
     cross join (values ('pgauth'), ('pg_catalog')) s(schema)
     where has_schema_privilege(w.who, s.schema, 'create')`,
  );
  assert.deepEqual(writable.rows, [], 'no caller can create objects in a schema of those paths');
});

test('pgauth objects belong to pgauth_owner; no owner or caller group holds a dangerous attribute or membership', async () => {
  const owners = await t.db.query<{ what: string; owner: string }>(
    `select p.oid::regprocedure::text as what, p.proowner::regrole::text as owner
     from pg_proc p where p.pronamespace = 'pgauth'::regnamespace
       and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                       and d.objid = p.oid and d.deptype = 'e')
     union all
     select c.oid::regclass::text, c.relowner::regrole::text from pg_class c
     where c.relnamespace = 'pgauth'::regnamespace and c.relkind in ('r', 'p', 'v', 'S')`,
  );
  assert.ok(owners.rows.length > 30, 'functions and tables were read');
  assert.deepEqual(
    owners.rows.filter((o) => o.owner !== 'pgauth_owner'),
    [],
    'every pgauth function (not of an extension), table and sequence is owned by pgauth_owner',
  );
  const attrs = await t.db.query<Row>(
    `select rolname, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
     from pg_roles where rolname in ('pgauth_owner', 'pgauth_service', 'pgauth_admin') order by 1`,
  );
  assert.deepEqual(
    attrs.rows,
    ['pgauth_admin', 'pgauth_owner', 'pgauth_service'].map((rolname) => ({
      rolname,
      rolsuper: false,
      rolcanlogin: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
      rolbypassrls: false,
    })),
  );
  const members = await t.db.query<{ member: string; of: string }>(
    `select m.rolname as member, o.rolname as of
     from pg_roles m cross join pg_roles o
     where m.rolname in ('pgauth_service', 'pgauth_admin') and m.oid <> o.oid
       and (o.rolname in ('pgauth_owner', 'pgauth_admin') or o.rolname like 'pg\\_%'
            or o.rolsuper or o.rolcreaterole or o.rolbypassrls)
       and pg_has_role(m.oid, o.oid, 'member')`,
  );
  assert.deepEqual(
    members.rows,
    [],
    'a caller group inherits neither the owner nor a predefined role',
  );
  const sequences = await t.db.query<{ seq: string; who: string }>(
    `select c.oid::regclass::text as seq, w.who from pg_class c
     cross join (values ('public'), ('pgauth_service'), ('pgauth_admin')) w(who)
     where c.relnamespace = 'pgauth'::regnamespace and c.relkind = 'S'
       and has_sequence_privilege(w.who, c.oid, 'usage,select,update')`,
  );
  assert.deepEqual(sequences.rows, [], 'no caller can use a pgauth sequence');
});

/** Functions of schema pgauth that PUBLIC may execute, and tables it may touch. */
async function publicReach(db: Database): Promise<string[]> {
  const r = await db.query<{ what: string }>(
    `select p.oid::regprocedure::text as what from pg_proc p
     where p.pronamespace = 'pgauth'::regnamespace and has_function_privilege('public', p.oid, 'execute')
     union all
     select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'pgauth'::regnamespace and c.relkind in ('r', 'p', 'v', 'S')
       and has_table_privilege('public', c.oid, 'select,insert,update,delete,truncate')`,
  );
  return r.rows.map((x) => x.what);
}

test('after each single migration and after the functions, PUBLIC can execute no pgauth function and touch no table', {
  timeout: 120_000,
}, async (tc) => {
  const files = await readMigrations();
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-migrations-'));
  let db: Database | null = null;
  try {
    db = await openEmptyTestDatabase();
    const seen: string[] = [];
    for (const file of files) {
      await copyFile(join(MIGRATIONS_DIR, file.name), join(dir, file.name));
      assert.deepEqual(await migrate(db, dir, null), [file.name]);
      const reach = await publicReach(db);
      assert.deepEqual(reach, [], `after ${file.name}`);
      seen.push(file.name);
    }
    assert.deepEqual(await migrate(db, dir), [FUNCTIONS]);
    assert.deepEqual(await publicReach(db), [], 'after the functions');
    seen.push(FUNCTIONS);
    tc.diagnostic(`checked after each of ${seen.join(', ')}`);
    const fns = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_proc where pronamespace = 'pgauth'::regnamespace`,
    );
    assert.ok((fns.rows[0]?.n ?? 0) > 30, 'migrate applied the files of sql/functions');
  } finally {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
