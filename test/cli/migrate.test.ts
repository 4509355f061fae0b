import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FUNCTIONS } from '../../packages/pgauth/src/migrate.ts';
import { useCliTarget } from './harness.ts';

// A migrated database (on PGlite, a folder held behind the wire-protocol socket as `pgauth serve`
// holds it): every command reaches it with nothing but the target's flag.
const t = useCliTarget();
const { cli } = t;

test('migrate on a database that is up to date applies nothing; --status lists every step as applied', async () => {
  assert.equal(await cli(['migrate']), 'nothing to apply: up to date\n');
  const status = (await cli(['migrate', '--status'])).trim().split('\n');
  assert.equal(status.at(-1), 'up to date');
  assert.ok(
    status.some((l) => new RegExp(`^${FUNCTIONS}  applied \\d{4}-`).test(l)),
    status.join('\n'),
  );
});

test('migrate applies functions that changed and names, a line each, the routines it dropped because the files no longer make them', async () => {
  const { db } = t.target;
  // As a function that an earlier release's files made, and these files no longer do.
  await db.exec(`
    set role pgauth_owner;
    create function pgauth.zz_gone(p integer) returns integer language sql as 'select p';
    reset role`);
  await db.query(
    `insert into pgauth.migrated_routines (signature) values ('pgauth.zz_gone(integer)')`,
  );
  await db.query(
    `update pgauth.migrations set checksum = '0.0.1 ' || repeat('0', 64) where name = $1`,
    [FUNCTIONS],
  );
  const status = (await cli(['migrate', '--status'])).trim().split('\n');
  assert.ok(status.includes(`${FUNCTIONS}  pending`), status.join('\n'));
  assert.equal(status.at(-1), '1 pending');

  assert.equal(
    await cli(['migrate']),
    [
      `applied ${FUNCTIONS}`,
      'dropped pgauth.zz_gone(integer): no longer in sql/functions',
      '1 migration(s) applied',
      '',
    ].join('\n'),
  );
  const gone = await db.query<{ gone: boolean }>(
    `select to_regprocedure('pgauth.zz_gone(integer)') is null as gone`,
  );
  assert.deepEqual(gone.rows, [{ gone: true }]);
  assert.equal(await cli(['migrate']), 'nothing to apply: up to date\n');
});
