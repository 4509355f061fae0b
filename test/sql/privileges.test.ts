import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Database } from '../../packages/client/src/db/types.ts';
import { postgresOnly, useTestDatabaseAs } from '../helpers/db.ts';
import { PASSWORD as PW } from '../helpers/sql.ts';

const t = useTestDatabaseAs();

/** A fresh login role, member of `group`, and a pool connected as it. */
function connectAs(
  group: 'pgauth_validator' | 'pgauth_service' | 'pgauth_admin',
): Promise<Database> {
  return t.connectAs(group);
}

async function denied(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (err: { code?: string }) => {
    assert.equal(err.code, '42501', what);
    return true;
  });
}

async function tables(): Promise<{ name: string; column: string }[]> {
  const r = await t.db.query<{ name: string; column: string }>(
    `select c.table_name as name, min(c.column_name) as column
     from information_schema.columns c join information_schema.tables x
       on x.table_schema = c.table_schema and x.table_name = c.table_name
     where c.table_schema = 'pgauth' and x.table_type = 'BASE TABLE'
     group by c.table_name order by c.table_name`,
  );
  assert.ok(r.rows.length >= 7, 'the pgauth tables are listed');
  return r.rows;
}

async function assertNoTableAccess(db: Database): Promise<void> {
  for (const { name, column } of await tables()) {
    await denied(db.query(`select * from pgauth.${name} limit 1`), `select ${name}`);
    await denied(db.query(`insert into pgauth.${name} default values`), `insert ${name}`);
    await denied(db.query(`update pgauth.${name} set ${column} = ${column}`), `update ${name}`);
    await denied(db.query(`delete from pgauth.${name}`), `delete ${name}`);
    await denied(db.query(`truncate pgauth.${name}`), `truncate ${name}`);
  }
  await denied(db.query('create table pgauth.intruder (x int)'), 'create in schema pgauth');
}

test('a pgauth_service member can register, log in, validate, refresh, log out and change a password', {
  skip: postgresOnly,
}, async () => {
  const svc = await connectAs('pgauth_service');
  const id = (await svc.query<{ id: string }>(`select pgauth.register('pv_svc', $1) as id`, [PW]))
    .rows[0]?.id;
  const p = (
    await svc.query<{ access_token: string; refresh_token: string; user_id: string }>(
      `call pgauth.login_durably('pv_svc', $1)`,
      [PW],
    )
  ).rows[0];
  assert.equal(p?.user_id, id);
  const v = await svc.query('select * from pgauth.validate($1)', [p?.access_token]);
  assert.equal(v.rows.length, 1);
  const n = (
    await svc.query<{ access_token: string }>('select * from pgauth.refresh($1)', [
      p?.refresh_token,
    ])
  ).rows[0];
  assert.ok(n);
  const out = await svc.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [n.access_token]);
  assert.equal(out.rows[0]?.ok, true);
  const ch = await svc.query<{ changed: boolean }>(
    'call pgauth.change_password_durably($1, $2, $3)',
    [id, PW, 'another passphrase'],
  );
  assert.equal(ch.rows[0]?.changed, true);
});

test('a pgauth_validator member can validate and validate_many, and nothing that writes (42501)', {
  skip: postgresOnly,
}, async () => {
  await t.db.query(`select pgauth.register('pv_val', $1)`, [PW]);
  const p = (
    await t.db.query<{ access_token: string; refresh_token: string; user_id: string }>(
      `select * from pgauth.login('pv_val', $1)`,
      [PW],
    )
  ).rows[0];
  const val = await connectAs('pgauth_validator');
  const v = await val.query<{ user_id: string }>('select * from pgauth.validate($1)', [
    p?.access_token,
  ]);
  assert.equal(v.rows[0]?.user_id, p?.user_id);
  const many = await val.query('select * from pgauth.validate_many($1::text[])', [
    [p?.access_token, 'garbage'],
  ]);
  assert.equal(many.rows.length, 1);
  await val.query('select pgauth.clock()');
  const uid = p?.user_id;
  for (const sql of [
    `select pgauth.register('pv_val2', '${PW}')`,
    `select * from pgauth.login('pv_val', '${PW}')`,
    `call pgauth.login_durably('pv_val', '${PW}')`,
    `select pgauth.login_attempt('pv_val', '${PW}')`,
    `select * from pgauth.login_answer('pgc_x', '${PW}')`,
    `select * from pgauth.refresh('${p?.refresh_token}')`,
    `select pgauth.logout('${p?.access_token}')`,
    `select pgauth.revoke_token('${p?.access_token}')`,
    `select pgauth.change_password('${uid}', '${PW}', 'another passphrase')`,
    `call pgauth.change_password_durably('${uid}', '${PW}', 'another passphrase')`,
    `select pgauth.change_password_attempt('${uid}', '${PW}', 'another passphrase')`,
    `select pgauth.change_password_answer('pgc_x', 'another passphrase')`,
    `select pgauth.lock_user('${uid}')`,
  ]) {
    await denied(val.query(sql), sql);
  }
  assert.equal(
    (await val.query('select * from pgauth.validate($1)', [p?.access_token])).rows.length,
    1,
  );
});

