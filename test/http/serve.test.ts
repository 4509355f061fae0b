import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { readLiveServerInfo } from '../../packages/pgauth/src/db/embedded-server.ts';
import { adminUrl, onPostgres, randomName } from '../helpers/db.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function serve(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
} {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.PGAUTH_DATA_DIR;
  delete env.PORT;
  const child = spawn(process.execPath, ['packages/pgauth/bin/pgauth.js', 'serve', ...args], {
    cwd: ROOT,
    env,
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('pgauth serve on a fresh embedded folder: ready, reachable over SQL while it runs, clean exit on SIGTERM', {
  skip: onPostgres ? 'embedded engine only' : false,
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-serve-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  const s = serve(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
  try {
    const url = await waitFor(
      'the listening line',
      async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.output())?.[1],
      90_000,
    );
    const out = s.output();
    assert.match(out, /engine: pglite/);
    assert.match(out, new RegExp(`data folder: ${dataDir.replace(/[/.]/g, '\\$&')}`));
    assert.match(out, /pgauth user add admin --role admin/);
    await waitFor(
      '/readyz 200',
      async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined),
      20_000,
    );

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

    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0, s.output());
    assert.match(s.output(), /pgauth stopped/);
    await assert.rejects(stat(join(dataDir, 'pgauth-server.json')));
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
});

test('pgauth serve --no-migrate on a database with pending migrations stops with a clear message', {
  skip: onPostgres ? false : 'PostgreSQL only',
  timeout: 60_000,
}, async () => {
  const name = randomName('pgauth_serve');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const s = serve(['--port', '0', '--database-url', url.toString(), '--no-migrate']);
    assert.equal(await s.exit, 1);
    assert.match(s.output(), /pending migration\(s\).*pgauth migrate/);
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
});
