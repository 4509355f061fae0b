/**
 * The baseline of every login figure: bare bcrypt verifications per second in PostgreSQL, at the
 * cost a user's stored hash has, run with pgbench. It verifies what pgauth.login verifies: the
 * pre-hashed password against that stored hash.
 */
import type { BenchDatabase } from './db.ts';
import { type PgbenchResult, pgbench, writeScript } from './pgbench.ts';

export interface CryptBaseline {
  run(duration: number): Promise<PgbenchResult>;
  /** A pgbench command line fit for the record: no script path, no password material. */
  redact(command: string): string;
}

export async function cryptBaseline(
  b: BenchDatabase,
  options: {
    username: string;
    password: string;
    cost: number;
    dir: string;
    clients: number;
    threads: number;
    signal: AbortSignal;
  },
): Promise<CryptBaseline> {
  const h = await b.db.query<{ prehash: string; hash: string }>(
    `select pgauth._prehash($1) as prehash, u.password_hash as hash
     from pgauth.users u where u.username = $2`,
    [options.password, options.username],
  );
  const { prehash, hash } = h.rows[0] ?? { prehash: '', hash: '' };
  if (!hash.startsWith(`$2a$${String(options.cost).padStart(2, '0')}$`)) {
    throw new Error(
      `${options.username} was hashed with another cost than ${options.cost}: ${hash.slice(0, 7)}`,
    );
  }
  // Inputs as parameters (-D): crypt() is immutable, so with literals a prepared statement would
  // fold it into a constant once and then measure nothing.
  const script = await writeScript(
    options.dir,
    'crypt.sql',
    'select pgauth.crypt(:pw, :hash) = :hash;\n',
  );
  return {
    run: (duration) =>
      pgbench({
        url: b.url,
        clients: options.clients,
        threads: options.threads,
        duration,
        script,
        define: { pw: prehash, hash },
        signal: options.signal,
      }),
    redact: (command) =>
      command
        .replace(script, 'crypt.sql')
        .replace(`pw=${prehash}`, 'pw=<pre-hashed password>')
        .replace(`hash=${hash}`, 'hash=<stored hash>'),
  };
}
