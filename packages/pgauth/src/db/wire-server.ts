/**
 * The embedded engine's wire-protocol endpoint: PGlite served over TCP to the gateway's pool, the
 * CLI and psql.
 *
 * PGlite is one PostgreSQL backend. Many client connections share it, so the state that a backend
 * keeps per session (the unnamed prepared statement and portal of the extended protocol, an open
 * transaction, the "skip until Sync" state after an error) must belong to one connection at a
 * time. The socket server of @electric-sql/pglite-socket queues messages one by one and keeps a
 * connection apart only while PGlite reports an open transaction: outside one, the Parse, Bind,
 * Describe, Execute and Sync of concurrent connections interleave, and a query can be answered
 * with another connection's row (upstream issue electric-sql/pglite#1046).
 *
 * The rule here is the one general one: a connection holds the backend from its first message
 * until PGlite answers it with ReadyForQuery whose status is `I` (idle, outside a transaction).
 * Whole batches and whole transactions are therefore serialised; other connections wait in a
 * first-come, first-served queue. The smallest correct way to get that is to keep the package's
 * per-connection handler (startup, SSL and cancel requests, message framing) and give it a queue
 * of ours instead of the package's: the handler calls only `enqueue`, `clearQueueForHandler`,
 * `clearTransactionIfNeeded` and `getQueueLength` on it, and the regression test
 * (test/integration/embedded-socket.test.ts) fails if that contract changes under a new version.
 * The gateway itself keeps going through this endpoint (not through PGlite in process), so that
 * its transactions and the CLI's are kept apart by the same rule.
 *
 * A connection that closes while it holds the backend releases it: its unfinished batch is ended
 * by a Sync and its open transaction is rolled back before anyone else runs. A connection that
 * holds the backend (inside a transaction, or in a batch it has not ended by Sync) and sends
 * nothing for `holdTimeoutMs` while others wait is closed with FATAL 25P03, as PostgreSQL's
 * idle_in_transaction_session_timeout would, and released the same way. Alone, it may hold the
 * backend as long as it likes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';

/** How long a holder may stay silent while others wait (default of WireServerOptions). */
export const DEFAULT_HOLD_TIMEOUT_MS = 10_000;

const READY_FOR_QUERY = 0x5a; // 'Z'
const STATUS_IDLE = 0x49; // 'I'
const TERMINATE = 0x58; // 'X'

/**
 * A message of the wire protocol, either way: type byte, then its length (which counts itself),
 * then the body.
 */
export function wireMessage(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const SYNC = wireMessage('S', Buffer.alloc(0));
const ROLLBACK = wireMessage('Q', Buffer.from('rollback\0', 'latin1'));

/** A FATAL ErrorResponse, sent before the endpoint closes a connection. */
function fatal(code: string, message: string): Buffer {
  const field = (tag: string, value: string) => Buffer.from(`${tag}${value}\0`, 'utf8');
  const body = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', code),
    field('M', message),
    Buffer.from([0]),
  ]);
  return wireMessage('E', body);
}

/**
 * Follows the backend messages that PGlite writes in answer to one frontend message (split into
 * chunks anywhere) and keeps the status byte of the last ReadyForQuery among them.
 */
class ReadyScanner {
  /** The transaction status of the last ReadyForQuery seen, or null when none came. */
  status: number | null = null;
  private header: number[] = [];
  private skip = 0;
  private readyNext = false;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        if (this.readyNext) {
          this.status = chunk[i] ?? null;
          this.readyNext = false;
        }
        const n = Math.min(this.skip, chunk.length - i);
        i += n;
        this.skip -= n;
        continue;
      }
      this.header.push(chunk[i++] ?? 0);
      if (this.header.length === 5) {
        const [type, a = 0, b = 0, c = 0, d = 0] = this.header;
        this.header = [];
        this.skip = (((a << 24) | (b << 16) | (c << 8) | d) >>> 0) - 4;
        this.readyNext = type === READY_FOR_QUERY && this.skip >= 1;
      }
    }
  }
}

interface Turn {
  handlerId: number;
  /** A frontend message, or null for the release of a connection that went away. */
  message: Uint8Array | null;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

/**
 * The queue that the package's handlers put their messages in: one connection at a time holds the
 * backend, from its first message to its next ReadyForQuery `I`; the others wait in order.
 */
class BackendTurns {
  private queue: Turn[] = [];
  private holder: number | null = null;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private releasing = new Map<number, Promise<void>>();
  private closed = false;

  constructor(
    private readonly db: PGlite,
    private readonly holdTimeoutMs: number,
    /** Closes the connection of a holder that stayed silent too long while others waited. */
    private readonly evict: (handlerId: number) => void,
  ) {}

  enqueue(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    // Terminate: the connection closes next, which releases it (with a rollback) below.
    if (message[0] === TERMINATE && message.length === 5) return Promise.resolve(0);
    if (this.closed) return Promise.reject(new Error('the endpoint is closing'));
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.pump();
    });
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  /** The connection went away: its messages not yet run are dropped. */
  clearQueueForHandler(handlerId: number): void {
    this.queue = this.queue.filter((t) => {
      if (t.handlerId !== handlerId || t.message === null) return true;
      t.reject(new Error('connection closed'));
      return false;
    });
  }

