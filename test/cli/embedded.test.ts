import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { onPostgres, openPgliteFolder } from '../helpers/db.ts';
import { childEnv, runPgauth } from '../helpers/processes.ts';
import { tempFolder } from '../helpers/tmp.ts';
import { pgauth } from './harness.ts';

// The embedded engine opened by the CLI itself, with no server running. Each test has a folder
// of its own.
const skip = onPostgres ? 'embedded engine only' : false;

test('on a fresh --data-dir, user add creates and migrates the embedded database', {
  skip,
}, async (t) => {
  const dataDir = join(await tempFolder(t, 'pgauth-cli-embedded'), 'data');
  const add = await pgauth(
    ['user', 'add', 'root', '--role', 'admin', '--password-stdin', '--data-dir', dataDir],
    'correct horse battery staple\n',
  );
  assert.equal(add.code, 0, add.stderr);
  const id = add.stdout.trim();

  const list = await pgauth(['user', 'list', '--json', '--data-dir', dataDir]);
  assert.equal(list.code, 0, list.stderr);
  const users = JSON.parse(list.stdout) as { id: string; username: string; roles: string[] }[];
  assert.deepEqual(
    users.map((u) => [u.id, u.username, u.roles]),
    [[id, 'root', ['admin']]],
  );

  const missing = await pgauth(['session', 'list', 'nobody', '--data-dir', dataDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^pgauth: user_not_found: /);
});

test('PGAUTH_DATA_DIR names the folder when --data-dir is not given', { skip }, async (t) => {
  // A migrated folder holding one admin, made here, closed before the CLI opens it.
  const dataDir = join(await tempFolder(t, 'pgauth-cli-embedded'), 'data');
  const { db } = await openPgliteFolder(dataDir);
  try {
    await db.query(`select pgauth.create_user('root', $1, null, array['admin'])`, [
      'correct horse battery staple',
    ]);
  } finally {
    await db.close();
  }
  const r = await runPgauth(['audit', '--json', '--limit', '2'], {
    env: childEnv({ PGAUTH_DATA_DIR: dataDir }),
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const events = JSON.parse(r.stdout) as { event: string }[];
  assert.deepEqual(
    events.map((e) => e.event),
    ['role_granted', 'user_created'],
  );
});
