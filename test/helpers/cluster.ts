/**
 * A private PostgreSQL cluster for destructive tests (stop it, restart it, turn on TLS, log every
 * statement): initdb + pg_ctl in a fresh temporary folder, as the `postgres` OS user when the
 * tests run as root, on a random free port of 127.0.0.1 with trust authentication. The shared
 * server of test/helpers/db.ts is never touched.
 *
 * A cluster never outlives the test process: destroy() stops it and removes its folder; the
 * process's exit (and SIGINT/SIGTERM) stops every cluster still running; and a detached watchdog
 * shell does the same should the test process be killed outright.
 *
 * The pgauth CLI and gateway as real processes, for tests that point them at such a cluster, are
 * in ./processes.ts (re-exported here).
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import { migrate } from '../../packages/pgauth/src/migrate.ts';
import { randomName, TEST_SETTINGS } from './db.ts';
import { freePort } from './processes.ts';

export {
  type GatewayProcess,
  type RunResult as CliResult,
  runPgauth,
  startGateway,
} from './processes.ts';

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface SslFiles {
  /** Paths of PEM files; they are copied into the cluster folder (the key as postgres, 0600). */
  cert: string;
  key: string;
  /** A CA for client certificates (ssl_ca_file); not needed for server-only TLS. */
  ca?: string;
}

export interface ClusterOptions {
  /** ssl=on with these files; TCP connections must then use TLS (hostssl only). */
  ssl?: SslFiles;
  /** Extra postgresql.conf settings, e.g. `{ log_statement: 'all' }`. */
  settings?: Record<string, string>;
  /**
   * A streaming replica of this cluster instead of a new one: pg_basebackup -R (hot standby,
   * replicating over the primary's Unix socket). `settings` add to it, e.g.
   * `{ recovery_min_apply_delay: '2s' }`.
   */
  standbyOf?: Cluster;
}

export interface Cluster {
  port: number;
  /** The temporary folder holding everything (data, socket, log, certificates). */
  dir: string;
  dataDir: string;
  /** A TCP URL on 127.0.0.1, as a service would use; `params` become the query string. */
  url(db?: string, params?: Record<string, string>): string;
  /** A URL over the Unix socket: works whatever the TLS settings (for the test's own queries). */
  socketUrl(db?: string): string;
  /** pg_ctl stop (default fast); resolves once the server is down. */
  stop(mode?: StopMode): Promise<void>;
  /**
   * pg_ctl start; resolves once it accepts connections. `settings` apply to this run only
   * (e.g. `{ listen_addresses: '' }`: the Unix socket alone, so no TCP client can get in).
   */
  start(settings?: Record<string, string>): Promise<void>;
  restart(mode?: StopMode): Promise<void>;
  /**
   * SIGSTOP to every server process: the server stops answering without closing a connection or
   * refusing one (the kernel still completes TCP handshakes), as behind a network partition.
   */
  pause(): void;
  /** SIGCONT to every server process. */
  resume(): void;
  /** pg_ctl reload (postgresql.conf, pg_hba.conf, certificates). */
  reload(): Promise<void>;
  /** pg_ctl promote: a standby becomes a primary; resolves once it accepts writes. */
  promote(): Promise<void>;
  /** Replaces the server certificate and key, then reloads. */
  setCertificate(files: SslFiles): Promise<void>;
  /** Path of the server log (pg_ctl -l). */
  logFile(): string;
  readLog(): Promise<string>;
  /** One statement over the Unix socket as superuser postgres. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    db?: string,
  ): Promise<R[]>;
  /** Stops the server (immediate) and removes the folder; safe to call twice. */
  destroy(): Promise<void>;
}

const IS_ROOT = process.getuid?.() === 0;

/** The directory of initdb and pg_ctl: pg_config --bindir, else the newest /usr/lib/postgresql/N. */
function findBinDir(): string {
  const usable = (dir: string): boolean =>
    existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (dir && usable(dir)) return dir;
  } catch {
    // no pg_config on the PATH: look where Debian installs the server
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => usable(join(base, v, 'bin')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions[0]) return join(base, versions[0], 'bin');
  throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) found');
}

let binDir: string | undefined;
function bin(name: string): string {
  binDir ??= findBinDir();
  return join(binDir, name);
}

