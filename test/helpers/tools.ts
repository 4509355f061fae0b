/**
 * Tests that need a program outside Node (nginx, Go, Python, PgBouncer, a second PostgreSQL
 * cluster): on a machine without it they are skipped, with the reason and the command that
 * installs it; where PGAUTH_TEST_ALL=1 (set by .ci/run, which installs them all) a missing
 * program is a failure instead, so that CI runs every test.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './processes.ts';

export const ALL_REQUIRED = process.env.PGAUTH_TEST_ALL === '1';

/**
 * The skip option for tests that need the Debian packages `missing` (none missing: false). In
 * the strict mode above, registers a failing test that names them instead.
 */
export function needs(what: string, missing: readonly string[]): string | false {
  if (missing.length === 0) return false;
  const install = `apt-get install --no-install-recommends ${missing.join(' ')}`;
  const reason = `${what}: ${missing.join(', ')} not installed (${install}; .ci/run does)`;
  if (ALL_REQUIRED) {
    test(`${what}: the Debian packages ${missing.join(', ')} are installed`, () => {
      assert.fail(`${reason}; PGAUTH_TEST_ALL=1 requires every test to run`);
    });
  }
  return reason;
}

/** Debian's GOPATH: golang-github-lib-pq-dev installs lib/pq there, for builds with no network. */
export const DEBIAN_GOPATH = '/usr/share/gocode';

/**
 * The environment of an offline `go build` against DEBIAN_GOPATH: GOPATH mode, no module proxy,
 * the local toolchain, the build cache under .test-cache/ (unless GOCACHE is set).
 */
export function goBuildEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: DEBIAN_GOPATH,
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOCACHE: process.env.GOCACHE ?? join(ROOT, '.test-cache', 'go-build'),
  };
}