test('a pgauth_service member cannot touch any pgauth table (42501)', {
  skip: postgresOnly,
}, async () => {
  await assertNoTableAccess(await connectAs('pgauth_service'));
});

test('a pgauth_validator member cannot touch any pgauth table (42501)', {
  skip: postgresOnly,
}, async () => {
  await assertNoTableAccess(await connectAs('pgauth_validator'));
});

test('a pgauth_service member cannot call admin or internal functions (42501)', {
  skip: postgresOnly,
}, async () => {
  const svc = await connectAs('pgauth_service');
  const uid = '00000000-0000-4000-8000-000000000000';
  for (const sql of [
    `select pgauth.lock_user('${uid}')`,
    `select * from pgauth.login('x', '${PW}')`,
    `select pgauth.change_password('${uid}', '${PW}', 'another passphrase')`,
    'select * from pgauth.list_users()',
    `select * from pgauth.get_user('${uid}')`,
    `select pgauth.find_user('x')`,
    `select pgauth.create_user('pv_x', '${PW}')`,
    `select pgauth.set_password('${uid}', '${PW}')`,
    `select pgauth.grant_role('${uid}', 'admin')`,
    `select pgauth.delete_user('${uid}')`,
    `select pgauth.revoke_user_sessions('${uid}')`,
    `select pgauth.revoke_session('${uid}')`,
    'select * from pgauth.audit_events()',
    `select pgauth.purge_audit('30 days')`,
    'select pgauth.purge_expired()',
    `select pgauth._audit('forged', null, null, null, null)`,
    `select pgauth._hash_password('x', 4)`,
    `select pgauth._new_token('pga_')`,
    `select pgauth._token_hash('x')`,
    `select pgauth._random_bytes(4)`,
    `select pgauth._crypt('a', 'b')`,
    `select pgauth._settings()`,
    `select pgauth._login_verdict('x', 'y', null, null)`,
    `select pgauth._take_attempt('pgc_x', 'login')`,
    `select pgauth._require_fresh_transaction()`,
  ]) {
    await denied(svc.query(sql), sql);
  }
});

test('a pgauth_admin member can call the admin functions but cannot touch any table (42501)', {
  skip: postgresOnly,
}, async () => {
  const adm = await connectAs('pgauth_admin');
  const id = (
    await adm.query<{ id: string }>(`select pgauth.create_user('pv_adm', $1) as id`, [PW])
  ).rows[0]?.id;
  await adm.query('select pgauth.lock_user($1)', [id]);
  await adm.query('select pgauth.unlock_user($1)', [id]);
  await adm.query(`select pgauth.grant_role($1, 'ops')`, [id]);
  const users = await adm.query<{ id: string }>('select * from pgauth.list_users()');
  assert.ok(users.rows.some((u) => u.id === id));
  const ev = await adm.query('select * from pgauth.audit_events($1)', [id]);
  assert.equal(ev.rows.length, 4);
  assert.equal((await adm.query('select pgauth.find_user($1)', ['pv_adm'])).rows.length, 1);
  await adm.query('select pgauth.purge_expired()');
  await denied(adm.query(`select pgauth._audit('forged', null, null, null, null)`), '_audit');
  await assertNoTableAccess(adm);
});

