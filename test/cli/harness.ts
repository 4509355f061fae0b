/**
 * Runs the real `pgauth` binary as a child process against a database of the engine under test.
 *
 * PostgreSQL: a fresh random database (test/helpers/db.ts), passed with --database-url.
 * PGlite: a temporary --data-dir, created and migrated here once per test file with bcrypt cost 4,
 * then held open by this process behind a wire-protocol socket and recorded the way `pgauth serve`
 * records it, so that the CLI is routed through it (embedded.test.ts covers the CLI opening a
 * folder itself, which costs seconds per command).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Database } from '../../packages/client/src/db/types.ts';
import { removeServerInfo, writeServerInfo } from '../../packages/pgauth/src/db/embedded-server.ts';
import { fromPglite } from '../../packages/pgauth/src/db/pglite.ts';
import { migrate } from '../../packages/pgauth/src/migrate.ts';
import { onPostgres, openTestDatabase, TEST_SETTINGS } from '../helpers/db.ts';

const BIN = fileURLToPath(new URL('../../packages/pgauth/bin/pgauth.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliTarget {
  /** The flags that point the CLI at this database. */
  args: string[];
  /** A connection of this process to the same database, for what the CLI cannot do (a login). */
  db: Database;
  close(): Promise<void>;
}

/** Runs `node bin/pgauth.js …args`, with `input` on standard input (closed when none). */
export function pgauth(args: readonly string[], input?: string): Promise<CliResult> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.PGAUTH_DATA_DIR;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A migrated database for the CLI to act on, bcrypt cost 4. */
export async function openCliTarget(): Promise<CliTarget> {
  if (onPostgres) {
    const t = await openTestDatabase();
    return { args: ['--database-url', t.url ?? ''], db: t.db, close: () => t.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-cli-'));
  const dataDir = join(dir, 'data');
  const pglite = await PGlite.create({ dataDir, extensions: { pgcrypto } });
  const db = fromPglite(pglite);
  await migrate(db);
  await db.exec(TEST_SETTINGS);
  const server = new PGLiteSocketServer({ db: pglite, port: 0, maxConnections: 20 });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  await writeServerInfo(dataDir, { pid: process.pid, host: '127.0.0.1', port });
  return {
    args: ['--data-dir', dataDir],
    db,
    async close() {
      await removeServerInfo(dataDir);
      await server.stop();
      await db.close();
      await rm(dir, { recursive: true });
    },
  };
}