/** uid and gid of the `postgres` OS user (root only: the server refuses to run as root). */
function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no OS user postgres');
  return { uid: Number(uid), gid: Number(gid) };
}

/** argv that runs a server binary as the postgres user when we are root, else as ourselves. */
function asServerUser(program: string, args: string[]): [string, string[]] {
  return IS_ROOT ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
}

function run(program: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [file, argv] = asServerUser(program, args);
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${program} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const quote = (v: string): string => `'${v.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
const shellQuote = (v: string): string => `'${v.replaceAll("'", `'\\''`)}'`;

/** Every cluster not destroyed yet: stopped synchronously when the process exits. */
const live = new Map<string, { dataDir: string; dir: string; watchdog?: ChildProcess }>();
let hooked = false;

/** The postmaster and its children, or nothing when the server is down. */
function serverPids(dataDir: string): number[] {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return [];
  }
  if (!Number.isInteger(postmaster) || postmaster <= 0) return [];
  const r = spawnSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' });
  const children = r.stdout.split('\n').filter(Boolean).map(Number);
  return [postmaster, ...children];
}

function signalServer(dataDir: string, signal: NodeJS.Signals): void {
  for (const pid of serverPids(dataDir)) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

function stopNow(entry: { dataDir: string; dir: string; watchdog?: ChildProcess }): void {
  signalServer(entry.dataDir, 'SIGCONT');
  const [file, argv] = asServerUser(bin('pg_ctl'), [
    '-D',
    entry.dataDir,
    '-m',
    'immediate',
    'stop',
  ]);
  spawnSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
  rmSync(entry.dir, { recursive: true, force: true });
  if (entry.watchdog?.pid) {
    try {
      process.kill(entry.watchdog.pid);
    } catch {
      // already gone
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const entry of live.values()) stopNow(entry);
    live.clear();
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => process.exit(code));
  }
}

/**
 * A detached shell that waits for this process to die and then stops the cluster: the cover for
 * a SIGKILL, which runs no exit handler. destroy() kills it.
 */
