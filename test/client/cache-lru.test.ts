/**
 * The cache's replacement policy: least recently used goes first, so a session validated on every
 * request stays cached while one-off tokens come and go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveCache, NOW, session } from './cache-fixtures.ts';

test('a full cache drops the least recently used entry, not the oldest stored', () => {
  const cache = liveCache({ maxEntries: 3 });
  for (const id of ['a', 'b', 'c']) cache.put(`t-${id}`, session(id), cache.ticket(NOW), NOW);
  assert.equal(cache.get('t-a', NOW)?.sessionId, 'a', 'a is used again: now the most recent');
  cache.put('t-d', session('d'), cache.ticket(NOW), NOW);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('t-b', NOW), undefined, 'b, the least recently used, went');
  assert.equal(cache.get('t-a', NOW)?.sessionId, 'a', 'a, stored first but used since, stays');
  assert.equal(cache.get('t-c', NOW)?.sessionId, 'c');
  assert.equal(cache.get('t-d', NOW)?.sessionId, 'd');
});

test('a hot token survives a stream of one-off tokens many times the cache size', () => {
  const cache = liveCache({ maxEntries: 100 });
  cache.put('hot', session('hot'), cache.ticket(NOW), NOW);
  for (let i = 0; i < 1_000; i++) {
    cache.put(`cold-${i}`, session(`cold-${i}`), cache.ticket(NOW), NOW);
    assert.equal(
      cache.get('hot', NOW)?.sessionId,
      'hot',
      `hot token still cached after ${i} others`,
    );
  }
  assert.equal(cache.size, 100);
});
