/**
 * Helper processes driven over IPC, for measurements that must run in a process of their own (its
 * own event loop, heap and JIT state, nothing of the benchmark's on them) or that need a second
 * process by definition (a revocation committed in one process and seen in another).
 *
 * The parent forks a module with `startHelper` and sends it requests; the module, run as a child,
 * answers them with `serveHelper`. One request is answered by one reply, in any order.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { basename } from 'node:path';

export type Message = Record<string, unknown>;

export interface Helper {
  readonly pid: number;
  /** Sends `message`; resolves with the handler's answer, rejects with its error or on timeout. */
  request<T>(message: Message, timeoutMs?: number): Promise<T>;
  /** Disconnects: the child closes what it holds and exits (killed after 5 s). */
  stop(): Promise<void>;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/**
 * Forks `module` (TypeScript, through tsx) with `args` and resolves once it serves requests.
 */
export function startHelper(module: string, args: string[], signal: AbortSignal): Promise<Helper> {
  const child: ChildProcess = fork(module, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const name = `${basename(module)} ${args.join(' ')}`;
  let err = '';
  child.stdout?.on('data', () => {});
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  let nextId = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const failAll = (e: Error): void => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${name}: ${m.error}`));
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', (code, sig) => failAll(new Error(`${name} exited (${code ?? sig}):\n${err}`)));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const helper: Helper = {
    pid: child.pid as number,
    request<T>(message: Message, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error(`${name} is not running:\n${err}`));
          return;
        }
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no answer to ${String(message.cmd)} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, message });
      });
    },
    stop,
  };
  return new Promise<Helper>((resolve, reject) => {
    const onAbort = (): void => {
      void stop();
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const onReady = (m: unknown): void => {
      if ((m as { ready?: boolean }).ready !== true) return;
      child.off('message', onReady);
      signal.removeEventListener('abort', onAbort);
      resolve(helper);
    };
    child.on('message', onReady);
    child.once('exit', () => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`${name} exited before it was ready:\n${err}`));
    });
  });
}

/**
 * The child's side: answers every request with `handle`, and on disconnect (the parent stopped
 * it or died) or SIGTERM runs `close` and exits.
 */
export function serveHelper(
  handle: (message: Message) => Promise<unknown>,
  close: () => Promise<void>,
): void {
  const send = (m: unknown): void => {
    if (process.connected) process.send?.(m);
  };
  process.on('message', (m: { id: number; message: Message }) => {
    handle(m.message).then(
      (result) => send({ id: m.id, ok: true, result }),
      (err: unknown) =>
        send({
          id: m.id,
          ok: false,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        }),
    );
  });
  let closing = false;
  const quit = (): void => {
    if (closing) return;
    closing = true;
    close()
      .catch((err: unknown) => console.error(err))
      .finally(() => process.exit(0));
  };
  process.once('disconnect', quit);
  process.once('SIGTERM', quit);
  send({ ready: true });
}
