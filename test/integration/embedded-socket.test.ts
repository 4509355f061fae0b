import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import {
  startWireServer,
  type WireServer,
  wireMessage,
} from '../../packages/pgauth/src/db/wire-server.ts';
import { onPostgres } from '../helpers/db.ts';

// The embedded engine's wire-protocol endpoint (what `pgauth serve` without --database-url gives
// its own pool, the CLI and psql): one PGlite, many node-postgres connections. Each connection's
// extended-protocol batches and transactions must be answered by its own queries alone.
const skip = onPostgres ? 'embedded engine only' : false;

let pglite: PGlite;
let server: WireServer;
let url: string;

before(async () => {
  if (skip) return;
  pglite = await PGlite.create();
  await pglite.exec('create table t (v int)');
  server = await startWireServer({ db: pglite, maxConnections: 40, holdTimeoutMs: 500 });
  url = `postgres://postgres@127.0.0.1:${server.port}/postgres?sslmode=disable`;
});

after(async () => {
  if (skip) return;
  await server.stop();
  await pglite.close();
});

/** Runs `fn` with a pool of at most `max` connections to the endpoint, and ends the pool after it. */
async function withPool<T>(max: number, fn: (p: pg.Pool) => Promise<T>): Promise<T> {
  const p = new pg.Pool({ connectionString: url, max });
  p.on('error', () => {});
  try {
    return await fn(p);
  } finally {
    await p.end();
  }
}

/**
 * A client of the endpoint that has begun a transaction and inserted `v` into t: it holds the
 * backend until it ends. `ended` resolves when its connection ends: with the error, if it failed.
 */
async function inTransaction(
  v: number,
): Promise<{ client: pg.Client; ended: Promise<Error | undefined> }> {
  const client = new pg.Client({ connectionString: url });
  const ended = new Promise<Error | undefined>((resolve) => {
    client.on('error', (err) => resolve(err));
    client.on('end', () => resolve(undefined));
  });
  await client.connect();
  await client.query('begin');
  await client.query('insert into t values ($1)', [v]);
  return { client, ended };
}

test('concurrent parameterised queries, some in transactions, each get their own answer', {
  skip,
}, async () => {
  let right = 0;
  const wrong: string[] = [];
  await withPool(8, async (p) => {
    const one = async (i: number): Promise<void> => {
      try {
        let got: unknown;
        if (i % 3 === 0) {
          const c = await p.connect();
          try {
            await c.query('begin');
            got = (await c.query('select $1::int as v', [i])).rows[0]?.v;
            await c.query('commit');
          } finally {
            c.release();
          }
        } else {
          got = (await p.query('select $1::int as v', [i])).rows[0]?.v;
        }
        if (got === i) right++;
        else wrong.push(`${i} answered ${String(got)}`);
      } catch (err) {
        wrong.push(`${i} failed: ${(err as Error).message}`);
      }
    };
    await Promise.all(Array.from({ length: 1500 }, (_, i) => one(i)));
  });
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} wrong or failed, ${right} right`);
  assert.equal(right, 1500);
});

/** Another client's view of t, as a sorted list. */
async function rowsOfT(p: pg.Pool): Promise<number[]> {
  const r = await p.query<{ v: number }>('select v from t order by v');
  return r.rows.map((row) => row.v);
}

test('a connection killed inside a transaction is rolled back and does not hold the others', {
  skip,
}, async () => {
  await withPool(4, async (p) => {
    const { client: victim } = await inTransaction(1);
    // The other connections now wait for the victim's transaction; it dies instead of ending it.
    const waiting = Promise.all([1, 2, 3].map((i) => p.query('select $1::int as v', [i])));
    (
      victim as unknown as { connection: { stream: { destroy(): void } } }
    ).connection.stream.destroy();
    const answers = await waiting;
    assert.deepEqual(
      answers.map((r) => r.rows[0]?.v),
      [1, 2, 3],
    );
    assert.deepEqual(await rowsOfT(p), [], 'the dead transaction was rolled back');
    // And the backend is usable for transactions again.
    const c = await p.connect();
    try {
      await c.query('begin');
      await c.query('insert into t values (2)');
      await c.query('commit');
    } finally {
      c.release();
    }
    assert.deepEqual(await rowsOfT(p), [2]);
    await p.query('delete from t');
  });
});

/**
 * A raw connection that has done its startup; `send` writes frontend messages, `answered(type)`
 * resolves once a backend message of that type byte has come back.
 */
async function rawConnection(): Promise<{
  send(...messages: Buffer[]): void;
  answered(type: number): Promise<void>;
  close(): void;
}> {
  const socket = connect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0', 'latin1');
  const startup = Buffer.alloc(8 + params.length);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(196608, 4);
  params.copy(startup, 8);
  let seen = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      seen = Buffer.concat([seen, d]);
      // ReadyForQuery ends the startup.
      if (seen.includes(Buffer.from([0x5a, 0, 0, 0, 5]))) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(startup);
  });
  // After the startup: the type byte of every whole backend message, in order.
  const types: number[] = [];
  let rest = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    rest = Buffer.concat([rest, d]);
    while (rest.length >= 5 && rest.length >= 1 + rest.readInt32BE(1)) {
      types.push(rest[0] ?? 0);
      rest = rest.subarray(1 + rest.readInt32BE(1));
    }
    socket.emit('pgauth-message');
  });
  return {
    send: (...messages) => socket.write(Buffer.concat(messages)),
    answered: (type) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!types.includes(type)) return;
          socket.off('pgauth-message', check);
          resolve();
        };
        socket.on('pgauth-message', check);
        check();
      }),
    close: () => socket.destroy(),
  };
}

const parse = (sql: string) => wireMessage('P', Buffer.from(`\0${sql}\0\0\0`, 'latin1'));
const bind = () => wireMessage('B', Buffer.from('\0\0\0\0\0\0\0\0', 'latin1'));
const execute = () => wireMessage('E', Buffer.from('\0\0\0\0\0', 'latin1'));

test('a connection that dies in the middle of a failed batch leaves the backend usable', {
  skip,
}, async () => {
  await withPool(2, async (p) => {
    const raw = await rawConnection();
    // An error inside an extended-protocol batch: the backend skips messages until Sync, which
    // this connection never sends.
    raw.send(parse('select 1/0'), bind(), execute());
    // Its ErrorResponse ('E') is back: the backend is in that state, held by this connection.
    await raw.answered(0x45);
    const waiting = p.query('select $1::int as v', [7]);
    raw.close();
    assert.equal((await waiting).rows[0]?.v, 7);
  });
});

test('a connection that holds the backend and stays silent while others wait is closed', {
  skip,
}, async () => {
  await withPool(2, async (p) => {
    const { client: holder, ended } = await inTransaction(3);
    // Waits behind the silent transaction until the hold timeout (500 ms here) closes it.
    assert.equal((await p.query('select $1::int as v', [5])).rows[0]?.v, 5);
    const err = await ended;
    if (err) assert.match(err.message, /held the embedded database|terminat|connection/i);
    assert.deepEqual(await rowsOfT(p), [], 'the evicted transaction was rolled back');
    await holder.end().catch(() => {});
  });
});
