import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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

describe('pgauth user', () => {
  let aliceId = '';

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
    aliceId = out.trim();
    assert.match(aliceId, UUID);
    assert.match((await cli(['user', 'add', 'bob', '--password-stdin'], PASSWORD)).trim(), UUID);
    // The trailing newline of the piped input is not part of the password.
    const login = await t.target.db.query('select * from pgauth.login($1, $2)', [
      'alice',
      PASSWORD,
    ]);
    assert.equal(login.rows.length, 1);
  });

  test('user list prints aligned columns, and --json the users by username', async () => {
    const lines = (await cli(['user', 'list'])).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^USERNAME\s+ID\s+ROLES\s+STATE\s+SESSIONS\s+LAST LOGIN\s+EMAIL$/);
    const row = lines.find((l) => l.startsWith('alice ')) ?? '';
    assert.equal(row.indexOf(aliceId), lines[0]?.indexOf('ID'));
    assert.match(row, /admin,ops\s+active\s+\d+\s+.+\s+alice@example\.org$/);

    const users = JSON.parse(await cli(['user', 'list', '--json'])) as JsonUser[];
    assert.deepEqual(
      users.map((u) => u.username),
      ['alice', 'bob'],
    );
    assert.deepEqual(users[0]?.roles, ['admin', 'ops']);
    assert.equal(users[0]?.email, 'alice@example.org');
    assert.equal(typeof users[0]?.live_sessions, 'number');
  });

  test('user show finds a user by username (any case) or by id, human and --json', async () => {
    const byName = await show('ALICE');
    const byId = await show(aliceId);
    assert.deepEqual(byName, byId);
    assert.equal(byId.id, aliceId);
    const human = await cli(['user', 'show', 'alice']);
    assert.match(human, new RegExp(`^id\\s+${aliceId}$`, 'm'));
    assert.match(human, /^roles\s+admin, ops$/m);
    assert.match(human, /^state\s+active$/m);
  });

  test('user lock --until <duration> --reason locks the account; user unlock lifts it', async () => {
    const out = await cli(['user', 'lock', 'alice', '--until', '2h', '--reason', 'inquiry']);
    assert.match(out, /^alice: locked until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(inquiry\)$/m);
    const locked = await show('alice');
    assert.equal(locked.locked, true);
    assert.equal(locked.lock_reason, 'inquiry');
    const until = Date.parse(locked.locked_until ?? '');
    assert.ok(Math.abs(until - Date.now() - 2 * 3600_000) < 600_000, locked.locked_until ?? '');

    assert.match(await cli(['user', 'unlock', 'alice']), /^alice: active$/m);
    assert.equal((await show('alice')).locked, false);

    assert.match(await cli(['user', 'lock', 'alice']), /^alice: locked \(admin\)$/m);
    const forever = await show('alice');
    assert.equal(forever.locked_until, 'infinity');
    await cli(['user', 'unlock', aliceId]);
  });

  test('user lock with a time in the past fails with invalid_input, a malformed one with a usage error', async () => {
    assert.match(
      await fails(['user', 'lock', 'alice', '--until', '2000-01-01']),
      /^pgauth: invalid_input: /,
    );
    assert.match(
      await fails(['user', 'lock', 'alice', '--until', 'next tuesday']),
      /--until.*expected a time/,
    );
    assert.equal((await show('alice')).locked, false);
  });

  test('user passwd sets a new password from stdin and records it in the audit log', async () => {
    assert.match(
      await cli(['user', 'passwd', 'alice', '--password-stdin'], 'another long passphrase\n'),
      /password of alice changed/,
    );
    const events = JSON.parse(await cli(['audit', '--user', 'alice', '--json'])) as {
      event: string;
      detail: { by?: string };
    }[];
    assert.equal(events[0]?.event, 'password_changed');
    assert.equal(events[0]?.detail.by, 'admin');
  });

  test('user grant adds a role and user revoke takes it away', async () => {
    assert.match(
      await cli(['user', 'grant', 'alice', 'auditor']),
      /alice: roles admin, auditor, ops/,
    );
    assert.deepEqual((await show('alice')).roles, ['admin', 'auditor', 'ops']);
    assert.match(await cli(['user', 'revoke', 'alice', 'auditor']), /alice: roles admin, ops/);
    assert.deepEqual((await show('alice')).roles, ['admin', 'ops']);
    assert.match(await fails(['user', 'grant', 'alice', 'Not A Role']), /^pgauth: invalid_input: /);
  });

  test('user add with a refused password fails with the reason code and creates nobody', async () => {
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
      [['user', 'passwd', 'alice', '--password-stdin'], 'short', /^pgauth: password_too_short: /],
      [['user', 'add', 'Alice', '--password-stdin'], `${PASSWORD}\n`, /^pgauth: username_taken: /],
    ];
    for (const [args, input, error] of refused) {
      assert.match(await fails(args, input), error, `${args.join(' ')} <<< ${input.trim()}`);
    }
  });

  test('user add without --password-stdin and without a terminal refuses to guess', async () => {
    assert.match(await fails(['user', 'add', 'carol'], `${PASSWORD}\n`), /--password-stdin/);
    assert.match(await fails(['user', 'passwd', 'alice']), /--password-stdin/);
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
    assert.match(
      await cli(['user', 'delete', 'alice']),
      new RegExp(`deleted alice \\(${aliceId}\\)`),
    );
    assert.match(await fails(['user', 'show', 'alice']), /^pgauth: user_not_found: /);
    assert.match(await fails(['user', 'delete', aliceId]), /^pgauth: user_not_found: /);
    const users = JSON.parse(await cli(['user', 'list', '--json'])) as JsonUser[];
    assert.deepEqual(
      users.map((u) => u.username),
      ['bob'],
    );
    // An id names a deleted user for the audit log.
    const events = JSON.parse(
      await cli(['audit', '--user', aliceId, '--limit', '2', '--json']),
    ) as {
      event: string;
      user_id: string;
    }[];
    assert.equal(events.length, 2);
    assert.equal(events[0]?.event, 'user_deleted');
    assert.equal(events[0]?.user_id, aliceId);
    const again = (await cli(['user', 'add', 'alice', '--password-stdin'], PASSWORD)).trim();
    assert.notEqual(again, aliceId);
  });
});
