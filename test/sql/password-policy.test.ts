import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import { login, register, rejects, withSettings } from '../helpers/sql.ts';

const t = useTestDatabase();

test('a password of 11 characters fails with WEAKP password_too_short; 12 is enough', async () => {
  await rejects(register(t.db, 'pp_short', 'abcdefghij1'), 'WEAKP', 'password_too_short');
  await register(t.db, 'pp_short', 'abcdefghij12');
  assert.equal((await login(t.db, 'pp_short', 'abcdefghij12')).length, 1);
});

test('the minimum length counts code points, not bytes (WEAKP password_too_short)', async () => {
  // 11 four-byte characters are 44 bytes but 11 code points: too short.
  await rejects(register(t.db, 'pp_emoji', '😀'.repeat(11)), 'WEAKP', 'password_too_short');
  await rejects(register(t.db, 'pp_emoji', 'é'.repeat(11)), 'WEAKP', 'password_too_short');
  // Twelve different ones: twelve of one would be a repetition, refused as common (0009).
  const twelve = '😀😁😂🤣😃😄😅😆😉😊😋😎';
  assert.equal([...twelve].length, 12);
  await register(t.db, 'pp_emoji', twelve);
  assert.equal((await login(t.db, 'pp_emoji', twelve)).length, 1);
});

test('password_min_length is a setting: raised to 16, 15 characters fail with WEAKP', async () => {
  await withSettings(t.db, { password_min_length: 16 }, async () => {
    await rejects(register(t.db, 'pp_min16', 'fifteen chars!!'), 'WEAKP', 'password_too_short');
    await register(t.db, 'pp_min16', 'sixteen chars!!!');
  });
});

test('a password over 1024 characters fails with WEAKP password_too_long; 1024 is allowed', async () => {
  await rejects(register(t.db, 'pp_long', 'k'.repeat(1025)), 'WEAKP', 'password_too_long');
  await rejects(register(t.db, 'pp_long', 'k'.repeat(1024 * 1024)), 'WEAKP', 'password_too_long');
  // Not one character repeated, which is refused as common (0009).
  const long = Array.from({ length: 1024 }, (_, i) =>
    String.fromCharCode(97 + ((i * i) % 26)),
  ).join('');
  await register(t.db, 'pp_long', long);
  assert.equal((await login(t.db, 'pp_long', long)).length, 1);
  assert.equal((await login(t.db, 'pp_long', long.slice(0, 1023))).length, 0);
});

test('a common password fails with WEAKP password_common, in any case', async () => {
  const r = await t.db.query<{ password: string }>(
    'select password from pgauth.common_passwords where char_length(password) >= 12 limit 1',
  );
  const common = r.rows[0]?.password;
  assert.ok(common, 'the list holds a password of 12 or more characters');
  await rejects(register(t.db, 'pp_common', common), 'WEAKP', 'password_common');
  await rejects(register(t.db, 'pp_common', common.toUpperCase()), 'WEAKP', 'password_common');
  const n = await t.db.query<{ n: number }>(
    'select count(*)::int as n from pgauth.common_passwords',
  );
  assert.ok((n.rows[0]?.n ?? 0) >= 10000, 'at least the 10,000 most common passwords');
});

test('a password equal to the username fails with WEAKP password_is_username, case-insensitively', async () => {
  await rejects(register(t.db, 'PP_SameAsUser', 'pp_sameasuser'), 'WEAKP', 'password_is_username');
  await rejects(register(t.db, 'pp_sameasuser', 'pp_sameasuser'), 'WEAKP', 'password_is_username');
});

test('a NULL password fails with BADIN invalid_input', async () => {
  await rejects(register(t.db, 'pp_null', null), 'BADIN', 'invalid_input');
});

test('bcrypt 72-byte truncation is defeated: a 73-byte password and another last byte do not both log in', async () => {
  const base = 'x'.repeat(72);
  await register(t.db, 'pp_73', `${base}a`);
  assert.equal((await login(t.db, 'pp_73', `${base}a`)).length, 1);
  assert.equal((await login(t.db, 'pp_73', `${base}b`)).length, 0);
  assert.equal((await login(t.db, 'pp_73', base)).length, 0);
  // The same with multibyte characters: 100 bytes, differing in the last one.
  const mb = 'é'.repeat(49);
  await register(t.db, 'pp_mb', `${mb}ab`);
  assert.equal((await login(t.db, 'pp_mb', `${mb}ab`)).length, 1);
  assert.equal((await login(t.db, 'pp_mb', `${mb}ac`)).length, 0);
});

test('the password is verified exactly as given: no case folding, no trimming', async () => {
  await register(t.db, 'pp_exact', ' Mixed Case Pass ');
  assert.equal((await login(t.db, 'pp_exact', ' Mixed Case Pass ')).length, 1);
  assert.equal((await login(t.db, 'pp_exact', ' mixed case pass ')).length, 0);
  assert.equal((await login(t.db, 'pp_exact', 'Mixed Case Pass')).length, 0);
});

test('the same password for two users gives two different salted bcrypt hashes of the set cost', async () => {
  const pw = 'the very same passphrase';
  const a = await register(t.db, 'pp_same1', pw);
  const b = await register(t.db, 'pp_same2', pw);
  const r = await t.db.query<{ id: string; password_hash: string }>(
    'select id, password_hash from pgauth.users where id in ($1, $2)',
    [a, b],
  );
  assert.equal(r.rows.length, 2);
  const [h1, h2] = r.rows.map((x) => x.password_hash);
  assert.notEqual(h1, h2);
  for (const h of [h1, h2]) assert.match(h ?? '', /^\$2[abxy]\$04\$.{53}$/);
  await withSettings(t.db, { bcrypt_cost: 5 }, async () => {
    const c = await register(t.db, 'pp_cost5', pw);
    const h = await t.db.query<{ password_hash: string }>(
      'select password_hash from pgauth.users where id = $1',
      [c],
    );
    assert.match(h.rows[0]?.password_hash ?? '', /^\$2[abxy]\$05\$/);
  });
});

test('change_password and set_password apply the same policy (WEAKP codes)', async () => {
  const id = await register(t.db, 'pp_change', 'the first passphrase');
  const cases: [string, string][] = [
    ['short', 'password_too_short'],
    ['z'.repeat(1025), 'password_too_long'],
    ['PP_CHANGE', 'password_too_short'],
  ];
  const common = (
    await t.db.query<{ password: string }>(
      'select password from pgauth.common_passwords where char_length(password) >= 12 limit 1',
    )
  ).rows[0]?.password as string;
  for (const [pw, code] of [...cases, [common, 'password_common'] as [string, string]]) {
    await rejects(
      t.db.query('select pgauth.change_password($1, $2, $3)', [id, 'the first passphrase', pw]),
      'WEAKP',
      code,
    );
    await rejects(t.db.query('select pgauth.set_password($1, $2)', [id, pw]), 'WEAKP', code);
  }
  await withSettings(t.db, { password_min_length: 9 }, async () => {
    for (const [sql, params] of [
      ['select pgauth.change_password($1, $2, $3)', [id, 'the first passphrase', 'Pp_Change']],
      ['select pgauth.set_password($1, $2)', [id, 'PP_change']],
    ] as const) {
      await rejects(t.db.query(sql, params), 'WEAKP', 'password_is_username');
    }
  });
  assert.equal(
    (await login(t.db, 'pp_change', 'the first passphrase')).length,
    1,
    'nothing was changed',
  );
});
