/**
 * SECURITY.md 20 — secrets stay secret. A private cluster logs every statement
 * (log_statement=all, log_min_duration_statement=0, log_connections=on); a full scenario runs
 * with sentinel passwords through the gateway (a real process, at log levels info, debug and
 * trace), the SDK in SQL mode and the CLI; then every password and every token the responses
 * carried is searched for in the gateway's stdout and stderr, the CLI's output, the server log
 * and every row of every table: zero hits.
 *
 * What makes the server log safe is two settings, not pgauth: node-postgres sends the password
 * and the token as bound parameters, and PostgreSQL logs bound parameters next to a logged
 * statement (`DETAIL:  parameters: $1 = …`) unless log_parameter_max_length = 0, and next to a
 * failed one (`CONTEXT:  unnamed portal with parameters: …`) unless
 * log_parameter_max_length_on_error = 0. The first test shows both leaks on this very cluster,
 * so that the zero hits afterwards are proven to come from the settings.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AuthError, createAuthClient } from '@pgauth/client';
import pg from 'pg';
import {
  type Cluster,
  createPgauthDatabase,
  runPgauth,
  startCluster,
  startGateway,
} from '../helpers/cluster.ts';
import { postgresOnly } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, type RequestOptions } from '../http/helpers.ts';

/** Settings a cluster needs so that no secret reaches its log, whatever else it logs. */
const SAFE_LOGGING = {
  log_parameter_max_length: '0',
  log_parameter_max_length_on_error: '0',
};

const RUN = randomBytes(4).toString('hex');
/** A sentinel password: long enough for the policy, unique to this run, plain ASCII. */
const sentinel = (name: string): string =>
  `SENTINEL-PW-${RUN}-${name}-${randomBytes(4).toString('hex')}`;