  /**
   * The connection went away: when it holds the backend, its batch is ended and its transaction
   * rolled back before the next connection's turn. Called once or twice per connection.
   */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.holder !== handlerId) return Promise.resolve();
    let done = this.releasing.get(handlerId);
    if (!done) {
      done = new Promise<void>((resolve) => {
        this.queue.unshift({
          handlerId,
          message: null,
          onData: () => {},
          resolve: () => resolve(),
          reject: () => resolve(),
        });
      });
      this.releasing.set(handlerId, done);
      void done.then(() => this.releasing.delete(handlerId));
      void this.pump();
    }
    return done;
  }

  /** No more turns: the database is about to close. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const t of this.queue.splice(0)) t.reject(new Error('the endpoint is closing'));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.closed) {
        const holder = this.holder;
        const i = holder === null ? 0 : this.queue.findIndex((t) => t.handlerId === holder);
        const turn = i >= 0 ? this.queue[i] : undefined;
        if (!turn) break;
        this.queue.splice(i, 1);
        clearTimeout(this.timer);
        this.holder = turn.handlerId;
        if (turn.message === null) {
          await this.release();
          this.holder = null;
          turn.resolve(0);
          continue;
        }
        const ready = new ReadyScanner();
        let bytes = 0;
        try {
          const message = turn.message;
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(message, {
              onRawData: (data) => {
                bytes += data.length;
                ready.push(data);
                turn.onData(data);
              },
            }),
          );
        } catch (err) {
          // The handler closes the connection, which releases the backend.
          turn.reject(err as Error);
          continue;
        }
        if (ready.status === STATUS_IDLE) this.holder = null;
        turn.resolve(bytes);
      }
    } finally {
      this.running = false;
    }
    this.watchHolder();
  }

  /** Ends whatever the holder left unfinished: the batch (Sync), then the transaction. */
  private async release(): Promise<void> {
    try {
      await this.db.runExclusive(async () => {
        const ready = new ReadyScanner();
        await this.db.execProtocolRawStream(SYNC, { onRawData: (d) => ready.push(d) });
        if (ready.status !== STATUS_IDLE) {
          await this.db.execProtocolRawStream(ROLLBACK, { onRawData: () => {} });
        }
      });
    } catch {
      // The database is closed (the server stops): there is nothing left to release.
    }
  }

  /** While a silent holder keeps others waiting, it has holdTimeoutMs before it is evicted. */
  private watchHolder(): void {
    clearTimeout(this.timer);
    const holder = this.holder;
    if (holder === null || this.closed || this.holdTimeoutMs <= 0) return;
    this.timer = setTimeout(() => {
      if (this.holder !== holder || this.running) return;
      if (this.queue.some((t) => t.handlerId !== holder)) this.evict(holder);
      else this.watchHolder();
    }, this.holdTimeoutMs);
    this.timer.unref();
  }
}

export interface WireServerOptions {
  db: PGlite;
  host?: string;
  /** 0 (default): a free port, chosen by the system. */
  port?: number;
  /** Connections beyond this many are refused (FATAL 53300). */
  maxConnections: number;
  /**
   * How long a connection holding the backend (in a transaction or an unfinished batch) may send
   * nothing while others wait before it is closed and rolled back; 0 = never.
   */
  holdTimeoutMs?: number;
}

export interface WireServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Serves `db` over the PostgreSQL wire protocol; see the top of this file for the rule. */
export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const host = options.host ?? '127.0.0.1';
  const connections = new Map<number, { handler: PGLiteSocketHandler; socket: Socket }>();
  const turns = new BackendTurns(
    options.db,
    options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS,
    (handlerId) => {
      const c = connections.get(handlerId);
      if (!c) return;
      if (c.socket.writable) {
        c.socket.write(
          fatal(
            '25P03',
            'terminating connection: it held the embedded database in a transaction or an unfinished batch, idle, while others waited',
          ),
        );
      }
      // A detach asked from here emits no event: the connection is forgotten here.
      connections.delete(handlerId);
      void c.handler.detach(true).finally(() => c.socket.destroy());
    },
  );
  await options.db.waitReady;

  const server: Server = createServer((socket) => {
    if (connections.size >= options.maxConnections) {
      socket.end(fatal('53300', 'sorry, too many clients already'));
      return;
    }
    const handler = new PGLiteSocketHandler({
      queryQueue: turns as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    const id = handler.handlerId;
    connections.set(id, { handler, socket });
    const forget = () => connections.delete(id);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    handler.attach(socket).catch(() => {
      forget();
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    host,
    port,
    async stop() {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...connections.values()].map((c) => c.handler.detach(true)));
      connections.clear();
      turns.close();
      await closing;
    },
  };
}
