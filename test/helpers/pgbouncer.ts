/**
 * A private PgBouncer (Debian's /usr/sbin/pgbouncer) in front of a test cluster: its own config in
 * a temporary folder, a free port of 127.0.0.1, trust authentication, and PgBouncer's defaults for
 * everything else (no ignore_startup_parameters, no max_prepared_statements). As the postgres OS
 * user when the tests run as root (PgBouncer refuses to run as root).
 *
 * Each database is offered twice: `<db>` in transaction mode (what calls go through) and
 * `<db>_session` in session mode (one server connection per client: LISTEN works there, so it is
 * one endpoint that a failover can repoint for LISTEN too). `repoint(port)` rewrites the config to
 * another server and reloads, as an operator (or Patroni's callback) does after a promotion.
 *
 * Stopped by stop(), by the test process's exit, and by a watchdog shell should the test process
 * be killed outright.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PGBOUNCER = '/usr/sbin/pgbouncer';
const IS_ROOT = process.getuid?.() === 0;

/** The Debian packages missing for a PgBouncer test (for needs()). */
export function pgbouncerMissing(): string[] {
  return existsSync(PGBOUNCER) ? [] : ['pgbouncer'];
}

export interface Bouncer {
  port: number;
  dir: string;
  /** A URL through the pooler in transaction mode (default) or session mode. */
  url(db: string, mode?: 'transaction' | 'session', user?: string): string;
  /** Points every database at another server port and reloads (SIGHUP). */
  repoint(serverPort: number): Promise<void>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface BouncerOptions {
  /** Port of the PostgreSQL server behind it (on 127.0.0.1). */
  serverPort: number;
  /** Databases to offer (each in both modes). */
  databases: string[];
  /** Login roles that may connect (auth_file lists them; trust, so no password). */
  users?: string[];
  /** Settings of the [pgbouncer] section beyond the defaults, e.g. server_login_retry. */
  settings?: Record<string, string>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return { uid: Number(uid), gid: Number(gid) };
}

const running = new Set<() => void>();
process.once('exit', () => {
  for (const stop of running) stop();
});

async function accepting(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`PgBouncer does not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPgbouncer(options: BouncerOptions): Promise<Bouncer> {
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-pgbouncer-'));
  const owner = IS_ROOT ? postgresIds() : null;
  if (owner) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const users = ['postgres', ...(options.users ?? [])];
  let serverPort = options.serverPort;

  const writeConfig = async (): Promise<void> => {
    const dbs = options.databases.flatMap((db) => [
      `${db} = host=127.0.0.1 port=${serverPort} dbname=${db}`,
      `${db}_session = host=127.0.0.1 port=${serverPort} dbname=${db} pool_mode=session`,
    ]);
    const text = [
      '[databases]',
      ...dbs,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'admin_users = postgres',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      ...Object.entries(options.settings ?? {}).map(([k, v]) => `${k} = ${v}`),
      '',
    ].join('\n');
    await writeFile(ini, text);
    await writeFile(join(dir, 'users.txt'), users.map((u) => `"${u}" ""`).join('\n'));
    for (const f of [ini, join(dir, 'users.txt')]) {
      if (owner) await chown(f, owner.uid, owner.gid);
    }
  };
  await writeConfig();

  const [file, argv] = IS_ROOT
    ? ['runuser', ['-u', 'postgres', '--', PGBOUNCER, ini]]
    : [PGBOUNCER, [ini]];
  const child: ChildProcess = spawn(file, argv, { stdio: 'ignore' });
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // The pid of pgbouncer itself (runuser forks it): from its pidfile once it is up.
  const pid = (): number | null => {
    try {
      return Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  const watchdog = spawn(
    'sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill $(cat '${join(dir, 'pgbouncer.pid')}') 2>/dev/null; rm -rf '${dir}'`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  const stopNow = (): void => {
    const p = pid();
    if (p) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {}
    }
    child.kill('SIGTERM');
    if (watchdog.pid) {
      try {
        process.kill(watchdog.pid);
      } catch {}
    }
    spawnSync('sleep', ['0.1']);
    rmSync(dir, { recursive: true, force: true });
  };
  running.add(stopNow);
  try {
    await accepting(port, 10_000);
  } catch (err) {
    const log = await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '');
    stopNow();
    running.delete(stopNow);
    throw new Error(`${(err as Error).message}\n${log}`);
  }

  return {
    port,
    dir,
    url(db, mode = 'transaction', user = 'postgres') {
      const name = mode === 'session' ? `${db}_session` : db;
      return `postgres://${user}@127.0.0.1:${port}/${name}?sslmode=disable`;
    },
    async repoint(to) {
      serverPort = to;
      await writeConfig();
      const p = pid();
      if (p) process.kill(p, 'SIGHUP');
    },
    log: () => readFile(join(dir, 'pgbouncer.log'), 'utf8'),
    async stop() {
      if (!running.has(stopNow)) return;
      running.delete(stopNow);
      const p = pid();
      if (p) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {}
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      if (!exited) await gone;
      clearTimeout(timer);
      if (watchdog.pid) {
        try {
          process.kill(watchdog.pid);
        } catch {}
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