describe('secrets stay secret (SECURITY.md 20)', { skip: postgresOnly }, () => {
  let cluster: Cluster;
  let dbName: string;
  let url: string;

  const sql = <R extends Record<string, unknown>>(text: string, params?: unknown[]) =>
    cluster.query<R>(text, params, dbName);

  /** Sets server settings with ALTER SYSTEM and waits until a new session sees them. */
  const setLogging = async (settings: Record<string, string>): Promise<void> => {
    for (const [k, v] of Object.entries(settings)) {
      await cluster.query(`alter system set ${pg.escapeIdentifier(k)} = ${pg.escapeLiteral(v)}`);
    }
    await cluster.query('select pg_reload_conf()');
    await waitFor(
      `the settings ${JSON.stringify(settings)} to apply`,
      async () => {
        const rows = await cluster.query<{ name: string; setting: string }>(
          'select name, setting from pg_settings where name = any($1)',
          [Object.keys(settings)],
        );
        return rows.every((r) => settings[r.name] === r.setting);
      },
      5_000,
    );
  };

  before(async () => {
    if (postgresOnly) return;
    cluster = await startCluster({
      settings: {
        log_statement: 'all',
        log_min_duration_statement: '0',
        log_connections: 'on',
        log_disconnections: 'on',
        // The defaults are -1 (everything) and 0; both are set to "everything" for the demonstration.
        log_parameter_max_length: '-1',
        log_parameter_max_length_on_error: '-1',
      },
    });
    dbName = await createPgauthDatabase(cluster);
    url = cluster.url(dbName);
  });

  after(async () => {
    await cluster?.destroy();
  });

  test('without log_parameter_max_length(_on_error) = 0 the server log shows a password; with them it does not', async (t) => {
    const demo = {
      logged: sentinel('demo-logged'),
      onError: sentinel('demo-error'),
      quiet: sentinel('demo-quiet'),
      quietError: sentinel('demo-quiet-error'),
    };
    await sql('select pgauth.create_user($1, $2)', ['demo', demo.logged]);
    const loginAs = async (password: string): Promise<string | null> => {
      const sdk = createAuthClient({ databaseUrl: url });
      try {
        await sdk.login('demo', password);
        return null;
      } catch (err) {
        return err instanceof AuthError ? err.code : String(err);
      } finally {
        await sdk.close();
      }
    };
    /** pgauth.register of a taken username, as a service calling SQL would: raises TAKEN. */
    const registerTaken = async (password: string): Promise<string | undefined> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('select pgauth.register($1, $2)', ['demo', password]);
        return undefined;
      } catch (err) {
        return (err as { code?: string }).code;
      } finally {
        await client.end();
      }
    };
    const lines = async (needle: string): Promise<string[]> =>
      (await cluster.readLog()).split('\n').filter((l) => l.includes(needle));

    // Defaults: every bound parameter of a logged statement is in the log, the password too.
    assert.equal(await loginAs(demo.logged), null);
    const leaked = await lines(demo.logged);
    t.diagnostic(`log_parameter_max_length = -1 (the default): ${leaked[0]?.trim()}`);
    assert.ok(leaked.length > 0, 'the password is in the server log');
    assert.ok(
      leaked.every((l) => /DETAIL: {2}parameters: \$1 = 'demo', \$2 = '/.test(l)),
      'in the parameter DETAIL line of the logged statement',
    );

    // log_parameter_max_length = 0: a statement that succeeds leaks nothing; one that fails still
    // leaks its parameters while log_parameter_max_length_on_error is not 0.
    await setLogging({ log_parameter_max_length: '0' });
    assert.equal(await loginAs(demo.quiet), 'invalid_credentials');
    assert.deepEqual(await lines(demo.quiet), [], 'a wrong password, not logged');
    assert.equal(await registerTaken(demo.onError), 'TAKEN');
    const onError = await lines(demo.onError);
    t.diagnostic(`log_parameter_max_length_on_error = -1: ${onError[0]?.trim()}`);
    assert.ok(onError.length > 0, 'the password of a failing statement is in the server log');
    assert.ok(
      onError.every((l) => /unnamed portal with parameters: \$1 = 'demo', \$2 = '/.test(l)),
    );

    await setLogging(SAFE_LOGGING);
    assert.equal(await registerTaken(demo.quietError), 'TAKEN');
    assert.deepEqual(await lines(demo.quietError), [], 'a failing statement, not logged');
    assert.match(await cluster.readLog(), /ERROR: {2}username_taken/);
    // The statement itself is still logged, as the operator asked: only the values are not.
    assert.match(
      await cluster.readLog(),
      /execute <unnamed>: call pgauth\.login_durably\(\$1, \$2, \$3, \$4\)/,
    );
  });

  test('a full scenario over HTTP, the SDK and the CLI leaves no password and no token in any log or table', async (t) => {
    await setLogging(SAFE_LOGGING);
    /** Every sentinel password used, and the last one made under each name. */
    const passwords: { name: string; value: string }[] = [];
    const named = new Map<string, string>();
    const pw = (name: string): string => {
      const value = sentinel(name);
      passwords.push({ name, value });
      named.set(name, value);
      return value;
    };
    const tokens = new Set<string>();
    const collect = (body: unknown): void => {
      const b = body as Record<string, unknown> | null;
      for (const k of ['access_token', 'refresh_token', 'accessToken', 'refreshToken']) {
        if (typeof b?.[k] === 'string') tokens.add(b[k] as string);
      }
    };
    const haystacks: { name: string; text: string }[] = [];

    // The CLI: the admin, and a user whose password it sets twice.
    const cli = async (args: string[], input?: string): Promise<string> => {
      const r = await runPgauth([...args, '--database-url', url], { input });
      haystacks.push({ name: `cli ${args.slice(0, 2).join(' ')}`, text: r.stdout + r.stderr });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const adminPassword = pw('admin');
    await cli(
      ['user', 'add', 'admin', '--role', 'admin', '--role', 'introspect', '--password-stdin'],
      `${adminPassword}\n`,
    );
    await cli(['user', 'add', 'dave', '--password-stdin'], `${pw('dave')}\n`);
    await cli(['user', 'passwd', 'dave', '--password-stdin'], `${pw('dave2')}\n`);

    for (const level of ['info', 'debug', 'trace']) {
      const gw = await startGateway(url, [
        '--log-level',
        level,
        '--login-rate-ip',
        '10000',
        '--login-rate-user',
        '10000',
        '--register-rate-ip',
        '10000',
        '--register-rate-user',
        '10000',
      ]);
      try {
        const expect = async (
          status: number,
          method: string,
          path: string,
          o?: RequestOptions,
        ): Promise<Record<string, unknown>> => {
          const r = await call(gw, method, path, o);
          collect(r.json);
          assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
          return r.json;
        };
        const alice = `alice_${level}`;
        const bob = `bob_${level}`;
        const [pA, pA2, pB, pB2] = [pw(`${alice}`), pw(`${alice}2`), pw(bob), pw(`${bob}2`)];

        await expect(201, 'POST', '/v1/users', { json: { username: alice, password: pA } });
        await expect(409, 'POST', '/v1/users', {
          json: { username: alice, password: pw('taken') },
        });
        await expect(401, 'POST', '/v1/login', {
          json: { username: alice, password: pw('wrong') },
        });
        // Form bodies are refused (415) outside the OAuth routes: the password is still not logged.
        await expect(415, 'POST', '/v1/login', { form: { username: alice, password: pw('form') } });
        const t1 = await expect(200, 'POST', '/v1/login', {
          json: { username: alice, password: pA },
        });
        const t2 = await expect(200, 'POST', '/v1/refresh', {
          json: { refresh_token: t1.refresh_token },
        });
        await expect(200, 'POST', '/v1/refresh', { json: { refresh_token: t1.refresh_token } });
        await expect(401, 'GET', '/v1/session', { token: t1.access_token as string });
        await expect(200, 'GET', '/v1/session', { token: t2.access_token as string });
        await expect(200, 'GET', '/v1/session', { token: t2.access_token as string });
        await expect(200, 'GET', '/v1/auth/check', { token: t2.access_token as string });
        // A token in the URL is refused, and its value kept out of the request log.
        await expect(400, 'GET', `/v1/session?access_token=${t2.access_token}`);
        await expect(401, 'POST', '/v1/password', {
          token: t2.access_token as string,
          json: { current_password: pw('wrong2'), new_password: pA2 },
        });
        await expect(204, 'POST', '/v1/password', {
          token: t2.access_token as string,
          json: { current_password: pA, new_password: pA2 },
        });
        const t3 = await expect(200, 'POST', '/v1/login', {
          json: { username: alice, password: pA2 },
        });

        const admin = await expect(200, 'POST', '/v1/login', {
          json: { username: 'admin', password: adminPassword },
        });
        const ta = admin.access_token as string;
        const active = await expect(200, 'POST', '/oauth2/introspect', {
          token: ta,
          form: { token: t3.access_token as string },
        });
        assert.equal(active.active, true);
        await expect(200, 'POST', '/oauth2/introspect', {
          token: ta,
          form: { token: t3.refresh_token as string, token_type_hint: 'refresh_token' },
        });
        await expect(200, 'POST', '/oauth2/revoke', {
          form: { token: t3.refresh_token as string },
        });
        const t4 = await expect(200, 'POST', '/v1/login', {
          json: { username: alice, password: pA2 },
        });
        await expect(204, 'POST', '/v1/logout', { token: t4.access_token as string });
        await expect(401, 'POST', '/v1/logout', { token: t4.access_token as string });

        const created = await expect(201, 'POST', '/v1/admin/users', {
          token: ta,
          json: { username: bob, password: pB, roles: ['reader'] },
        });
        const bobId = created.user_id as string;
        await expect(204, 'POST', `/v1/admin/users/${bobId}/password`, {
          token: ta,
          json: { password: pB2 },
        });
        await expect(200, 'POST', '/v1/login', { json: { username: bob, password: pB2 } });
        await expect(200, 'GET', `/v1/admin/users/${bobId}/sessions`, { token: ta });
        await expect(200, 'GET', `/v1/admin/audit?user_id=${bobId}`, { token: ta });
        await expect(200, 'DELETE', `/v1/admin/users/${bobId}/sessions`, { token: ta });

        // Requests the gateway refuses before any SQL: they carry a password all the same.
        await expect(400, 'POST', '/v1/login', {
          headers: { 'content-type': 'application/json' },
          body: `{"username": "${alice}", "password": "${pw('malformed')}"`,
        });
        // An unknown field is refused by the schema (400), its value never echoed or logged.
        await expect(400, 'POST', '/v1/login', {
          json: { username: alice, password: pw('extra'), extra: pw('extra-field') },
        });
        await expect(400, 'POST', '/v1/login', {
          json: { username: alice, password: `${'x'.repeat(1100)}${pw('too-long')}` },
        });
        await expect(413, 'POST', '/v1/login', {
          json: { username: alice, password: pw('huge'), pad: 'x'.repeat(20_000) },
        });
        await expect(400, 'POST', `/v1/login?password=${pw('in-url')}`, {
          json: { username: alice, password: pA2 },
        });
      } finally {
        assert.equal(await gw.stop(), 0, 'the gateway shut down cleanly');
        haystacks.push({ name: `gateway stdout (${level})`, text: gw.stdout() });
        haystacks.push({ name: `gateway stderr (${level})`, text: gw.stderr() });
      }
      // The logs are real: request lines, and the URL with a token redacted.
      assert.match(gw.stdout(), /"msg":"request completed"/, `${level}: requests are logged`);
      assert.match(
        gw.stdout(),
        /access_token=\[Redacted\]/,
        `${level}: the token URL is logged redacted`,
      );
    }

    // The SDK in SQL mode: log in (and fail to), validate, change the password, log out.
    await sql('select pgauth.create_user($1, $2)', ['carol', pw('carol')]);
    const sdk = createAuthClient({ databaseUrl: url, cache: true });
    try {
      await sdk.cache?.ready(5_000);
      await assert.rejects(sdk.login('carol', pw('carol-wrong')), { code: 'invalid_credentials' });
      const c1 = await sdk.login('carol', named.get('carol') as string);
      collect(c1);
      assert.ok(await sdk.validate(c1.accessToken));
      assert.ok(await sdk.validate(c1.accessToken));
      await assert.rejects(
        sdk.changePassword(c1.accessToken, pw('carol-wrong2'), pw('carol-never')),
        {
          code: 'invalid_credentials',
        },
      );
      await sdk.changePassword(c1.accessToken, named.get('carol') as string, pw('carol2'));
      // The cached session goes when the revocation event arrives (not at once: see the report).
      await waitFor(
        'the revocation event to evict the session',
        async () => (await sdk.validate(c1.accessToken)) === null,
        5_000,
      );
      const c2 = await sdk.login('carol', named.get('carol2') as string);
      collect(c2);
      const c3 = await sdk.refresh(c2.refreshToken);
      collect(c3);
      await sdk.logout(c3.accessToken);
    } finally {
      await sdk.close();
    }
    // The password the CLI set works.
    const plain = createAuthClient({ databaseUrl: url });
    try {
      collect(await plain.login('dave', named.get('dave2') as string));
    } finally {
      await plain.close();
    }

    // Every table of the database, every row as JSON.
    const tables = await sql<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
        order by 1, 2`,
    );
    assert.ok(tables.some((x) => x.schema === 'pgauth' && x.name === 'sessions'));
    let rows = 0;
    for (const { schema, name } of tables) {
      const dump = await sql<{ j: string }>(
        `select to_jsonb(t)::text as j from ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)} t`,
      );
      rows += dump.length;
      haystacks.push({ name: `table ${schema}.${name}`, text: dump.map((r) => r.j).join('\n') });
    }
    const serverLog = await cluster.readLog();
    haystacks.push({ name: 'server log', text: serverLog });

    // The haystacks are real: statements, audit rows, sessions were all written.
    assert.match(
      serverLog,
      /LOG: {2}execute <unnamed>: call pgauth\.change_password_durably\(\$1, \$2, \$3\)/,
    );
    assert.match(serverLog, /LOG: {2}execute <unnamed>: select pgauth\.register\(\$1, \$2, \$3\)/);
    assert.match(serverLog, /LOG: {2}duration: [\d.]+ ms/);
    const audit = await sql<{ event: string; n: number }>(
      'select event, count(*)::int as n from pgauth.audit_log group by 1 order by 1',
    );
    for (const event of [
      'login_failure',
      'login_success',
      'password_changed',
      'refresh',
      'logout',
    ]) {
      assert.ok(
        audit.some((a) => a.event === event),
        `audit has ${event}`,
      );
    }
    assert.ok(tokens.size >= 20, `tokens collected: ${tokens.size}`);

    const needles = [
      ...passwords.map(({ name, value }) => ({ what: `password ${name}`, value })),
      // A token's body (what follows pga_ / pgr_) also finds it without its prefix.
      ...[...tokens].map((tok) => ({ what: `token ${tok.slice(0, 4)}…`, value: tok.slice(4) })),
    ];
    const hits: string[] = [];
    for (const { name, text } of haystacks) {
      for (const { what, value } of needles) {
        if (text.includes(value)) hits.push(`${what} in ${name}`);
      }
    }
    t.diagnostic(
      `${passwords.length} passwords and ${tokens.size} tokens searched in ${haystacks.length} places ` +
        `(${tables.length} tables, ${rows} rows; server log ${serverLog.length} bytes, ` +
        `${serverLog.split('\n').filter((l) => l.includes('execute <unnamed>')).length} logged executions)`,
    );
    assert.deepEqual(hits, [], 'no password and no token anywhere');
  });
});
