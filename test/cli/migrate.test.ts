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

test('migrate applies functions that changed and names, a line each, the routines the files no longer make: dropped, or kept when changed since', async () => {
  const { db } = t.target;
  // As functions that an earlier release's files made and these files no longer do: one as they
  // left it, one changed since (here, its recorded row version is not its row's).
  await db.exec(`
    set role pgauth_owner;
    create function pgauth.zz_gone(p integer) returns integer language sql as 'select p';
    create function pgauth.zz_kept() returns integer language sql as 'select 1';
    reset role`);
  await db.query(
    `insert into pgauth.migrated_objects (kind, key, version)
     select 'routine', p.oid::regprocedure::text,
       case when p.proname = 'zz_gone' then p.oid::text || ' ' || p.xmin::text else '0 0' end
     from pg_proc p
     where p.oid in ('pgauth.zz_gone(integer)'::regprocedure, 'pgauth.zz_kept()'::regprocedure)`,
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
      'kept pgauth.zz_kept(): no longer in sql/functions, but changed since they made it (by a migration, or by hand); drop it if nothing needs it',
      '1 migration(s) applied',
      '',
    ].join('\n'),
  );
  const gone = await db.query<{ gone: boolean }>(
    `select to_regprocedure('pgauth.zz_gone(integer)') is null as gone`,
  );
  assert.deepEqual(gone.rows, [{ gone: true }]);
  await db.exec('drop function pgauth.zz_kept()');
  assert.equal(await cli(['migrate']), 'nothing to apply: up to date\n');
});