test('every SECURITY DEFINER function in pgauth pins search_path', async () => {
  const r = await t.db.query<{ fn: string }>(
    `select p.oid::regprocedure::text as fn from pg_proc p
     where p.pronamespace = 'pgauth'::regnamespace and p.prosecdef
       and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c
                       where c like 'search_path=%')`,
  );
  assert.deepEqual(r.rows, []);
  const n = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pg_proc where pronamespace = 'pgauth'::regnamespace and prosecdef`,
  );
  assert.ok((n.rows[0]?.n ?? 0) > 20, 'the check saw the functions');
});

test('no function in schema pgauth is executable by PUBLIC', async () => {
  const r = await t.db.query<{ fn: string }>(
    `select p.oid::regprocedure::text as fn from pg_proc p
     where p.pronamespace = 'pgauth'::regnamespace
       and (has_function_privilege('public', p.oid, 'execute')
            or p.proacl is null
            or exists (select 1 from aclexplode(p.proacl) a
                       where a.grantee = 0 and a.privilege_type = 'EXECUTE'))
     order by 1`,
  );
  assert.deepEqual(r.rows, []);
});

test('no pgauth table is granted to PUBLIC, pgauth_validator, pgauth_service or pgauth_admin', async () => {
  const r = await t.db.query<{ tbl: string; who: string }>(
    `select c.oid::regclass::text as tbl, w.who from pg_class c
     cross join (values ('public'), ('pgauth_validator'), ('pgauth_service'), ('pgauth_admin')) w(who)
     where c.relnamespace = 'pgauth'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
       and (has_table_privilege(w.who, c.oid, 'select') or has_table_privilege(w.who, c.oid, 'insert')
         or has_table_privilege(w.who, c.oid, 'update') or has_table_privilege(w.who, c.oid, 'delete')
         or has_table_privilege(w.who, c.oid, 'truncate'))`,
  );
  assert.deepEqual(r.rows, []);
});

test('every public pgauth function (not internal, not a trigger, not pgcrypto) has a comment', async () => {
  const r = await t.db.query<{ fn: string; commented: boolean }>(
    `select p.oid::regprocedure::text as fn, obj_description(p.oid, 'pg_proc') is not null as commented
     from pg_proc p
     where p.pronamespace = 'pgauth'::regnamespace
       and p.proname not like '\\_%'
       and p.prorettype <> 'trigger'::regtype
       and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                       and d.objid = p.oid and d.deptype = 'e')
     order by 1`,
  );
  const names = r.rows.map((x) => x.fn.replace(/\(.*/, ''));
  for (const fn of ['pgauth.register', 'pgauth.login', 'pgauth.validate', 'pgauth.purge_audit']) {
    assert.ok(names.includes(fn), `${fn} is checked`);
  }
  assert.deepEqual(
    r.rows.filter((x) => !x.commented).map((x) => x.fn),
    [],
  );
});

test('the validator, service and admin grants are exactly the documented ones', async () => {
  const r = await t.db.query<{ role: string; fn: string }>(
    `select w.who as role, p.proname as fn from pg_proc p
     cross join (values ('pgauth_validator'), ('pgauth_service'), ('pgauth_admin')) w(who)
     where p.pronamespace = 'pgauth'::regnamespace
       and has_function_privilege(w.who, p.oid, 'execute')
     order by 1, 2`,
  );
  const of = (role: string) => r.rows.filter((x) => x.role === role).map((x) => x.fn);
  const validator = [
    'clock',
    'published_signing_keys',
    'validate',
    'validate_jti',
    'validate_many',
    'validate_session_jwt',
  ];
  assert.deepEqual(of('pgauth_validator'), validator);
  const service = [
    ...validator,
    'active_signing_key',
    'change_password_answer',
    'change_password_attempt',
    'change_password_durably',
    'client_credentials',
    'login_answer',
    'login_attempt',
    'login_durably',
    'login_mfa_answer',
    'login_mfa_attempt',
    'login_mfa_durably',
    'logout',
    'logout_jwt',
    'mfa_status',
    'refresh',
    'register',
    'request_email_verification',
    'request_password_reset',
    'reset_password',
    'revoke_token',
    'session_token_claims',
    'throttle',
    'totp_confirm',
    'totp_enroll',
    'totp_remove',
    'verify_email',
  ].sort();
  assert.deepEqual(of('pgauth_service'), service);
  const membership = await t.db.query<{ ok: boolean }>(
    `select pg_has_role('pgauth_service', 'pgauth_validator', 'usage') as ok`,
  );
  assert.equal(membership.rows[0]?.ok, true, 'pgauth_service is a member of pgauth_validator');
  assert.deepEqual(
    of('pgauth_admin'),
    [
      ...service,
      'add_signing_key',
      'audit_events',
      'change_password',
      'create_api_key',
      'create_service_account',
      'create_user',
      'disable_service_account',
      'list_api_keys',
      'list_service_accounts',
      'purge_service_tokens',
      'revoke_api_key',
      'set_service_account_token_format',
      'delete_user',
      'find_user',
      'get_settings',
      'get_user',
      'grant_role',
      'list_sessions',
      'list_users',
      'lock_user',
      'login',
      'login_stats',
      'mail_claim',
      'mail_failed',
      'mail_sent',
      'purge_audit',
      'purge_expired',
      'reset_mfa',
      'revoke_role',
      'revoke_session',
      'revoke_user_sessions',
      'search_audit',
      'search_users',
      'set_password',
      'totp_code',
      'unlock_user',
      'update_settings',
    ].sort(),
  );
});
