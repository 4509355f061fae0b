/**
 * Where the CLI looks for the embedded database, and what it says: a command run where no
 * database is, with no folder named, says where it looked and how to point it instead of creating
 * one there; serve says which folder it creates, before the wait.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { onPostgres } from '../helpers/db.ts';

const BIN = fileURLToPath(new URL('../../packages/pgauth/bin/pgauth.js', import.meta.url));
const env = { ...process.env };
delete env.DATABASE_URL;
delete env.PGAUTH_DATA_DIR;

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgauth-data-dir-'));
});
after(() => rm(dir, { recursive: true, force: true }));

for (const args of [['user', 'list'], ['session', 'list', 'alice'], ['audit']]) {
  test(`pgauth ${args.join(' ')} where no .pgauth is, without --data-dir: says where it looked, creates nothing`, () => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(`no embedded database in ${join(dir, '.pgauth')}`), r.stderr);
    assert.match(r.stderr, /--data-dir <dir> or PGAUTH_DATA_DIR/);
    assert.match(r.stderr, /--database-url/);
  });
}

test('nothing was created by the refused commands', async () => {
  assert.deepEqual(await readdir(dir), []);
});

test('pgauth --version prints the version of the package', async () => {
  const pkg = JSON.parse(
    await readFile(new URL('../../packages/pgauth/package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  const r = spawnSync(process.execPath, [BIN, '--version'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('serve on a new folder says it creates the embedded database there, before it listens', {
  skip: onPostgres ? 'embedded engine only' : false,
}, async () => {
  const dataDir = join(dir, 'new');
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      child.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('listening on')) resolve();
      });
    });
  } finally {
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  const lines = out.split('\n');
  assert.equal(lines[0], `creating the embedded database in ${dataDir}`);
  assert.ok(lines.findIndex((l) => l.startsWith('pgauth listening on')) > 0, out);
});
