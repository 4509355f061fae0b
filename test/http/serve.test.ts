import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { readLiveServerInfo } from '../../packages/pgauth/src/db/embedded-server.ts';
import { createEmptyDatabase, onPostgres } from '../helpers/db.ts';
import { runPgauth, startServe } from '../helpers/processes.ts';
import { tempFolder } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

test('pgauth serve on a fresh embedded folder: ready, reachable over SQL while it runs, clean exit on SIGTERM', {
  skip: onPostgres ? 'embedded engine only' : false,
  timeout: 120_000,
}, async (t) => {
  const dataDir = join(await tempFolder(t, 'pgauth-serve'), 'data');
  // The first start of a folder runs initdb and every migration: seconds on a busy machine.
  const s = await startServe(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    listenTimeoutMs: 90_000,
  });
  try {
    const { url } = s;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // The banner goes on after the listening line; its last line says it is complete.
    await waitFor('the end of the start-up banner', () => /^API docs: /m.test(s.stdout()), 10_000);
    const out = s.stdout() + s.stderr();
    assert.match(out, /engine: pglite/);
    assert.match(out, new RegExp(`data folder: ${dataDir.replace(/[/.]/g, '\\$&')}`));
    assert.match(out, /pgauth user add admin --role admin/);
    await waitFor('/readyz 200', async () => (await fetch(`${url}/readyz`)).status === 200, 20_000);

    const reg = await fetch(`${url}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'served', password: 'a long enough passphrase' }),
    });
    assert.equal(reg.status, 201);
    const login = await fetch(`${url}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'served', password: 'a long enough passphrase' }),
    });
    assert.equal(login.status, 200);
    const tokens = (await login.json()) as { access_token: string; user_id: string };

    const info = await readLiveServerInfo(dataDir);
    assert.ok(info, 'the server recorded its SQL endpoint');
    assert.match(
      out,
      new RegExp(`postgres://postgres@127\\.0\\.0\\.1:${info.port}/postgres\\?sslmode=disable`),
    );
    const client = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${info.port}/postgres?sslmode=disable`,
    });
    await client.connect();
    try {
      const r = await client.query('select user_id::text, username from pgauth.validate($1)', [
        tokens.access_token,
      ]);
      assert.deepEqual(r.rows, [{ user_id: tokens.user_id, username: 'served' }]);
    } finally {
      await client.end();
    }

    assert.equal(await s.stop(60_000), 0, s.stdout() + s.stderr());
    assert.match(s.stdout() + s.stderr(), /pgauth stopped/);
    await assert.rejects(stat(join(dataDir, 'pgauth-server.json')));
  } finally {
    await s.kill();
  }
});

test('pgauth serve --no-migrate on a database with pending migrations stops with a clear message', {
  skip: onPostgres ? false : 'PostgreSQL only',
  timeout: 60_000,
}, async () => {
  const empty = await createEmptyDatabase('pgauth_serve');
  try {
    const r = await runPgauth([
      'serve',
      '--port',
      '0',
      '--database-url',
      empty.url,
      '--no-migrate',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /pending migration\(s\).*pgauth migrate/);
  } finally {
    await empty.drop();
  }
});
