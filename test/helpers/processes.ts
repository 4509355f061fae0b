/**
 * Child processes for the tests: the pgauth CLI and gateway as real processes
 * (`node packages/pgauth/bin/pgauth.js …`, from the repository root), and any other program whose
 * output a test reads. Every child still running when this process exits is killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root: the working directory of every child. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The pgauth executable, as npm installs it. */
export const BIN = fileURLToPath(new URL('../../packages/pgauth/bin/pgauth.js', import.meta.url));
/**
 * `node` and the V8 flag a child inherits from this process: --liftoff-only, which scripts/test.js
 * gives test files on the embedded engine (a CLI command that opens a folder starts PGlite too).
 */
const NODE = [process.execPath, ...process.execArgv.filter((a) => a === '--liftoff-only')];

/** A port of 127.0.0.1 that was free a moment ago, for a program that cannot be given port 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** The children running now, each with what kills it (its process group, if it leads one). */
const children = new Map<ChildProcess, (signal: NodeJS.Signals) => void>();
process.once('exit', () => {
  for (const kill of children.values()) kill('SIGKILL');
});

/**
 * The environment for a pgauth child process: none of the variables its flags fall back on
 * (DATABASE_URL, PORT, HOST, PGAUTH_*), then `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || k === 'PORT' || k === 'HOST' || k.startsWith('PGAUTH_')) {
      delete env[k];
    }
  }
  return { ...env, ...extra };
}

export interface Spawned {
  child: ChildProcess;
  /** Signals the process, or its whole process group when it was started with `group`. */
  kill(signal: NodeJS.Signals): void;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited and its output is read. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `command` in `cwd` (default ROOT) with its output collected; `input` on stdin (closed at
 * once). `group`: in a process group of its own, signalled as a whole (a launcher such as npx,
 * whose child is the program).
 */
export function spawnCollected(
  command: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; group?: boolean } = {},
): Spawned {
  const [file = '', ...args] = command;
  const child = spawn(file, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.group === true,
  });
  const kill = (signal: NodeJS.Signals): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (options.group && child.pid) process.kill(-child.pid, signal);
    else child.kill(signal);
  };
  children.set(child, kill);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // A process may exit without reading its input (a failure at start): its stdin is then a broken
  // pipe, which is not the test's error; what the process did is in its exit and output.
  child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  child.stdin?.end(options.input ?? '');
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    },
  );
  return { child, kill, stdout: () => stdout, stderr: () => stderr, closed };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when it was still running after timeoutMs and was killed. */
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  /** Killed (SIGKILL) past this; default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs `command` to its end. */
export async function runProcess(
  command: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const p = spawnCollected(command, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    p.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  try {
    const { code, signal } = await p.closed;
    return { code, signal, stdout: p.stdout(), stderr: p.stderr(), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node bin/pgauth.js …args` to its end, in the environment of childEnv(). */
export function runPgauth(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProcess([...NODE, BIN, ...args], { env: childEnv(), ...options });
}

export interface GatewayProcess {
  /** Base URL from the "pgauth listening on …" line. */
  url: string;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); resolves with the exit code once it exited. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL at once (a crash); resolves once it exited. */
  kill(): Promise<void>;
}

/**
 * Starts `pgauth serve …args` and waits for its "pgauth listening on" line; fails when the
 * process exits first or does not listen within `listenTimeoutMs` (default 30 s). `launcher`: what
 * runs pgauth instead of this checkout's bin (`['npx', 'pgauth']` in a project that installed the
 * package), in `cwd`, in a process group of its own.
 */
export function startServe(
  args: readonly string[],
  options: { listenTimeoutMs?: number; launcher?: readonly string[]; cwd?: string } = {},
): Promise<GatewayProcess> {
  const { launcher, cwd } = options;
  const p = launcher
    ? spawnCollected([...launcher, 'serve', ...args], { cwd, group: true })
    : spawnCollected([...NODE, BIN, 'serve', ...args]);
  let running = true;
  let exitCode: number | null = null;
  const exited = p.closed.then(({ code }) => {
    running = false;
    exitCode = code;
  });
  const stop = async (graceMs = 5_000): Promise<number | null> => {
    if (running) {
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exitCode;
  };
  const output = (): string => `${p.stdout()}\n${p.stderr()}`;
  const gateway = (url: string): GatewayProcess => ({
    url,
    pid: p.child.pid ?? 0,
    stdout: p.stdout,
    stderr: p.stderr,
    alive: () => running,
    stop,
    kill: async () => {
      if (!running) return;
      p.kill('SIGKILL');
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const ms = options.listenTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      void stop().then(() =>
        reject(new Error(`pgauth serve did not listen within ${ms / 1000} s:\n${output()}`)),
      );
    }, ms);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`pgauth serve exited (${exitCode}) before listening:\n${output()}`));
    });
    const onData = (): void => {
      const url = /pgauth listening on (http:\/\/\S+)\s/.exec(p.stdout())?.[1];
      if (!url) return;
      clearTimeout(timer);
      p.child.stdout?.off('data', onData);
      resolve(gateway(url));
    };
    p.child.stdout?.on('data', onData);
  });
}

/** Starts `pgauth serve --database-url <url> --port 0 …extra` and waits for its listening line. */
export function startGateway(databaseUrl: string, extra: string[] = []): Promise<GatewayProcess> {
  return startServe(['--database-url', databaseUrl, '--port', '0', ...extra]);
}
