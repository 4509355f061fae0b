/**
 * The SQL API needs no SDK: each snippet of examples/languages (Python with psycopg 3, Go with
 * database/sql and lib/pq, a psql script) runs as a real process against the test database,
 * connected as a login role of pgauth_validator, as docs/languages.md tells a service to.
 * PostgreSQL only: PGlite has no wire endpoint in the tests.
 *
 * A missing interpreter or library skips its snippet with the Debian package to install (a failure
 * where PGAUTH_TEST_ALL=1, as in CI, which installs them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createLoginRole,
  type LoginRole,
  onPostgres,
  openTestDatabase,
  postgresOnly,
  type TestDatabase,
} from '../helpers/db.ts';
import { freePort, ROOT, type RunResult, runProcess } from '../helpers/processes.ts';
import { PASSWORD } from '../helpers/sql.ts';
import { DEBIAN_GOPATH, goBuildEnv, needs } from '../helpers/tools.ts';

const EXAMPLES = join(ROOT, 'examples', 'languages');
/** Debian's own interpreter: a python3 earlier on PATH (pyenv) lacks the Debian packages. */
const PYTHON = '/usr/bin/python3';
/** Where Debian installs packaged Go libraries (GOPATH layout, no modules). */

function findExecutable(name: string, extraDirs: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return null;
}

function hasPsycopg(): boolean {
  return spawnSync(PYTHON, ['-c', 'import psycopg'], { stdio: 'ignore' }).status === 0;
}

interface Snippet {
  name: string;
  /** The Debian packages it needs that are missing. */
  missing: string[];
  /** Builds it when needed; returns the command that runs it. */
  prepare(dir: string): Promise<string[]>;
}

const GO = onPostgres ? findExecutable('go', ['/usr/lib/go/bin']) : null;
const PSQL = onPostgres ? findExecutable('psql') : null;

const snippets: Snippet[] = [
  {
    name: 'Python (psycopg 3): examples/languages/validate.py',
    missing: onPostgres && !hasPsycopg() ? ['python3-psycopg'] : [],
    prepare: async () => [PYTHON, join(EXAMPLES, 'validate.py')],
  },
  {
    name: 'Go (database/sql, lib/pq): examples/languages/validate.go',
    missing: [
      ...(onPostgres && !GO ? ['golang-go'] : []),
      ...(onPostgres && !existsSync(join(DEBIAN_GOPATH, 'src/github.com/lib/pq'))
        ? ['golang-github-lib-pq-dev']
        : []),
    ],
    async prepare(dir) {
      const out = join(dir, 'validate-go');
      const env = goBuildEnv();
      const r = await run([GO ?? 'go', 'build', '-o', out, join(EXAMPLES, 'validate.go')], env);
      assert.equal(r.code, 0, `go build failed:\n${r.stderr}`);
      return [out];
    },
  },
  {
    name: 'psql: examples/languages/validate.sh',
    missing: onPostgres && !PSQL ? ['postgresql-client'] : [],
    prepare: async () => ['sh', join(EXAMPLES, 'validate.sh')],
  },
];

/** The environment of a snippet: none of the caller's connection settings leak in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(PG[A-Z]+|DATABASE_URL|PGAUTH_TOKEN)$/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function run(command: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<RunResult> {
  return runProcess(command, { env, timeoutMs: 60_000 });
}

let t: TestDatabase | undefined;
let dir = '';
let role: LoginRole | undefined;
/** The test database, as a login role that is only a member of pgauth_validator. */
let serviceUrl = '';
const USERNAME = "o'brien zoë";
let userId = '';
let token = '';
let expiresAt = 0;
let revoked = '';

before(async () => {
  if (!onPostgres) return;
  t = await openTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'pgauth-languages-'));
  role = await createLoginRole('pgauth_validator', 'pgauth_lang');
  const url = new URL(t.url ?? '');
  url.username = role.name;
  url.password = '';
  // lib/pq requires TLS unless told otherwise; the test server on loopback has none.
  url.searchParams.set('sslmode', 'disable');
  serviceUrl = url.toString();

  const created = await t.db.query<{ id: string }>(
    `select pgauth.create_user($1, $2, null, array['billing', 'admin'])::text as id`,
    [USERNAME, PASSWORD],
  );
  userId = created.rows[0]?.id ?? '';
  const pair = async (): Promise<string> =>
    (
      await t?.db.query<{ access_token: string }>('select access_token from pgauth.login($1, $2)', [
        USERNAME,
        PASSWORD,
      ])
    )?.rows[0]?.access_token ?? '';
  token = await pair();
  revoked = await pair();
  await t.db.query('select pgauth.logout($1)', [revoked]);
  const v = await t.db.query<{ expires_at: Date }>('select expires_at from pgauth.validate($1)', [
    token,
  ]);
  expiresAt = v.rows[0]?.expires_at.getTime() ?? 0;
});

after(async () => {
  await t?.close();
  await role?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function assertInvalid(r: RunResult, what: string): void {
  assert.equal(r.stderr, '', `${what}: nothing on stderr`);
  assert.equal(r.stdout, 'invalid\n', what);
  assert.equal(r.code, 1, what);
}

for (const snippet of snippets) {
  const skip = postgresOnly || needs(snippet.name, snippet.missing);

  describe(snippet.name, { skip }, () => {
    let command: string[] = [];
    before(async () => {
      command = await snippet.prepare(dir);
    });

    test('prints the session of a valid token as JSON: user id, username, roles, expiry', async () => {
      const r = await run([...command, serviceUrl, token]);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(r.stdout.trim().split('\n').length, 1, 'one line');
      const session = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(session).sort(), ['expires_at', 'roles', 'user_id', 'username']);
      assert.equal(session.user_id, userId);
      assert.equal(session.username, USERNAME);
      assert.deepEqual([...session.roles].sort(), ['admin', 'billing']);
      assert.equal(Date.parse(session.expires_at), expiresAt);
    });

    test('takes the URL from DATABASE_URL and the token from PGAUTH_TOKEN', async () => {
      const r = await run(command, cleanEnv({ DATABASE_URL: serviceUrl, PGAUTH_TOKEN: token }));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).user_id, userId);
    });

    test('prints "invalid" and exits 1 for a revoked token and for a garbage one', async () => {
      assertInvalid(await run([...command, serviceUrl, revoked]), 'revoked');
      assertInvalid(await run([...command, serviceUrl, 'pga_garbage']), 'garbage');
    });

    test('an injection-looking token is only data: "invalid", exit 1, no SQL error', async () => {
      for (const evil of [
        "' or 1=1 --",
        `${token}' or '1'='1`,
        "x'); select pgauth.logout(null); --",
        '\\\'" $1 :token',
      ]) {
        assertInvalid(await run([...command, serviceUrl, evil]), evil);
      }
    });

    test('exits 2 with the error on stderr when the database cannot be reached', async () => {
      const url = `postgres://${role?.name}@127.0.0.1:${await freePort()}/postgres?sslmode=disable`;
      const r = await run([...command, url, token]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.notEqual(r.stderr, '');
    });
  });
}
