import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { onPostgres } from '../helpers/db.ts';
import { pgauth } from './harness.ts';

// The embedded engine opened by the CLI itself, with no server running: the first command on a
// folder that does not exist yet creates the database and applies the migrations.
const skip = onPostgres ? 'embedded engine only' : false;
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgauth-cli-embedded-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('on a fresh --data-dir, user add creates and migrates the embedded database', {
  skip,
}, async () => {
  const dataDir = join(dir, 'data');
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

test('PGAUTH_DATA_DIR names the folder when --data-dir is not given', { skip }, async () => {
  const dataDir = join(dir, 'data');
  // pgauth() clears PGAUTH_DATA_DIR for the child: spawn it here with the variable set.
  const r = spawnSync(
    process.execPath,
    ['packages/pgauth/bin/pgauth.js', 'audit', '--json', '--limit', '2'],
    {
      env: { ...process.env, PGAUTH_DATA_DIR: dataDir, DATABASE_URL: '' },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout) as { event: string }[];
  assert.deepEqual(
    events.map((e) => e.event),
    ['role_granted', 'user_created'],
  );
});
