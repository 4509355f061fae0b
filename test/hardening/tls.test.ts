/**
 * TLS to the database. A private cluster with ssl=on, a certificate made here by openssl (a
 * test CA, a server certificate for IP 127.0.0.1 and DNS localhost) and hostssl-only TCP access.
 * `pgauth migrate`, `pgauth serve` and the SDK in SQL mode connect with
 * `?sslmode=verify-full&sslrootcert=<ca>` (node-postgres' connection-string parsing): they work,
 * and every connection they hold is encrypted. They refuse a server whose certificate another CA
 * signed, a certificate for another name, and a plaintext connection; the refusal is one clear
 * line that shows no secret.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAuthClient } from '@pgauth/client';
import { type Cluster, runPgauth, startCluster, startGateway } from '../helpers/cluster.ts';
import { postgresOnly } from '../helpers/db.ts';
import { PASSWORD } from '../helpers/sql.ts';

/** A password in the database URL: trust auth ignores it, and no output may show it. */
const URL_SECRET = `SENTINEL-DBPW-${process.pid}`;

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA: `<name>.pem` and `<name>.key` in `dir`. */
async function makeCa(dir: string, name: string): Promise<string> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=pgauth test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return join(dir, `${name}.pem`);
}

/** A server certificate signed by CA `ca` with these subjectAltNames; returns cert and key paths. */
async function makeServerCert(
  dir: string,
  name: string,
  ca: string,
  altNames: string,
): Promise<{ cert: string; key: string }> {
  await writeFile(
    join(dir, `${name}.ext`),
    [
      `subjectAltName=${altNames}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl(
    ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      `0x${Date.now().toString(16)}`,
      '-days',
      '2',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

describe('TLS to the database (verify-full)', { skip: postgresOnly }, () => {
  let certs: string;
  let cluster: Cluster;
  let dbName: string;
  let ca: string;
  let otherCa: string;
  let localhostOnly: { cert: string; key: string };

  /** The cluster's TCP URL as a service would write it, password included. */
  const tlsUrl = (params: Record<string, string>, host = '127.0.0.1'): string => {
    const u = new URL(cluster.url(dbName, params));
    u.password = URL_SECRET;
    u.hostname = host;
    return u.toString();
  };

  /** The TLS state of every connection pgauth holds on the test database. */
  const connections = () =>
    cluster.query<{ application_name: string; ssl: boolean; version: string | null }>(
      `select a.application_name, s.ssl, s.version
         from pg_stat_activity a join pg_stat_ssl s using (pid)
        where a.datname = $1 and a.application_name like 'pgauth%'
        order by 1`,
      [dbName],
    );

  before(async () => {
    if (postgresOnly) return;
    certs = await mkdtemp(join(tmpdir(), 'pgauth-tls-'));
    ca = await makeCa(certs, 'ca');
    otherCa = await makeCa(certs, 'other-ca');
    const server = await makeServerCert(certs, 'server', 'ca', 'IP:127.0.0.1,DNS:localhost');
    localhostOnly = await makeServerCert(certs, 'localhost-only', 'ca', 'DNS:localhost');
    cluster = await startCluster({ ssl: server });
    // A bare database: `pgauth migrate` over TLS creates the schema.
    dbName = `pgauth_tls_${process.pid}`;
    await cluster.query(`create database ${dbName}`);
  });

  after(async () => {
    await cluster?.destroy();
    if (certs) await rm(certs, { recursive: true, force: true });
  });

  test('pgauth migrate, pgauth serve and the SDK work over sslmode=verify-full, every connection encrypted', async (t) => {
    const url = tlsUrl({ sslmode: 'verify-full', sslrootcert: ca });
    const migrated = await runPgauth(['migrate', '--database-url', url]);
    assert.equal(migrated.code, 0, migrated.stderr);
    await cluster.query('update pgauth.settings set bcrypt_cost = 4', [], dbName);
    await cluster.query('select pgauth.create_user($1, $2)', ['tls_user', PASSWORD], dbName);

    const gw = await startGateway(url, ['--log-level', 'warn']);
    try {
      const ready = await fetch(`${gw.url}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const login = await fetch(`${gw.url}/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'tls_user', password: PASSWORD }),
      });
      assert.equal(login.status, 200);
      const { access_token } = (await login.json()) as { access_token: string };
      const session = await fetch(`${gw.url}/v1/session`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      assert.equal(session.status, 200);

      const sdk = createAuthClient({ databaseUrl: url, cache: true });
      try {
        await sdk.cache?.ready(5_000);
        assert.equal((await sdk.validate(access_token))?.username, 'tls_user');
        const conns = await connections();
        t.diagnostic(`connections: ${JSON.stringify(conns)}`);
        const names = new Set(conns.map((c) => c.application_name));
        for (const name of ['pgauth', 'pgauth:listen', 'pgauth-client', 'pgauth-client:listen']) {
          assert.ok(names.has(name), `a connection ${name} is open`);
        }
        assert.deepEqual(
          conns.filter((c) => !c.ssl),
          [],
          'every connection of the gateway and the SDK is encrypted',
        );
      } finally {
        await sdk.close();
      }
      const out = gw.stdout() + gw.stderr();
      assert.match(out, /^database: postgres:\/\/127\.0\.0\.1:\d+\/pgauth_tls_\d+$/m);
      assert.ok(!out.includes(URL_SECRET), 'the start lines show no password');
      assert.ok(!migrated.stdout.includes(URL_SECRET) && !migrated.stderr.includes(URL_SECRET));
    } finally {
      await gw.stop();
    }
  });

  /** Runs `pgauth serve` expecting it to refuse the database: exits 1 with one clear line. */
  const refused = async (
    t: { diagnostic(m: string): void },
    url: string,
    expected: RegExp,
  ): Promise<string> => {
    const started = Date.now();
    const r = await runPgauth(['serve', '--database-url', url, '--port', '0'], {
      timeoutMs: 20_000,
    });
    const output = r.stdout + r.stderr;
    t.diagnostic(`exit ${r.code} after ${Date.now() - started} ms: ${output.trim()}`);
    assert.equal(r.timedOut, false, `serve did not exit: ${output}`);
    assert.equal(r.code, 1, output);
    assert.doesNotMatch(r.stdout, /listening/, 'it never listened');
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    assert.ok(!output.includes(URL_SECRET), 'the database password is not shown');
    return r.stderr.trim();
  };

  test('a server certificate that another CA signed is refused: serve exits 1 naming the certificate problem', async (t) => {
    const line = await refused(
      t,
      tlsUrl({ sslmode: 'verify-full', sslrootcert: otherCa }),
      /^pgauth: .*(certificate|verify)/i,
    );
    // And the server saw the client give up on the handshake.
    const log = await cluster.readLog();
    assert.match(log, /could not accept SSL connection|SSL error|unexpected EOF/i);
    const migrate = await runPgauth([
      'migrate',
      '--database-url',
      tlsUrl({ sslmode: 'verify-full', sslrootcert: otherCa }),
    ]);
    assert.equal(migrate.code, 1);
    assert.equal(migrate.stderr.trim(), line, 'migrate refuses with the same line');
  });

  test('with verify-full a certificate for another name is refused (and the same one is accepted under its name)', async (t) => {
    await cluster.setCertificate(localhostOnly);
    try {
      await refused(
        t,
        tlsUrl({ sslmode: 'verify-full', sslrootcert: ca }),
        /^pgauth: .*(altnames|does not match|hostname)/i,
      );
      // The control: same CA, same certificate, reached by the name it carries.
      const ok = await runPgauth([
        'migrate',
        '--status',
        '--database-url',
        tlsUrl({ sslmode: 'verify-full', sslrootcert: ca }, 'localhost'),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      const server = { cert: join(certs, 'server.pem'), key: join(certs, 'server.key') };
      await cluster.setCertificate(server);
    }
  });

  test('a plaintext connection is refused by the hostssl-only server: serve exits 1', async (t) => {
    await refused(
      t,
      tlsUrl({ sslmode: 'disable' }),
      /^pgauth: .*(no pg_hba\.conf entry|no encryption)/i,
    );
  });
});