function startWatchdog(dataDir: string, dir: string): ChildProcess {
  const [file, argv] = asServerUser(bin('pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop']);
  const stop = [file, ...argv].map(shellQuote).join(' ');
  const pidFile = shellQuote(join(dataDir, 'postmaster.pid'));
  const thaw = `pm=$(head -n 1 ${pidFile} 2>/dev/null) && { kill -CONT "$pm"; pkill -CONT -P "$pm"; }`;
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${thaw} 2>/dev/null; ${stop} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-cluster-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const log = join(dir, 'server.log');
  const owner = IS_ROOT ? postgresIds() : null;
  const own = async (path: string): Promise<void> => {
    if (owner) await chown(path, owner.uid, owner.gid);
  };
  await own(dir);
  await chmod(dir, 0o700);
  await mkdir(socketDir, { mode: 0o700 });
  await own(socketDir);
  const entry: { dataDir: string; dir: string; watchdog?: ChildProcess } = { dataDir, dir };
  live.set(dir, entry);
  entry.watchdog = startWatchdog(dataDir, dir);

  const installSsl = async (files: SslFiles): Promise<string[]> => {
    const lines: string[] = [];
    for (const [name, src, setting] of [
      ['server.crt', files.cert, 'ssl_cert_file'],
      ['server.key', files.key, 'ssl_key_file'],
      ['ca.crt', files.ca, 'ssl_ca_file'],
    ] as const) {
      if (!src) continue;
      const dest = join(dir, name);
      copyFileSync(src, dest);
      if (owner) chownSync(dest, owner.uid, owner.gid);
      await chmod(dest, 0o600);
      lines.push(`${setting} = ${quote(dest)}`);
    }
    return lines;
  };

  try {
    if (options.standbyOf) {
      await run(bin('pg_basebackup'), [
        '-D',
        dataDir,
        '-h',
        join(options.standbyOf.dir, 'sock'),
        '-p',
        String(options.standbyOf.port),
        '-U',
        'postgres',
        '-X',
        'stream',
        '-R',
        '--no-sync',
        '-c',
        'fast',
      ]);
    } else {
      await run(bin('initdb'), [
        '-D',
        dataDir,
        '--auth=trust',
        '--username=postgres',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ]);
    }
    const port = await freePort();
    const conf = [
      '',
      '# pgauth test cluster (test/helpers/cluster.ts)',
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = ${quote(socketDir)}`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'shared_buffers = 32MB',
      'max_connections = 100',
      'logging_collector = off',
      `lc_messages = 'C'`,
    ];
    if (options.ssl) {
      conf.push('ssl = on', ...(await installSsl(options.ssl)));
      // TLS or nothing over TCP: a client that does not ask for it is refused.
      await writeFile(
        join(dataDir, 'pg_hba.conf'),
        [
          'local all all trust',
          'hostssl all all 127.0.0.1/32 trust',
          'hostnossl all all 127.0.0.1/32 reject',
          '',
        ].join('\n'),
      );
    }
    for (const [k, v] of Object.entries(options.settings ?? {})) conf.push(`${k} = ${quote(v)}`);
    await appendFile(join(dataDir, 'postgresql.conf'), `${conf.join('\n')}\n`);

    const pgCtl = (...args: string[]): Promise<string> =>
      run(bin('pg_ctl'), ['-D', dataDir, '-w', '-t', '60', ...args]);
    const withLog = async (p: Promise<string>): Promise<void> => {
      try {
        await p;
      } catch (err) {
        const tail = (await readFile(log, 'utf8').catch(() => '')).slice(-3000);
        throw new Error(`${(err as Error).message}\nserver log:\n${tail}`);
      }
    };
    const socketUrl = (db = 'postgres'): string =>
      `postgres://postgres@localhost:${port}/${db}?host=${encodeURIComponent(socketDir)}`;

    const cluster: Cluster = {
      port,
      dir,
      dataDir,
      url(db = 'postgres', params) {
        const q = params ? `?${new URLSearchParams(params).toString()}` : '';
        return `postgres://postgres@127.0.0.1:${port}/${db}${q}`;
      },
      socketUrl,
      stop: (mode = 'fast') => withLog(pgCtl('-m', mode, 'stop')),
      start: (settings = {}) => {
        const o = Object.entries(settings).map(([k, v]) => `-c ${k}=${shellQuote(v)}`);
        return withLog(pgCtl('-l', log, ...(o.length ? ['-o', o.join(' ')] : []), 'start'));
      },
      restart: (mode = 'fast') => withLog(pgCtl('-l', log, '-m', mode, 'restart')),
      pause() {
        // Twice: a backend forked while the first round ran is caught by the second.
        signalServer(dataDir, 'SIGSTOP');
        signalServer(dataDir, 'SIGSTOP');
      },
      resume: () => signalServer(dataDir, 'SIGCONT'),
      reload: () => withLog(pgCtl('reload')),
      promote: () => withLog(pgCtl('promote')),
      async setCertificate(files) {
        await installSsl(files);
        await cluster.reload();
      },
      logFile: () => log,
      readLog: () => readFile(log, 'utf8'),
      async query(sql, params, db) {
        const client = new pg.Client({ connectionString: socketUrl(db) });
        await client.connect();
        try {
          return (await client.query(sql, params)).rows;
        } finally {
          await client.end();
        }
      },
      async destroy() {
        if (!live.has(dir)) return;
        live.delete(dir);
        signalServer(dataDir, 'SIGCONT');
        await pgCtl('-m', 'immediate', 'stop').catch(() => {});
        rmSync(dir, { recursive: true, force: true });
        if (entry.watchdog?.pid) {
          try {
            process.kill(entry.watchdog.pid);
          } catch {
            // already gone
          }
        }
      },
    };
    await cluster.start();
    return cluster;
  } catch (err) {
    live.delete(dir);
    stopNow(entry);
    throw err;
  }
}

/**
 * A migrated pgauth database on the cluster, as test/helpers/db.ts makes them on the shared
 * server (bcrypt cost 4). Returns its name; reach it with cluster.url(name).
 */
export async function createPgauthDatabase(cluster: Cluster, name?: string): Promise<string> {
  const db = name ?? randomName('pgauth_test');
  await cluster.query(`create database ${pg.escapeIdentifier(db)}`);
  const conn = openPostgres({ connectionString: cluster.socketUrl(db), max: 2 });
  try {
    await migrate(conn);
    await conn.exec(TEST_SETTINGS);
  } finally {
    await conn.close();
  }
  return db;
}
