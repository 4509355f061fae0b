/**
 * The fleet options of `pgauth serve` as serveConfig reads them (flags and variables arrive as
 * commander hands them over): --listen-url, --read-url (repeatable; the variable a list separated
 * by blanks) and --max-replica-lag, each validated once with a message naming flag and variable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, serveConfig } from '../packages/pgauth/src/config.ts';

const DB = 'postgres://gw@pgbouncer:6432/pgauth';

test('--listen-url defaults to none (LISTEN on the database URL) and takes a postgres URL', () => {
  assert.equal(serveConfig({ databaseUrl: DB }).listenUrl, undefined);
  const direct = 'postgres://gw@primary:5432/pgauth';
  assert.equal(serveConfig({ databaseUrl: DB, listenUrl: direct }).listenUrl, direct);
});

test('--read-url repeats, and PGAUTH_READ_URLS lists URLs separated by blanks', () => {
  const a = 'postgres://gw@replica-1/pgauth';
  const b = 'postgresql://gw@replica-2/pgauth?sslmode=require';
  assert.deepEqual(serveConfig({ databaseUrl: DB, readUrl: [a, b] }).readUrls, [a, b]);
  assert.deepEqual(serveConfig({ databaseUrl: DB, readUrl: [` ${a}  ${b} `] }).readUrls, [a, b]);
  assert.deepEqual(serveConfig({ databaseUrl: DB }).readUrls, []);
});

test('--max-replica-lag defaults to 1000 ms and is an integer in range', () => {
  assert.equal(serveConfig({ databaseUrl: DB }).maxReplicaLagMs, 1000);
  assert.equal(serveConfig({ databaseUrl: DB, maxReplicaLag: '250' }).maxReplicaLagMs, 250);
  assert.throws(
    () => serveConfig({ databaseUrl: DB, maxReplicaLag: '1s' }),
    (err: Error) =>
      err instanceof ConfigError && /--max-replica-lag \/ PGAUTH_MAX_REPLICA_LAG/.test(err.message),
  );
});

test('a listen or read URL that is no postgres URL, or without --database-url, stops the start', () => {
  assert.throws(
    () => serveConfig({ databaseUrl: DB, listenUrl: 'http://primary' }),
    /--listen-url \/ PGAUTH_LISTEN_URL must be a postgres/,
  );
  assert.throws(
    () => serveConfig({ listenUrl: 'postgres://primary/pgauth' }),
    /--listen-url \/ PGAUTH_LISTEN_URL needs --database-url/,
  );
  assert.throws(
    () => serveConfig({ readUrl: ['postgres://replica/pgauth'] }),
    /--read-url \/ PGAUTH_READ_URLS needs --database-url/,
  );
});
