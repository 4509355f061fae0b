/**
 * Runs the real `pgauth` binary as a child process against a database of the engine under test.
 *
 * PostgreSQL: a fresh random database (test/helpers/db.ts), passed with --database-url.
 * PGlite: a temporary --data-dir, a copy of the migrated folder of test/helpers/db.ts (bcrypt cost
 * 4), then held open by this process behind the wire-protocol endpoint of `pgauth serve` and
 * recorded the way serve records it, so that the CLI (and this process) is routed through it
 * (embedded.test.ts covers the CLI opening a folder itself, which costs seconds per command).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import {
  embeddedUrl,
  removeServerInfo,
  writeServerInfo,
} from '../../packages/pgauth/src/db/embedded-server.ts';
import { startWireServer } from '../../packages/pgauth/src/db/wire-server.ts';
import { onPostgres, openPgliteFolder, openTestDatabase } from '../helpers/db.ts';
import { useFileFixture } from '../helpers/fixture.ts';
import { type RunResult, runPgauth } from '../helpers/processes.ts';

export type CliResult = RunResult;

export interface CliTarget {
  /** The flags that point the CLI at this database. */
  args: string[];
  /** A connection of this process to the same database, for what the CLI cannot do (a login). */
  db: Database;
  close(): Promise<void>;
}

/** Runs `node bin/pgauth.js …args`, with `input` on standard input (closed when none). */
export function pgauth(args: readonly string[], input?: string): Promise<CliResult> {
  // A command that opens an embedded folder itself starts PGlite: allow for a slow machine.
  return runPgauth(args, { input, timeoutMs: 180_000 });
}

/** A migrated database for the CLI to act on, bcrypt cost 4. */
export async function openCliTarget(): Promise<CliTarget> {
  if (onPostgres) {
    const t = await openTestDatabase();
    return { args: ['--database-url', t.url ?? ''], db: t.db, close: () => t.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-cli-'));
  const dataDir = join(dir, 'data');
  const { pglite, db: direct } = await openPgliteFolder(dataDir);
  const server = await startWireServer({ db: pglite, maxConnections: 20 });
  const info = { pid: process.pid, host: server.host, port: server.port };
  await writeServerInfo(dataDir, info);
  // This process goes through the endpoint too, as `pgauth serve` does: its queries and the
  // CLI's then take turns on the one backend.
  const db = openPostgres({ connectionString: embeddedUrl(info), max: 4 });
  return {
    args: ['--data-dir', dataDir],
    db,
    async close() {
      await db.close();
      await removeServerInfo(dataDir);
      await server.stop();
      await direct.close();
      await rm(dir, { recursive: true });
    },
  };
}

export interface CliFixture {
  /** The target of the file, once its before() hook has run. */
  readonly target: CliTarget;
  /** Runs the CLI on the target and asserts exit 0; resolves with its standard output. */
  cli(args: string[], input?: string): Promise<string>;
  /** Runs the CLI on the target and asserts a one-line failure (exit 1); resolves with stderr. */
  fails(args: string[], input?: string): Promise<string>;
}

/** One CLI target for the whole test file: opened before its first test, closed after its last. */
export function useCliTarget(): CliFixture {
  const target = useFileFixture('the CLI target', openCliTarget, (t) => t.close());
  return {
    target,
    async cli(args, input) {
      const r = await pgauth([...args, ...target.args], input);
      assert.equal(r.code, 0, `pgauth ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async fails(args, input) {
      const r = await pgauth([...args, ...target.args], input);
      assert.equal(r.code, 1, `pgauth ${args.join(' ')} should fail: ${r.stdout}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
      return r.stderr;
    },
  };
}
