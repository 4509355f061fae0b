/**
 * What the figures were measured with, for the result files and BENCHMARKS.md: the operating
 * system, the PostgreSQL server and pgbench, and the versions of the packages under test.
 */
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { adminQuery } from './db.ts';
import { pgbenchVersion } from './pgbench.ts';

/** Packages whose version a figure depends on; those not installed are left out. */
const PACKAGES = ['fastify', 'pg', 'better-auth', 'autocannon', '@electric-sql/pglite'];

async function packageVersion(name: string): Promise<string | null> {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(await readFile(url, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1];
  return `${pretty ?? process.platform}, kernel ${release()}`;
}

/** Collected once per run; a part that cannot be read is null, never an error. */
export async function versions(): Promise<Record<string, unknown>> {
  const server = await adminQuery<{ v: string }>(`select current_setting('server_version') as v`)
    .then((rows) => rows[0]?.v ?? null)
    .catch(() => null);
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const v = await packageVersion(name);
    if (v) packages[name] = v;
  }
  const own = await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    .then((t) => (JSON.parse(t) as { version?: string }).version ?? null)
    .catch(() => null);
  return {
    os: await osName(),
    postgres: server,
    pgbench: await pgbenchVersion().catch(() => null),
    pgauth: own,
    packages,
  };
}
