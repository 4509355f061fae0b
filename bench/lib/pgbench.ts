/**
 * Running pgbench and reading its figures. Every run is its own pgbench process against a URL;
 * the throughput read is pgbench's "tps = … (without initial connection time)".
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PGBENCH = process.env.PGBENCH ?? 'pgbench';

export interface PgbenchRun {
  /** Connection URL of the database. */
  url: string;
  clients: number;
  threads: number;
  /** Seconds (-T). */
  duration: number;
  /** -M; the benchmarks use prepared on every side. */
  protocol?: 'simple' | 'extended' | 'prepared';
  /** A built-in script (-b), e.g. 'select-only' (what -S runs). */
  builtin?: string;
  /** Path of a custom script (-f). */
  script?: string;
  /** -D name=value. */
  define?: Record<string, string>;
  signal?: AbortSignal;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latencyMs: number;
  /** The command line, for the record. */
  command: string;
}

function exec(args: string[], signal?: AbortSignal): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PGBENCH, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      // Libpq would otherwise pick PG* variables of the caller's shell on top of the URL.
      env: { ...process.env, PGAPPNAME: 'pgauth-bench' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${PGBENCH} not found: install pgbench or set PGBENCH to its path`)
          : err,
      ),
    );
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${PGBENCH} ${redact(args).join(' ')} exited with ${code ?? sig}:\n${stderr.trim()}\n${stdout.trim()}`,
          ),
        );
    });
  });
}

/** Hides a password in a URL argument. */
function redact(args: string[]): string[] {
  return args.map((a) => a.replace(/(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@'));
}

function figure(stdout: string, re: RegExp, what: string): number {
  const m = re.exec(stdout);
  if (!m?.[1]) throw new Error(`pgbench output has no ${what}:\n${stdout}`);
  return Number(m[1]);
}

/** Parses the summary pgbench prints at the end of a run (PostgreSQL 13 to 17 formats). */
export function parsePgbench(stdout: string): Omit<PgbenchResult, 'command'> {
  return {
    tps: figure(stdout, /^tps = ([\d.]+) \((?:without initial connection time|excluding)/m, 'tps'),
    transactions: figure(
      stdout,
      /^number of transactions actually processed: (\d+)/m,
      'transaction count',
    ),
    failed: Number(/^number of failed transactions: (\d+)/m.exec(stdout)?.[1] ?? 0),
    latencyMs: figure(stdout, /^latency average = ([\d.]+) ms/m, 'latency'),
  };
}

export async function pgbench(run: PgbenchRun): Promise<PgbenchResult> {
  const args = [
    '-n', // no vacuum before the run: the setup vacuumed, and both sides must start alike
    `-c${run.clients}`,
    `-j${run.threads}`,
    `-T${run.duration}`,
    `-M${run.protocol ?? 'prepared'}`,
  ];
  if (run.builtin) args.push('-b', run.builtin);
  if (run.script) args.push('-f', run.script);
  for (const [k, v] of Object.entries(run.define ?? {})) args.push('-D', `${k}=${v}`);
  args.push(run.url);
  const { stdout } = await exec(args, run.signal);
  const result = parsePgbench(stdout);
  if (result.failed > 0) {
    throw new Error(`pgbench: ${result.failed} failed transactions\n${stdout}`);
  }
  return { ...result, command: `pgbench ${redact(args).join(' ')}` };
}

/** pgbench -i: its four tables at a scale (100,000 pgbench_accounts rows per unit), vacuumed. */
export async function pgbenchInit(url: string, scale: number, signal?: AbortSignal): Promise<void> {
  await exec(['-i', '-q', `-s${scale}`, '-Idtgvp', url], signal);
}

/**
 * pgbench's built-in select-only script (what -S runs) over the first `rows` accounts: the same
 * statement, with the aid range set to `rows` instead of 100,000 × scale.
 */
export function selectOnlyScript(rows: number): string {
  return `\\set aid random(1, ${rows})\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n`;
}

export async function pgbenchVersion(): Promise<string> {
  return (await exec(['--version'])).stdout.trim();
}

/** Writes a custom pgbench script under the scratch folder and returns its path. */
export async function writeScript(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
