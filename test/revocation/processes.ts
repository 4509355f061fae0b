/**
 * Real processes for the revocation tests: `pgauth serve` gateways on a PostgreSQL URL, psql, and
 * a reader of a gateway's revocation stream (GET /v1/revocations), which tells from outside when
 * a gateway's own subscription is live and which events it received.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/pgauth.js', import.meta.url));

/** Every child still running: killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface GatewayProcess {
  /** Base URL, from the "pgauth listening on …" line. */
  url: string;
  pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts `pgauth serve --database-url <url> --port 0` and waits for its listening line. */
export function startGateway(
  databaseUrl: string,
  extraArgs: string[] = [],
): Promise<GatewayProcess> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.PGAUTH_DATA_DIR;
  delete env.PORT;
  const args = ['serve', '--database-url', databaseUrl, '--port', '0', '--log-level', 'warn'];
  const child = spawn(process.execPath, [BIN, ...args, ...extraArgs], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => running.delete(child));
  let out = '';
  const collect = (d: string): void => {
    out += d;
  };
  child.stdout?.setEncoding('utf8').on('data', collect);
  child.stderr?.setEncoding('utf8').on('data', collect);

  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  return new Promise<GatewayProcess>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      void stop().then(() => reject(err));
    };
    const onData = (): void => {
      const url = /pgauth listening on (http:\/\/[^\s]+)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      resolve({ url, pid: child.pid ?? 0, output: () => out, stop });
    };
    const onExit = (code: number | null): void =>
      fail(new Error(`pgauth serve exited (${code}) before listening:\n${out}`));
    const timer = setTimeout(
      () => fail(new Error(`pgauth serve printed no listening line within 30 s:\n${out}`)),
      30_000,
    );
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

/** Runs one SQL command through psql, as an operator would; resolves with its unaligned output. */
export function psql(databaseUrl: string, sql: string): Promise<string> {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', sql];
  return new Promise((resolve, reject) => {
    execFile('psql', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`psql failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export interface RevocationWatch {
  /** Session ids named by the `revocation` events received so far. */
  readonly sessionIds: ReadonlySet<string>;
  /** Whether the gateway ended the stream (it lost or resynchronised its subscription). */
  readonly ended: boolean;
  close(): void;
}

/**
 * Opens a gateway's GET /v1/revocations with a token of role introspect. The gateway offers the
 * stream only while its own LISTEN subscription is live, so null (503) means "not subscribed";
 * once open, every revocation event it hears is read here, and the stream ends when the
 * subscription drops.
 */
export async function watchRevocations(
  baseUrl: string,
  token: string,
): Promise<RevocationWatch | null> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/v1/revocations`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status === 503) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200 || !res.body) {
    throw new Error(`GET /v1/revocations answered ${res.status}: ${await res.text()}`);
  }
  const sessionIds = new Set<string>();
  const watch = { sessionIds, ended: false, close: () => abort.abort() };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const frames = buffer.split('\n\n');
        buffer = frames.pop() ?? '';
        for (const frame of frames) {
          const lines = frame.split('\n');
          if (!lines.includes('event: revocation')) continue;
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '{}';
          for (const id of (JSON.parse(data) as { session_ids?: string[] }).session_ids ?? []) {
            sessionIds.add(id);
          }
        }
      }
    } catch {
      // Aborted by close(), or the connection was cut: either way the stream is over.
    }
    watch.ended = true;
  })();
  return watch;
}
