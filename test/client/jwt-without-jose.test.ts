/**
 * `jose` is an optional peer dependency of @pgauth/client: an SDK installed without it loads and
 * validates opaque tokens, and the first JWT it must verify fails with an error that says what to
 * install. Shown in a real process of the built SDK in which `jose` cannot be resolved (a module
 * resolution hook refuses it), beside the same process with `jose` resolvable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

/** A resolution hook under which `jose` is not installed. */
const NO_JOSE = `export async function resolve(specifier, context, next) {
  if (specifier === 'jose' || specifier.startsWith('jose/')) {
    const err = new Error("Cannot find package 'jose'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(NO_JOSE)}`)});`;

/** Creates an HTTP-mode client (nothing listens there: a JWT is verified before any request). */
const SCRIPT = `import { createAuthClient } from '@pgauth/client';
const client = createAuthClient({ baseUrl: 'http://127.0.0.1:9' });
const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln';
let line;
try {
  line = 'ANSWER ' + JSON.stringify(await client.validate(jwt));
} catch (err) {
  line = 'ERROR ' + err.message;
}
await client.close();
console.log(line);`;

function run(withoutJose: boolean): string {
  const r = spawnSync(
    process.execPath,
    [
      ...(withoutJose ? ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`] : []),
      '--input-type=module',
      '-e',
      SCRIPT,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('without jose the SDK loads, and verifying a JWT says: npm install jose', () => {
  assert.equal(
    run(true),
    'ERROR verifying JWT access tokens needs the optional peer dependency jose: npm install jose',
  );
});

test('with jose the same process verifies the JWT (and refuses this one)', () => {
  assert.equal(run(false), 'ANSWER null');
});
