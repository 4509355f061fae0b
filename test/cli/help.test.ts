import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onPostgres } from '../helpers/db.ts';
import { pgauth } from './harness.ts';

const COMMANDS = [
  ['user'],
  ['user', 'add'],
  ['user', 'list'],
  ['user', 'show'],
  ['user', 'lock'],
  ['user', 'unlock'],
  ['user', 'delete'],
  ['user', 'passwd'],
  ['user', 'grant'],
  ['user', 'revoke'],
  ['session'],
  ['session', 'list'],
  ['session', 'revoke'],
  ['audit'],
];

// No database is opened: the same on both engines, so run once, in the postgres pass.
const skip = onPostgres ? false : 'engine-independent: runs in the postgres pass';

test('--help on every admin command prints its usage and exits 0, without a database', {
  skip,
}, async () => {
  const results = await Promise.all(COMMANDS.map((c) => pgauth([...c, '--help'])));
  results.forEach((r, i) => {
    const name = (COMMANDS[i] ?? []).join(' ');
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: pgauth ${name} `), name);
    if (i !== 0 && i !== 10) assert.match(r.stdout, /--database-url <url>/, name);
  });
});

test('an unknown option is a usage error with exit 1', { skip }, async () => {
  const r = await pgauth(['user', 'list', '--no-such-flag']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
});

test('--database-url takes a postgres:// URL only: an empty variable before another option is said as such', {
  skip,
}, async () => {
  // `--database-url $DATABASE_URL --password-stdin` with the variable empty: the next option
  // would be the URL, and the command would go on to ask a terminal for the password.
  const next = await pgauth(
    ['user', 'add', 'x', '--database-url', '--password-stdin'],
    'a password of some length\n',
  );
  assert.equal(next.code, 1);
  assert.match(next.stderr, /argument '--password-stdin' is invalid/);
  assert.match(next.stderr, /is a variable before it empty\?/);
  assert.doesNotMatch(next.stderr, /terminal/);
  const other = await pgauth(['user', 'list', '--database-url', 'mysql://db/x']);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /It must be a postgres:\/\/ or postgresql:\/\/ URL/);
  // A mistyped URL may hold a password: it is not repeated.
  const typo = await pgauth(['user', 'list', '--database-url', 'postgress://u:hunter2@db/x']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /must be a postgres:\/\//);
  assert.doesNotMatch(typo.stderr, /hunter2/);
});
