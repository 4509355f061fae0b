/**
 * Other languages through PgBouncer in transaction mode, with the settings docs/languages.md
 * gives: psycopg 3 with prepare_threshold=None, Go's lib/pq with binary_parameters=yes (and
 * PgBouncer's ignore_startup_parameters = extra_float_digits, as lib/pq always sends it), psql as
 * it is. Four workers × 50 validations each on their own connections, as a service would make
 * them: every call answers. psycopg's defaults fail a large share of the same calls (named
 * prepared statements left on another server connection): the reason for the setting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Cluster, createPgauthDatabase, startCluster } from '../helpers/cluster.ts';
import { type Bouncer, startPgbouncer } from '../helpers/pgbouncer.ts';
import { DEBIAN_GOPATH, goBuildEnv, needs } from '../helpers/tools.ts';
import { PASSWORD, skipTopology } from './fleet.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'topology', 'fixtures');
const EXAMPLES = join(ROOT, 'examples', 'languages');
const PYTHON = '/usr/bin/python3';
const GO = ['/usr/bin/go', '/usr/lib/go/bin/go'].find((g) => existsSync(g));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(file ?? '', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const missingPython =
  existsSync(PYTHON) &&
  (await run([PYTHON, '-c', 'import psycopg']).catch(() => ({ code: 1 }))).code === 0
    ? []
    : ['python3-psycopg'];
const missingGo = [
  ...(GO ? [] : ['golang-go']),
  ...(existsSync(join(DEBIAN_GOPATH, 'src/github.com/lib/pq')) ? [] : ['golang-github-lib-pq-dev']),
];
const missingPsql = existsSync('/usr/bin/psql') ? [] : ['postgresql-client'];

interface Load {
  ok: number;
  failed: number;
  last: string;
}

describe('other languages through PgBouncer in transaction mode', { skip: skipTopology }, () => {
  let cluster: Cluster;
  let bouncer: Bouncer;
  let db: string;
  let token = '';
  let dir = '';

  before(async () => {
    cluster = await startCluster();
    db = await createPgauthDatabase(cluster);
    bouncer = await startPgbouncer({
      serverPort: cluster.port,
      databases: [db],
      settings: { ignore_startup_parameters: 'extra_float_digits' },
    });
    await cluster.query('select pgauth.create_user($1, $2)', ['polyglot', PASSWORD], db);
    const rows = await cluster.query<{ access_token: string }>(
      'select access_token from pgauth.login($1, $2)',
      ['polyglot', PASSWORD],
      db,
    );
    token = rows[0]?.access_token ?? '';
    dir = await mkdtemp(join(tmpdir(), 'pgauth-pooled-langs-'));
  });

  after(async () => {
    await bouncer?.stop();
    await cluster?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('Python (psycopg 3)', {
    skip: needs('psycopg 3 through PgBouncer', missingPython),
  }, () => {
    test('with prepare_threshold=None every call of four concurrent connections answers', async () => {
      const r = await run([PYTHON, join(FIXTURES, 'pooled_load.py'), bouncer.url(db), token]);
      assert.equal(r.code, 0, r.stderr);
      const load = JSON.parse(r.stdout) as Load;
      assert.deepEqual(load, { ok: 200, failed: 0, last: '' });
    });

    test("with psycopg's defaults a share of the same calls fails: the setting is needed", async () => {
      const r = await run([
        PYTHON,
        join(FIXTURES, 'pooled_load.py'),
        bouncer.url(db),
        token,
        'default',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const load = JSON.parse(r.stdout) as Load;
      console.log(`# psycopg 3 defaults through PgBouncer: ${load.failed} of 200 calls failed`);
      assert.ok(load.failed > 0, JSON.stringify(load));
      assert.match(load.last, /prepared statement .* does not exist|already exists/);
    });

    test('examples/languages/validate.py validates through the pooler', async () => {
      const r = await run([PYTHON, join(EXAMPLES, 'validate.py'), bouncer.url(db), token]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).username, 'polyglot');
    });
  });

  describe('Go (database/sql, lib/pq)', {
    skip: needs('lib/pq through PgBouncer', missingGo),
  }, () => {
    const build = async (source: string, out: string): Promise<string> => {
      const r = await run([GO ?? 'go', 'build', '-o', join(dir, out), source], goBuildEnv());
      assert.equal(r.code, 0, `go build failed:\n${r.stderr}`);
      return join(dir, out);
    };

    test('with binary_parameters=yes every call of four concurrent connections answers', async () => {
      const bin = await build(join(FIXTURES, 'pooled_load.go'), 'pooled-load');
      const r = await run([bin, `${bouncer.url(db)}&binary_parameters=yes`, token]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { ok: 200, failed: 0, last: '' });
    });

    test('examples/languages/validate.go validates through the pooler', async () => {
      const bin = await build(join(EXAMPLES, 'validate.go'), 'validate-go');
      const r = await run([bin, `${bouncer.url(db)}&binary_parameters=yes`, token]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).username, 'polyglot');
    });
  });

  describe('psql', { skip: needs('psql through PgBouncer', missingPsql) }, () => {
    test('examples/languages/validate.sh validates through the pooler', async () => {
      const r = await run(['sh', join(EXAMPLES, 'validate.sh'), bouncer.url(db), token]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).username, 'polyglot');
    });
  });
});
