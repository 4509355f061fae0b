import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createUser } from '../helpers/sql.ts';
import { useCliTarget } from './harness.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = 'correct horse battery staple';

interface JsonUser {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  locked: boolean;
  locked_until: string | null;
  lock_reason: string | null;
  live_sessions: number;
}

// On PGlite the folder is held by this process behind a wire-protocol socket, as `pgauth serve`
// holds it, and the CLI is routed through it (a command that opens the folder itself costs seconds;
// embedded.test.ts covers that path).
const t = useCliTarget();
const { cli, fails } = t;

async function show(user: string): Promise<JsonUser> {
  return JSON.parse(await cli(['user', 'show', user, '--json'])) as JsonUser;
}

/** The users listed by `user list --json`, in the order printed. */
async function listed(): Promise<JsonUser[]> {
  return JSON.parse(await cli(['user', 'list', '--json'])) as JsonUser[];
}

/**
 * A user of this test alone (made in SQL, password PASSWORD): each test acts on users of its own,
 * so that none depends on what an earlier one did.
 */
function addUser(username: string, roles: string[] = [], email: string | null = null) {
  return createUser(t.target.db, username, roles, PASSWORD, email);
}

// Each test acts on users of its own: they run four at a time (most of their time is spent
// starting CLI processes).
describe('pgauth user', { concurrency: 4 }, () => {
  test('user add reads the password from stdin, grants the roles and prints the new id', async () => {
    const out = await cli(
      [
        'user',
        'add',
        'alice',
        '--role',
        'admin',
        '--role',
        'ops',
        '--email',
        'alice@example.org',
        '--password-stdin',
      ],
      `${PASSWORD}\n`,
    );
    const aliceId = out.trim();
    assert.match(aliceId, UUID);
    assert.match((await cli(['user', 'add', 'bob', '--password-stdin'], PASSWORD)).trim(), UUID);
    // The trailing newline of the piped input is not part of the password.
    const login = await t.target.db.query('select * from pgauth.login($1, $2)', [
      'alice',
      PASSWORD,
    ]);
    assert.equal(login.rows.length, 1);
    const alice = await show(aliceId);
    assert.deepEqual(alice.roles, ['admin', 'ops']);
    assert.equal(alice.email, 'alice@example.org');
  });

  test('user list prints aligned columns, and --json the users by username', async () => {
    const annId = await addUser('list-ann', ['admin', 'ops'], 'ann@example.org');
    await addUser('list-ben');
    const lines = (await cli(['user', 'list'])).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^USERNAME\s+ID\s+ROLES\s+STATE\s+SESSIONS\s+LAST LOGIN\s+EMAIL$/);
    const row = lines.find((l) => l.startsWith('list-ann ')) ?? '';
    assert.equal(row.indexOf(annId), lines[0]?.indexOf('ID'));
    assert.match(row, /admin,ops\s+active\s+\d+\s+.+\s+ann@example\.org$/);

    const users = await listed();
    const names = users.map((u) => u.username);
    assert.deepEqual(names, [...names].sort(), 'ordered by username');
    assert.deepEqual(
      names.filter((n) => n.startsWith('list-')),
      ['list-ann', 'list-ben'],
    );
    const ann = users.find((u) => u.username === 'list-ann');
    assert.deepEqual(ann?.roles, ['admin', 'ops']);
    assert.equal(ann?.email, 'ann@example.org');
    assert.equal(typeof ann?.live_sessions, 'number');
  });

  test('user show finds a user by username (any case) or by id, human and --json', async () => {
    const id = await addUser('show-amy', ['admin', 'ops']);
    const byName = await show('SHOW-AMY');
    const byId = await show(id);
    assert.deepEqual(byName, byId);
    assert.equal(byId.id, id);
    const human = await cli(['user', 'show', 'show-amy']);
    assert.match(human, new RegExp(`^id\\s+${id}$`, 'm'));
    assert.match(human, /^roles\s+admin, ops$/m);
    assert.match(human, /^state\s+active$/m);
  });

  test('user lock --until <duration> --reason locks the account; user unlock lifts it', async () => {
    const id = await addUser('lock-al');
    const out = await cli(['user', 'lock', 'lock-al', '--until', '2h', '--reason', 'inquiry']);
    assert.match(out, /^lock-al: locked until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(inquiry\)$/m);
    const locked = await show('lock-al');
    assert.equal(locked.locked, true);
    assert.equal(locked.lock_reason, 'inquiry');
    const until = Date.parse(locked.locked_until ?? '');
    assert.ok(Math.abs(until - Date.now() - 2 * 3600_000) < 600_000, locked.locked_until ?? '');

    assert.match(await cli(['user', 'unlock', 'lock-al']), /^lock-al: active$/m);
    assert.equal((await show('lock-al')).locked, false);

    assert.match(await cli(['user', 'lock', 'lock-al']), /^lock-al: locked \(admin\)$/m);
    const forever = await show('lock-al');
    assert.equal(forever.locked_until, 'infinity');
    await cli(['user', 'unlock', id]);
    assert.equal((await show('lock-al')).locked, false);
  });

  test('user lock with a time in the past fails with invalid_input, a malformed one with a usage error', async () => {
    await addUser('lock-bo');
    assert.match(
      await fails(['user', 'lock', 'lock-bo', '--until', '2000-01-01']),
      /^pgauth: invalid_input: /,
    );
    assert.match(
      await fails(['user', 'lock', 'lock-bo', '--until', 'next tuesday']),
      /--until.*expected a time/,
    );
    assert.equal((await show('lock-bo')).locked, false);
  });

  test('user passwd sets a new password from stdin and records it in the audit log', async () => {
    await addUser('passwd-al');
    assert.match(
      await cli(['user', 'passwd', 'passwd-al', '--password-stdin'], 'another long passphrase\n'),
      /password of passwd-al changed/,
    );
    const events = JSON.parse(await cli(['audit', '--user', 'passwd-al', '--json'])) as {
      event: string;
      detail: { by?: string };
    }[];
    assert.equal(events[0]?.event, 'password_changed');
    assert.equal(events[0]?.detail.by, 'admin');
  });

  test('user grant adds a role and user revoke takes it away', async () => {
    await addUser('grant-al', ['admin', 'ops']);
    assert.match(
      await cli(['user', 'grant', 'grant-al', 'auditor']),
      /grant-al: roles admin, auditor, ops/,
    );
    assert.deepEqual((await show('grant-al')).roles, ['admin', 'auditor', 'ops']);
    assert.match(
      await cli(['user', 'revoke', 'grant-al', 'auditor']),
      /grant-al: roles admin, ops/,
    );
    assert.deepEqual((await show('grant-al')).roles, ['admin', 'ops']);
    assert.match(
      await fails(['user', 'grant', 'grant-al', 'Not A Role']),
      /^pgauth: invalid_input: /,
    );
  });

  test('user add with a refused password fails with the reason code and creates nobody', async () => {
    await addUser('refuse-al');
    const refused: [args: string[], input: string, error: RegExp][] = [
      [['user', 'add', 'carol', '--password-stdin'], 'short\n', /^pgauth: password_too_short: /],
      [
        ['user', 'add', 'carol', '--password-stdin'],
        '1q2w3e4r5t6y\n',
        /^pgauth: password_common: /,
      ],
      [
        ['user', 'add', 'carol-the-admin', '--password-stdin'],
        'Carol-The-Admin\n',
        /^pgauth: password_is_username: /,
      ],
      [
        ['user', 'passwd', 'refuse-al', '--password-stdin'],
        'short',
        /^pgauth: password_too_short: /,
      ],
      [
        ['user', 'add', 'Refuse-Al', '--password-stdin'],
        `${PASSWORD}\n`,
        /^pgauth: username_taken: /,
      ],
    ];
    for (const [args, input, error] of refused) {
      assert.match(await fails(args, input), error, `${args.join(' ')} <<< ${input.trim()}`);
    }
    const names = (await listed()).map((u) => u.username);
    assert.ok(!names.includes('carol') && !names.includes('carol-the-admin'), names.join(', '));
  });

  test('user add without --password-stdin and without a terminal refuses to guess', async () => {
    await addUser('tty-al');
    assert.match(await fails(['user', 'add', 'carol'], `${PASSWORD}\n`), /--password-stdin/);
    assert.match(await fails(['user', 'passwd', 'tty-al']), /--password-stdin/);
  });

  test('a user that does not exist fails with user_not_found', async () => {
    for (const args of [
      ['user', 'show', 'nobody'],
      ['user', 'lock', '00000000-0000-0000-0000-000000000000'],
      ['user', 'grant', 'nobody', 'admin'],
      ['session', 'revoke', 'nobody'],
      ['audit', '--user', 'nobody'],
    ]) {
      assert.match(await fails(args), /^pgauth: user_not_found: /, args.join(' '));
    }
    assert.match(
      await fails(['user', 'passwd', 'nobody', '--password-stdin'], `${PASSWORD}\n`),
      /^pgauth: user_not_found: /,
    );
  });

  test('user delete removes the user, frees the username and keeps the audit rows', async () => {
    const id = await addUser('del-al');
    await addUser('del-bo');
    assert.match(await cli(['user', 'delete', 'del-al']), new RegExp(`deleted del-al \\(${id}\\)`));
    assert.match(await fails(['user', 'show', 'del-al']), /^pgauth: user_not_found: /);
    assert.match(await fails(['user', 'delete', id]), /^pgauth: user_not_found: /);
    assert.deepEqual(
      (await listed()).map((u) => u.username).filter((n) => n.startsWith('del-')),
      ['del-bo'],
    );
    // An id names a deleted user for the audit log.
    const events = JSON.parse(await cli(['audit', '--user', id, '--limit', '2', '--json'])) as {
      event: string;
      user_id: string;
    }[];
    assert.equal(events.length, 2);
    assert.equal(events[0]?.event, 'user_deleted');
    assert.equal(events[0]?.user_id, id);
    const again = (await cli(['user', 'add', 'del-al', '--password-stdin'], PASSWORD)).trim();
    assert.match(again, UUID);
    assert.notEqual(again, id);
  });
});
