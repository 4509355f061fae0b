/** Request coalescing (src/client/batch.ts) on its own: order, batching, dedup, failures. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce } from '../../packages/client/src/batch.ts';

/** A `many` whose calls stay open until the test releases them. */
function controlled() {
  const calls: { keys: string[]; release(): void; fail(err: Error): void }[] = [];
  const many = (keys: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({
        keys,
        release: () => resolve(keys.map((k) => `answer:${k}`)),
        fail: reject,
      });
    });
  return { calls, many };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a lookup goes out alone while a slot is free', async () => {
  const { calls, many } = controlled();
  const one = coalesce(many, { maxInFlight: 2 });
  const a = one('a');
  const b = one('b');
  assert.deepEqual(
    calls.map((c) => c.keys),
    [['a'], ['b']],
  );
  for (const c of calls) c.release();
  assert.deepEqual(await Promise.all([a, b]), ['answer:a', 'answer:b']);
});

test('lookups that wait for a slot leave together, each gets its own answer', async () => {
  const { calls, many } = controlled();
  const one = coalesce(many, { maxInFlight: 1 });
  const first = one('a');
  const rest = ['b', 'c', 'b', 'd'].map(one);
  assert.equal(calls.length, 1);
  calls[0]?.release();
  await first;
  await tick();
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1]?.keys, ['b', 'c', 'd'], 'one call, the repeated key asked once');
  calls[1]?.release();
  assert.deepEqual(await Promise.all(rest), ['answer:b', 'answer:c', 'answer:b', 'answer:d']);
});

test('a batch never exceeds maxBatch', async () => {
  const { calls, many } = controlled();
  const one = coalesce(many, { maxInFlight: 1, maxBatch: 2 });
  const all = ['a', 'b', 'c', 'd', 'e'].map(one);
  for (let i = 0; i < 10 && calls.some((c) => c.keys.length > 0); i++) {
    const open = calls.at(-1);
    open?.release();
    await tick();
    if (calls.length === 4) break;
  }
  assert.deepEqual(
    calls.map((c) => c.keys),
    [['a'], ['b', 'c'], ['d', 'e']],
  );
  calls.at(-1)?.release();
  assert.equal((await Promise.all(all)).length, 5);
});

test('a failed call fails every lookup of its batch, and the next batch still goes', async () => {
  const { calls, many } = controlled();
  const one = coalesce(many, { maxInFlight: 1 });
  const first = one('a');
  const batch = [one('b'), one('c')];
  calls[0]?.fail(new Error('connection lost'));
  await assert.rejects(first, /connection lost/);
  await tick();
  calls[1]?.fail(new Error('still down'));
  for (const p of batch) await assert.rejects(p, /still down/);
  const later = one('d');
  await tick();
  calls[2]?.release();
  assert.equal(await later, 'answer:d');
});
