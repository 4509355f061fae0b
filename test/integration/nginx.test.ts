/**
 * The nginx example (examples/nginx) as shipped: a real nginx (Debian package "nginx") runs its
 * nginx.conf with the rendered pgauth.conf.template, in front of an upstream that echoes the
 * X-Auth-* headers it received, with the gateway on the test database of the engine under test.
 *
 * nginx missing skips the file with the package to install (a failure where PGAUTH_TEST_ALL=1, as
 * in CI, which installs it).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/processes.ts';
import { needs } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { createSession, createUser, login, startApp, type TestApp } from '../http/helpers.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/nginx/', import.meta.url));

/** Debian's /usr/sbin/nginx, else the first nginx on PATH, else null. */
function findNginx(): string | null {
  const dirs = ['/usr/sbin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'nginx'), constants.X_OK);
      return join(dir, 'nginx');
    } catch {}
  }
  return null;
}

const NGINX = findNginx();
const skip = needs('nginx auth_request', NGINX ? [] : ['nginx']);

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** What envsubst does with the template: every placeholder filled, an unknown one an error. */
function render(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the template has an unknown placeholder: ${name}`);
    return value;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the upstream saw of one request: its X-Auth-* headers (any spelling) and its body. */
interface Echo {
  method: string;
  headers: Record<string, string>;
  body: string;
}

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  json: any;
}

describe('nginx auth_request in front of the gateway (examples/nginx)', { skip }, () => {
  let dir = '';
  let gateway: TestApp | undefined;
  let gatewayClosed = false;
  let upstream: Server | undefined;
  let nginx: ChildProcess | undefined;
  let nginxOutput = '';
  let base = '';
  let hits = 0;
  const killNginx = (): void => {
    nginx?.kill('SIGTERM');
  };

  before(async () => {
    if (!NGINX) throw new Error('unreachable: the suite is skipped without nginx');
    gateway = await startApp();

    upstream = createServer((req, res) => {
      hits++;
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => {
        const echo: Echo = { method: req.method ?? '', headers: authHeaders(req.headers), body };
        // /fail: the application's own error, which nginx must pass through as it is.
        res.statusCode = req.url === '/fail' ? 500 : 200;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(echo));
      });
    });
    await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve));
    const upstreamAddress = upstream.address();
    const upstreamPort =
      typeof upstreamAddress === 'object' && upstreamAddress ? upstreamAddress.port : 0;

    dir = await mkdtemp(join(tmpdir(), 'pgauth-nginx-'));
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'temp'));
    await copyFile(join(EXAMPLE, 'nginx.conf'), join(dir, 'nginx.conf'));
    const port = await freePort();
    const site = render(await readFile(join(EXAMPLE, 'pgauth.conf.template'), 'utf8'), {
      LISTEN: `127.0.0.1:${port}`,
      PGAUTH_GATEWAY: gateway.url.replace('http://', ''),
      APP_UPSTREAM: `127.0.0.1:${upstreamPort}`,
    });
    await writeFile(join(dir, 'pgauth.conf'), site);

    // One process (no master/workers): nothing outlives a kill, and it runs as the current user.
    nginx = spawn(
      NGINX,
      ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    process.once('exit', killNginx);
    for (const stream of [nginx.stdout, nginx.stderr]) {
      stream?.setEncoding('utf8').on('data', (d: string) => {
        nginxOutput += d;
      });
    }
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (nginx.exitCode !== null || Date.now() > deadline) {
        const log = await readFile(join(dir, 'logs', 'error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx did not start (exit ${nginx.exitCode}):\n${nginxOutput}\n${log}`);
      }
      await sleep(50);
    }
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    const child = nginx;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    process.removeListener('exit', killNginx);
    await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve(undefined)));
    if (gateway && !gatewayClosed) await gateway.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function authHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (/^x[-_]auth[-_]/i.test(name)) out[name] = String(value);
    }
    return out;
  }

  async function request(
    path: string,
    o: { token?: string; headers?: Record<string, string>; method?: string; body?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(`${base}${path}`, { method: o.method ?? 'GET', headers, body: o.body });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, headers: res.headers, json };
  }

  /** Runs `fn` and returns how many requests reached the upstream meanwhile. */
  async function countHits(fn: () => Promise<void>): Promise<number> {
    const before = hits;
    await fn();
    return hits - before;
  }

  function assertInvalidToken(r: Answer): void {
    assert.equal(r.status, 401);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(r.json, {
      error: 'invalid_token',
      message: 'The token is missing, invalid, expired or revoked.',
    });
  }

  /**
   * Waits for nginx to answer `path` with 401 to a token revoked outside the gateway (it learns
   * of it through NOTIFY: allow for its delivery), and checks that answer.
   */
  async function assertRefusedSoon(what: string, path: string, token: string): Promise<void> {
    const last = await waitFor(
      what,
      async () => {
        const r = await request(path, { token });
        return r.status === 401 ? r : undefined;
      },
      3_000,
      50,
    );
    assertInvalidToken(last);
  }

  const gw = (): TestApp => {
    if (!gateway) throw new Error('the gateway did not start');
    return gateway;
  };

  test('a valid token reaches the upstream, which gets the user id, username, roles and session from the gateway', async () => {
    const id = await createUser(gw(), 'zoë nginx', ['billing', 'admin']);
    const tokens = await login(gw(), 'zoë nginx');
    let r: Answer | undefined;
    const n = await countHits(async () => {
      r = await request('/orders/42?x=1', { token: tokens.access_token });
    });
    assert.equal(n, 1);
    assert.equal(r?.status, 200);
    const echo = r?.json as Echo;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.headers['x-auth-user-id'], id);
    assert.equal(decodeURIComponent(echo.headers['x-auth-username'] ?? ''), 'zoë nginx');
    assert.deepEqual((echo.headers['x-auth-roles'] ?? '').split(',').sort(), ['admin', 'billing']);
    assert.equal(echo.headers['x-auth-session-id'], tokens.session_id);
  });

  test('an API key passes auth_request as its service account; revoked, it is refused', async () => {
    const db = gw().t.db;
    const account = await db.query<{ id: string }>(
      `select pgauth.create_service_account('nginx-robot', '{orders.read}')::text as id`,
    );
    const key = await db.query<{ id: string; key: string }>(
      `select id::text, key from pgauth.create_api_key('nginx-robot', 'edge')`,
    );
    const k = key.rows[0] as { id: string; key: string };
    const r = await request('/orders/7', { token: k.key });
    assert.equal(r.status, 200);
    const echo = r.json as Echo;
    assert.equal(echo.headers['x-auth-user-id'], account.rows[0]?.id);
    assert.equal(echo.headers['x-auth-username'], 'nginx-robot');
    assert.equal(echo.headers['x-auth-roles'], 'orders.read');
    assert.equal(echo.headers['x-auth-session-id'], k.id);
    await db.query('select pgauth.revoke_api_key($1)', [k.id]);
    // Revoked in SQL: the gateway's cache learns it through NOTIFY, as for a session.
    await assertRefusedSoon('nginx to refuse the revoked API key', '/orders/7', k.key);
  });

  test('a POST with a body reaches the upstream with its body (the check itself is a bodiless GET)', async () => {
    const tokens = await createSession(gw(), 'nginx_poster');
    const body = JSON.stringify({ item: 'x'.repeat(20_000) });
    const r = await request('/orders', {
      method: 'POST',
      token: tokens.access_token,
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.method, 'POST');
    assert.equal(r.json.body, body);
    assert.equal(r.json.headers['x-auth-user-id'], tokens.user_id);
  });

  test("the application's own 500 passes through untouched (only the check's failures become 503)", async () => {
    const tokens = await createSession(gw(), 'nginx_failing');
    const r = await request('/fail', { token: tokens.access_token });
    assert.equal(r.status, 500);
    assert.equal(r.json.headers['x-auth-user-id'], tokens.user_id);
  });

  test('without a token, or with a garbage one, nginx answers 401 invalid_token as JSON and the upstream is not reached', async () => {
    const n = await countHits(async () => {
      assertInvalidToken(await request('/orders'));
      assertInvalidToken(await request('/orders', { token: 'pga_not-a-real-token' }));
      assertInvalidToken(await request('/orders', { headers: { authorization: 'Basic YTpi' } }));
      assertInvalidToken(await request('/orders', { method: 'POST', body: '{}' }));
    });
    assert.equal(n, 0);
  });

  test('a token revoked with pgauth.logout in SQL is refused with 401 from then on', async () => {
    const tokens = await createSession(gw(), 'nginx_revoked');
    assert.equal((await request('/orders', { token: tokens.access_token })).status, 200);
    const r = await gw().t.db.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [
      tokens.access_token,
    ]);
    assert.equal(r.rows[0]?.ok, true);
    await assertRefusedSoon('nginx to refuse the revoked token', '/orders', tokens.access_token);
    const n = await countHits(async () => {
      assertInvalidToken(await request('/orders', { token: tokens.access_token }));
    });
    assert.equal(n, 0);
  });

  test('client-supplied X-Auth-* headers are not believed: 401 without a token, the real values with one', async () => {
    const victim = await createUser(gw(), 'nginx_victim', ['admin']);
    const forged = {
      'x-auth-user-id': victim,
      'x-auth-username': 'nginx_victim',
      'x-auth-roles': 'admin',
      'x-auth-session-id': '00000000-0000-0000-0000-000000000000',
      x_auth_user_id: victim,
    };
    const n = await countHits(async () => {
      assertInvalidToken(await request('/orders', { headers: forged }));
    });
    assert.equal(n, 0);

    const id = await createUser(gw(), 'nginx_forger');
    const tokens = await login(gw(), 'nginx_forger');
    const r = await request('/orders', { token: tokens.access_token, headers: forged });
    assert.equal(r.status, 200);
    // The forger has no role: the gateway's empty X-Auth-Roles drops the forged one entirely.
    assert.deepEqual(r.json.headers, {
      'x-auth-user-id': id,
      'x-auth-username': 'nginx_forger',
      'x-auth-session-id': tokens.session_id,
    });
  });

  test('with the gateway down nginx answers 503 unavailable with Retry-After, and the upstream is not reached', async () => {
    const tokens = await createSession(gw(), 'nginx_outage');
    await gw().close();
    gatewayClosed = true;
    const n = await countHits(async () => {
      const r = await request('/orders', { token: tokens.access_token });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '5');
      assert.deepEqual(r.json, {
        error: 'unavailable',
        message: 'The service is unavailable; retry later.',
      });
    });
    assert.equal(n, 0);
  });
});
