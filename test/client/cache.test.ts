/**
 * The validation cache on its own: what it serves, for how long, and the race between a lookup
 * and a revocation event. Pure logic, no database: the client tests cover it wired to one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionCache, withCache } from '../../packages/client/src/cache.ts';
import { liveCache, NOW, session } from './cache-fixtures.ts';

test('nothing is served or stored while the subscription is not live', () => {
  const cache = new SessionCache();
  cache.put('t1', session('s1'), cache.ticket(NOW), NOW);
  assert.equal(cache.get('t1', NOW), undefined);
  assert.equal(cache.size, 0);
  cache.setSubscribed(true);
  cache.put('t1', session('s1'), cache.ticket(NOW), NOW);
  assert.equal(cache.get('t1', NOW)?.sessionId, 's1');
  cache.setSubscribed(false);
  assert.equal(cache.get('t1', NOW), undefined, 'a lost subscription empties the cache');
  assert.equal(cache.size, 0);
});

test('a positive answer lives until maxAgeMs, never past the session expiry', () => {
  const cache = liveCache({ maxAgeMs: 60_000 });
  cache.put('long', session('s1'), cache.ticket(NOW), NOW);
  assert.ok(cache.get('long', NOW + 59_999));
  assert.equal(cache.get('long', NOW + 60_000), undefined);
  cache.put('short', session('s2', 'u1', 5_000), cache.ticket(NOW), NOW);
  assert.ok(cache.get('short', NOW + 4_999));
  assert.equal(cache.get('short', NOW + 5_000), undefined, 'expires_at caps the age');
});

test('a negative answer lives negativeMaxAgeMs, capped at 5 s, and 0 keeps none', () => {
  const cache = liveCache({ negativeMaxAgeMs: 60_000 });
  cache.put('bad', null, cache.ticket(NOW), NOW);
  assert.equal(cache.get('bad', NOW + 4_999), null);
  assert.equal(cache.get('bad', NOW + 5_000), undefined);
  const none = liveCache({ negativeMaxAgeMs: 0 });
  none.put('bad', null, none.ticket(NOW), NOW);
  assert.equal(none.get('bad', NOW), undefined);
});

test('an event evicts every token of the sessions it names, and only those', () => {
  const cache = liveCache();
  cache.put('a1', session('sa'), cache.ticket(NOW), NOW);
  cache.put('a2', session('sa'), cache.ticket(NOW), NOW);
  cache.put('b1', session('sb'), cache.ticket(NOW), NOW);
  cache.evict(['sa'], NOW);
  assert.equal(cache.get('a1', NOW), undefined);
  assert.equal(cache.get('a2', NOW), undefined);
  assert.equal(cache.get('b1', NOW)?.sessionId, 'sb');
});

test('evictUser drops every session of that user', () => {
  const cache = liveCache();
  cache.put('a', session('s1', 'alice'), cache.ticket(NOW), NOW);
  cache.put('b', session('s2', 'alice'), cache.ticket(NOW), NOW);
  cache.put('c', session('s3', 'bob'), cache.ticket(NOW), NOW);
  cache.evictUser('alice');
  assert.equal(cache.get('a', NOW), undefined);
  assert.equal(cache.get('b', NOW), undefined);
  assert.ok(cache.get('c', NOW));
});

test('an answer read before an eviction of its session is not stored after it', () => {
  const cache = liveCache();
  const before = cache.ticket(NOW);
  cache.evict(['s1'], NOW + 1);
  cache.put('t1', session('s1'), before, NOW + 2);
  assert.equal(cache.get('t1', NOW + 2), undefined, 'stale answer stored');
  // A ticket taken after the eviction may store; another session's eviction does not block.
  cache.put('t1', session('s1'), cache.ticket(NOW + 3), NOW + 3);
  assert.ok(cache.get('t1', NOW + 3));
  const t2 = cache.ticket(NOW + 4);
  cache.evict(['other'], NOW + 5);
  cache.put('t2', session('s2'), t2, NOW + 6);
  assert.ok(cache.get('t2', NOW + 6));
});

test('an answer read before a resubscription is not stored after it', () => {
  const cache = liveCache();
  const before = cache.ticket(NOW);
  cache.setSubscribed(false);
  cache.setSubscribed(true);
  cache.put('t1', session('s1'), before, NOW);
  assert.equal(cache.get('t1', NOW), undefined);
});

test('a full cache lets its oldest entry go first', () => {
  const cache = liveCache({ maxEntries: 2 });
  cache.put('t1', session('s1'), cache.ticket(NOW), NOW);
  cache.put('t2', session('s2'), cache.ticket(NOW), NOW);
  cache.put('t3', session('s3'), cache.ticket(NOW), NOW);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('t1', NOW), undefined);
  assert.ok(cache.get('t2', NOW));
  assert.ok(cache.get('t3', NOW));
});

test('withCache asks the source once per token while the answer is fresh', async () => {
  const cache = liveCache();
  let calls = 0;
  const validate = withCache(async (token: string) => {
    calls++;
    return token === 'good' ? { ...session('s1'), expiresAt: new Date(Date.now() + 60_000) } : null;
  }, cache);
  assert.equal((await validate('good'))?.sessionId, 's1');
  assert.equal((await validate('good'))?.sessionId, 's1');
  assert.equal(await validate('bad'), null);
  assert.equal(await validate('bad'), null);
  assert.equal(calls, 2);
  cache.evict(['s1']);
  await validate('good');
  assert.equal(calls, 3, 'an evicted session is asked again');
});

test('bad options are refused with a clear message', () => {
  assert.throws(() => new SessionCache({ maxEntries: 0 }), /maxEntries must be a number > 0/);
  assert.throws(() => new SessionCache({ maxAgeMs: -1 }), /maxAgeMs must be a number > 0/);
  assert.throws(() => new SessionCache({ negativeMaxAgeMs: -1 }), /negativeMaxAgeMs/);
});
