/**
 * Gateway tests over real HTTP: the app on an ephemeral port of 127.0.0.1, on a fresh migrated
 * database of the engine under test (test/helpers/db.ts), with fetch as the client.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type AppOptions, buildApp } from '../../packages/pgauth/src/server/app.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { useFileFixture } from '../helpers/fixture.ts';
import { createUser as createUserIn, PASSWORD } from '../helpers/sql.ts';
import { stepAt, totpCode } from '../helpers/totp.ts';

export { PASSWORD };

export interface TestApp {
  url: string;
  app: FastifyInstance;
  t: TestDatabase;
  /** Every log line the app wrote, as text. */
  logs: string[];
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  json: any;
}

/** Starts the app; generous rate limits unless the test sets its own. */
export async function startApp(
  options: Partial<AppOptions> = {},
  t?: TestDatabase,
): Promise<TestApp> {
  const db = t ?? (await openTestDatabase());
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = await buildApp({
    db: db.db,
    logger: { level: 'info', stream },
    rateLimit: {
      loginPerIp: 10_000,
      loginPerUser: 10_000,
      registerPerIp: 10_000,
      registerPerUser: 10_000,
      refreshPerIp: 10_000,
    },
    ...options,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    t: db,
    logs,
    async close() {
      await app.close();
      if (!t) await db.close();
    },
  };
}

/**
 * One app for the whole test file: started (then `setup` run on it) before its first test,
 * closed after its last. The object returned stands for it at once.
 */
export function useApp(
  options: Partial<AppOptions> = {},
  setup?: (a: TestApp) => Promise<void>,
): TestApp {
  return useFileFixture(
    'the app',
    async () => {
      const a = await startApp(options);
      await setup?.(a);
      return a;
    },
    (a) => a.close(),
  );
}

export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
  token?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request to the app (or any server at `url`), its body read and parsed when JSON. */
export async function call(
  a: Pick<TestApp, 'url'>,
  method: string,
  path: string,
  o: RequestOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  let body: string | undefined = o.body;
  if (o.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(o.form).toString();
  }
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  const res = await fetch(`${a.url}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Creates a user with roles directly in SQL (pgauth.create_user); returns its id. */
export function createUser(
  a: TestApp,
  username: string,
  roles: string[] = [],
  password = PASSWORD,
): Promise<string> {
  return createUserIn(a.t.db, username, roles, password);
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  user_id: string;
  session_id: string;
}

export async function login(a: TestApp, username: string, password = PASSWORD): Promise<Tokens> {
  const r = await call(a, 'POST', '/v1/login', { json: { username, password } });
  if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${r.text}`);
  return r.json as Tokens;
}

/** A new user with `roles` (created in SQL), logged in once over HTTP: its first session. */
export async function createSession(
  a: TestApp,
  username: string,
  roles: string[] = [],
): Promise<Tokens> {
  await createUser(a, username, roles);
  return login(a, username);
}

/**
 * A new user with `roles` and TOTP turned on over HTTP (enrolled, then confirmed with the code of
 * the previous time step, so the current and next steps stay unused): its id, secret and
 * recovery codes.
 */
export async function withTotp(a: TestApp, username: string, roles: string[] = []) {
  const userId = await createUser(a, username, roles);
  const { access_token } = await login(a, username);
  const enrol = await call(a, 'POST', '/v1/mfa/totp', { token: access_token });
  if (enrol.status !== 200) throw new Error(`TOTP enrolment failed: ${enrol.status} ${enrol.text}`);
  const secret = enrol.json.secret as string;
  const ok = await call(a, 'POST', '/v1/mfa/totp/confirm', {
    token: access_token,
    json: { code: totpCode(secret, stepAt() - 1) },
  });
  if (ok.status !== 200) throw new Error(`TOTP confirmation failed: ${ok.status} ${ok.text}`);
  return { userId, secret, recovery: ok.json.recovery_codes as string[], access_token };
}

/** An app with the helpers above bound to it, for a test file that talks to one app. */
export interface BoundApp {
  a: TestApp;
  call(method: string, path: string, o?: RequestOptions): Promise<Reply>;
  createUser(username: string, roles?: string[], password?: string): Promise<string>;
  login(username: string, password?: string): Promise<Tokens>;
  createSession(username: string, roles?: string[]): Promise<Tokens>;
}

/** The helpers bound to `a` (which may be useApp's stand-in, read only when they run). */
export function bindApp(a: TestApp): BoundApp {
  return {
    a,
    call: (method, path, o) => call(a, method, path, o),
    createUser: (username, roles, password) => createUser(a, username, roles, password),
    login: (username, password) => login(a, username, password),
    createSession: (username, roles) => createSession(a, username, roles),
  };
}

/** useApp, with the helpers bound to the file's app; `setup` gets them bound to it as well. */
export function useBoundApp(
  options: Partial<AppOptions> = {},
  setup?: (app: BoundApp) => Promise<void>,
): BoundApp {
  return bindApp(useApp(options, setup && ((a) => setup(bindApp(a)))));
}

/** Asserts the shape of every error body: exactly error and message. */
export function isErrorBody(r: Reply, code: string): boolean {
  return (
    r.json !== undefined &&
    r.json.error === code &&
    typeof r.json.message === 'string' &&
    Object.keys(r.json).length === 2
  );
}

/**
 * Writes `request` byte for byte on a new connection to the server of `url` (so that it may hold
 * what fetch refuses to send) and resolves with the answer as latin1 text: all of it once the
 * server closes the connection, or with `headOnly` its head (the text before the blank line) as
 * soon as that has arrived.
 */
export function rawExchange(
  url: string,
  request: string | Buffer,
  headOnly = false,
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      if (!headOnly || end < 0) return;
      socket.destroy();
      resolve(text.slice(0, end));
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
}

/** The status and the headers of the head of an HTTP/1.1 answer (rawExchange). */
export function parseHead(head: string): [number, Headers] {
  const [status, ...lines] = head.split('\r\n\r\n')[0]?.split('\r\n') ?? [];
  const headers = new Headers();
  for (const line of lines) {
    const i = line.indexOf(':');
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return [Number(status?.split(' ')[1]), headers];
}
