/**
 * The fleet options of `pgauth serve` as serveConfig reads them (flags and variables arrive as
 * commander hands them over): --listen-url, --read-url (repeatable; the variable a list separated
 * by blanks), --max-replica-lag, the mail settings (--smtp-url, --mail-from, --public-url),
 * --issuer and --key-encryption-key,
 * each validated once with a message naming flag and variable.
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

test('--smtp-url turns the mail sender on and needs --mail-from and an http(s) --public-url', () => {
  assert.equal(serveConfig({ databaseUrl: DB }).mail, null);
  const mail = {
    smtpUrl: 'smtps://user:pw@mail.example.com:465',
    mailFrom: 'no-reply@example.com',
    publicUrl: 'https://app.example.com/',
  };
  assert.deepEqual(serveConfig({ databaseUrl: DB, ...mail }).mail, {
    smtpUrl: mail.smtpUrl,
    from: mail.mailFrom,
    publicUrl: 'https://app.example.com',
  });
  const refused: [Record<string, string>, RegExp][] = [
    [{ ...mail, smtpUrl: 'http://mail' }, /--smtp-url \/ PGAUTH_SMTP_URL must be an smtp/],
    [{ ...mail, mailFrom: '' }, /--mail-from \/ PGAUTH_MAIL_FROM/],
    [{ ...mail, publicUrl: '' }, /--public-url \/ PGAUTH_PUBLIC_URL/],
    [{ ...mail, publicUrl: 'ftp://app' }, /--public-url/],
    [{ ...mail, publicUrl: 'https://app/#x' }, /--public-url/],
  ];
  for (const [flags, message] of refused) {
    assert.throws(
      () => serveConfig({ databaseUrl: DB, ...flags }),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
      JSON.stringify(flags),
    );
  }
});

test('--issuer defaults to none (each request names its origin) and takes an http(s) URL', () => {
  assert.equal(serveConfig({ databaseUrl: DB }).issuer, null);
  assert.equal(serveConfig({ databaseUrl: DB, issuer: ' ' }).issuer, null);
  assert.equal(
    serveConfig({ databaseUrl: DB, issuer: 'https://auth.example.com/' }).issuer,
    'https://auth.example.com',
  );
  assert.equal(
    serveConfig({ databaseUrl: DB, issuer: 'https://example.com/auth' }).issuer,
    'https://example.com/auth',
  );
  for (const bad of [
    'auth.example.com',
    'ftp://auth',
    'https://auth/?x=1',
    'https://a/#f',
    'https://u:p@auth',
  ]) {
    assert.throws(
      () => serveConfig({ databaseUrl: DB, issuer: bad }),
      (err: Error) => err instanceof ConfigError && /--issuer \/ PGAUTH_ISSUER/.test(err.message),
      bad,
    );
  }
});

test('--key-encryption-key: unset issues no JWT; a malformed one stops the start without repeating it', () => {
  assert.equal(serveConfig({ databaseUrl: DB }).keyEncryptionKey, null);
  const hex = 'ab'.repeat(32);
  assert.equal(
    serveConfig({ databaseUrl: DB, keyEncryptionKey: hex }).keyEncryptionKey?.length,
    32,
  );
  const b64 = Buffer.alloc(32, 7).toString('base64');
  assert.equal(
    serveConfig({ databaseUrl: DB, keyEncryptionKey: b64 }).keyEncryptionKey?.length,
    32,
  );
  for (const bad of ['s3cret-but-short', 'ab'.repeat(31), `${b64}AAAA`]) {
    assert.throws(
      () => serveConfig({ databaseUrl: DB, keyEncryptionKey: bad }),
      (err: Error) =>
        err instanceof ConfigError &&
        /--key-encryption-key \/ PGAUTH_KEY_ENCRYPTION_KEY: .*32 random bytes/.test(err.message) &&
        !err.message.includes(bad),
      bad,
    );
  }
});
