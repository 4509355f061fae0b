/**
 * Revocation events as the cache reads them since migration 0010: cache keys, a flush, or (from
 * an older database) session ids; anything else is a flush. An event is a hint: it only ever
 * removes, exactly what it names, and a flood of them cannot grow memory without bound. Pure
 * logic, no database: test/client/revocation-hints.test.ts wires it to real engines.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  cacheKey,
  parseRevocation,
  type RevocationEvent,
} from '../../packages/client/src/revocations.ts';
import { liveCache, NOW, session } from './cache-fixtures.ts';

const keys = (...tokens: string[]): RevocationEvent => ({
  keys: tokens.map(cacheKey),
  sessionIds: [],
  flush: false,
});

test('cacheKey is the first 8 bytes of the SHA-256 of the token, in hex', () => {
  const token = 'pga_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
  assert.equal(
    cacheKey(token),
    createHash('sha256').update(token).digest().subarray(0, 8).toString('hex'),
  );
  assert.match(cacheKey(token), /^[0-9a-f]{16}$/);
});

test('parseRevocation reads keys, a flush and session ids; anything else is null (a flush)', () => {
  assert.deepEqual(parseRevocation('{"keys" : ["00aa", "11bb"]}'), {
    keys: ['00aa', '11bb'],
    sessionIds: [],
    flush: false,
  });
  assert.deepEqual(parseRevocation('{"flush" : true}'), { keys: [], sessionIds: [], flush: true });
  assert.deepEqual(
    parseRevocation('{"user_id": "u", "session_ids": ["s1"], "reason": "logout"}'),
    { keys: [], sessionIds: ['s1'], flush: false },
    'the payload of a database before migration 0010',
  );
  for (const garbage of [
    '',
    'not json',
    'null',
    '[]',
    '"keys"',
    '{}',
    '{"flush": "yes"}',
    '{"keys": "00aa"}',
    '{"keys": [1, 2]}',
    '{"session_ids": [null]}',
    '{"keys": [], "session_ids": {}}',
  ]) {
    assert.equal(parseRevocation(garbage), null, garbage);
  }
});

test('an event naming a key evicts exactly that token, and reports its session', () => {
  const cache = liveCache();
  cache.put('a1', session('sa'), cache.ticket(NOW), NOW);
  cache.put('a2', session('sa'), cache.ticket(NOW), NOW);
  cache.put('b1', session('sb'), cache.ticket(NOW), NOW);
  assert.deepEqual(cache.apply(keys('a1', 'never-cached'), NOW), ['sa']);
  assert.equal(cache.get('a1', NOW), undefined);
  assert.equal(cache.get('a2', NOW)?.sessionId, 'sa', 'another token of the session stays');
  assert.equal(cache.get('b1', NOW)?.sessionId, 'sb');
  assert.deepEqual(cache.apply(keys('nothing-cached'), NOW), []);
  assert.equal(cache.size, 2);
});

test('an event naming session ids (an older database) evicts every token of those sessions', () => {
  const cache = liveCache();
  cache.put('a1', session('sa'), cache.ticket(NOW), NOW);
  cache.put('a2', session('sa'), cache.ticket(NOW), NOW);
  cache.put('b1', session('sb'), cache.ticket(NOW), NOW);
  assert.deepEqual(cache.apply({ keys: [], sessionIds: ['sa'], flush: false }, NOW), ['sa']);
  assert.equal(cache.size, 1);
  assert.ok(cache.get('b1', NOW));
});

test('a flush empties the cache, reports every cached session, and leaves it live', () => {
  const cache = liveCache();
  cache.put('a1', session('sa'), cache.ticket(NOW), NOW);
  cache.put('b1', session('sb'), cache.ticket(NOW), NOW);
  cache.put('bad', null, cache.ticket(NOW), NOW);
  const before = cache.ticket(NOW);
  assert.deepEqual(cache.apply({ keys: [], sessionIds: [], flush: true }, NOW).sort(), [
    'sa',
    'sb',
  ]);
  assert.equal(cache.size, 0);
  assert.equal(cache.subscribed, true, 'a flush is not a lost subscription');
  cache.put('a1', session('sa'), before, NOW);
  assert.equal(cache.get('a1', NOW), undefined, 'an answer read before the flush is not stored');
  cache.put('a1', session('sa'), cache.ticket(NOW), NOW);
  assert.ok(cache.get('a1', NOW), 'an answer read after it is');
});

test('an answer read before an event naming its key is not stored after it', () => {
  const cache = liveCache();
  const before = cache.ticket(NOW);
  cache.apply(keys('t1'), NOW + 1);
  cache.put('t1', session('s1'), before, NOW + 2);
  assert.equal(cache.get('t1', NOW + 2), undefined, 'stale answer stored');
  const t2 = cache.ticket(NOW + 3);
  cache.apply(keys('other'), NOW + 4);
  cache.put('t2', session('s2'), t2, NOW + 5);
  assert.ok(cache.get('t2', NOW + 5), 'an event naming another key does not block');
});

test('a flood of events naming unknown keys empties the cache instead of remembering them all', () => {
  const cache = liveCache();
  cache.put('t1', session('s1'), cache.ticket(NOW), NOW);
  const flood = Array.from({ length: 1_000 }, (_, i) => `${i}`.padStart(16, '0'));
  let emptied = -1;
  for (let round = 0; round < 150 && emptied < 0; round++) {
    cache.apply({ keys: flood, sessionIds: [], flush: false }, NOW);
    if (cache.size === 0) emptied = round;
  }
  assert.ok(emptied > 0, 'the cache empties itself once too many evictions are remembered');
  assert.ok(emptied <= 100, `within 100,000 remembered evictions (round ${emptied})`);
  cache.put('t1', session('s1'), cache.ticket(NOW), NOW);
  assert.ok(cache.get('t1', NOW), 'and serves again afterwards');
});
