/**
 * The Express, Fastify and Hono middleware, each over real HTTP on an ephemeral port of
 * 127.0.0.1, with a validator that calls pgauth.validate on a fresh test database of the engine
 * under test. One suite runs against all three, so they keep one error contract.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { type Context, Hono } from 'hono';
import { AuthError, ERRORS } from '../../packages/client/src/errors.ts';
import type { AuthOptions } from '../../packages/client/src/middleware/common.ts';
import * as forExpress from '../../packages/client/src/middleware/express.ts';
import * as forFastify from '../../packages/client/src/middleware/fastify.ts';
import * as forHono from '../../packages/client/src/middleware/hono.ts';
import { serviceOperations } from '../../packages/client/src/operations.ts';
import type { Session, TokenValidator } from '../../packages/client/src/types.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { createUser, loginPair, withClock } from '../helpers/sql.ts';

const userIds = new Map<string, string>();
const t = useTestDatabase({
  async setup({ db }) {
    for (const [username, roles] of [
      ['mw_alice', []],
      ['mw_root', ['admin']],
      ['mw_olga', ['ops', 'reader']],
    ] as const) {
      userIds.set(username, await createUser(db, username, [...roles]));
    }
  },
});

// ---- fixtures: users, tokens and the validator on the test database --------------------------

interface Login {
  token: string;
  userId: string;
  sessionId: string;
}

async function login(username: string): Promise<Login> {
  const pair = await loginPair(t.db, username);
  return { token: pair.access_token, userId: pair.user_id, sessionId: pair.session_id };
}

/** Every token a database validator was asked about, in order. */
const asked: string[] = [];

/** What the SDK's SQL mode does, on the test database: its own pgauth.validate operation. */
function databaseValidator(): TokenValidator {
  return {
    async validate(token: string): Promise<Session | null> {
      asked.push(token);
      return serviceOperations(t.db).validate(token);
    },
  };
}

function throwingValidator(err: unknown): TokenValidator {
  return {
    validate: async () => {
      throw err;
    },
  };
}

// ---- the same service on each framework -------------------------------------------------------

interface Running {
  url: string;
  /** Every session a route handler received, in order. */
  seen: Session[];
  close(): Promise<void>;
}

interface Framework {
  name: string;
  start(validator: TokenValidator, options?: AuthOptions): Promise<Running>;
}

/** A framework's own middleware: `authenticate` (already given its validator) and the guards. */
interface Guards<H> {
  authenticate: H;
  requireRole(...roles: string[]): H;
  requireAal(level: 1 | 2): H;
}

/**
 * The guarded routes of every test service, each with the handlers in front of its reply: /me
 * (authenticated), /admin (role admin), /ops (admin or ops), /aal2 (a second factor), and
 * /guard-only and /aal-only (a guard without authenticate: a mistake that must fail closed).
 * Every service also has /public (open).
 */
function guardedRoutes<H>({ authenticate, requireRole, requireAal }: Guards<H>): [string, H[]][] {
  return [
    ['/me', [authenticate]],
    ['/admin', [authenticate, requireRole('admin')]],
    ['/ops', [authenticate, requireRole('admin', 'ops')]],
    ['/guard-only', [requireRole('admin')]],
    ['/aal2', [authenticate, requireAal(2)]],
    ['/aal-only', [requireAal(2)]],
  ];
}

/** What each route handler answers: the session it got, which it also records in `seen`. */
function respond(seen: Session[], session: Session | undefined): { status: number; body: object } {
  if (!session) return { status: 500, body: { error: 'the handler got no session' } };
  seen.push(session);
  return { status: 200, body: { userId: session.userId, roles: session.roles } };
}

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function closeServer(server: Server): Promise<void> {
  // fetch keeps connections alive; close them, or close() waits for their idle timeout.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const expressFramework: Framework = {
  name: 'Express',
  async start(validator, options) {
    const { authenticate, requireAal, requireRole } = forExpress;
    const seen: Session[] = [];
    const app = express();
    const reply = (req: express.Request, res: express.Response): void => {
      const r = respond(seen, req.auth);
      res.status(r.status).json(r.body);
    };
    app.get('/public', (_req, res) => {
      res.json({ public: true });
    });
    const guards = { authenticate: authenticate(validator, options), requireRole, requireAal };
    for (const [path, handlers] of guardedRoutes(guards)) app.get(path, ...handlers, reply);
    const server = createServer(app).listen(0, '127.0.0.1');
    return { url: await listen(server), seen, close: () => closeServer(server) };
  },
};

const fastifyFramework: Framework = {
  name: 'Fastify',
  async start(validator, options) {
    const seen: Session[] = [];
    const app = Fastify();
    await app.register(forFastify.pgauthPlugin, { validator, ...options });
    const reply = async (request: FastifyRequest, res: FastifyReply): Promise<object> => {
      const r = respond(seen, request.auth);
      res.code(r.status);
      return r.body;
    };
    app.get('/public', async () => ({ public: true }));
    // The plugin's decorators, as the routes of an app that registered it would use them.
    for (const [path, preHandler] of guardedRoutes(app)) app.get(path, { preHandler }, reply);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: await listen(app.server), seen, close: () => app.close() };
  },
};

const honoFramework: Framework = {
  name: 'Hono',
  async start(validator, options) {
    const { authenticate, requireAal, requireRole } = forHono;
    const seen: Session[] = [];
    const app = new Hono<forHono.AuthEnv>();
    const reply = (c: Context<forHono.AuthEnv>): Response => {
      const r = respond(seen, c.get('auth'));
      return c.json(r.body, r.status as 200 | 500);
    };
    app.get('/public', (c) => c.json({ public: true }));
    const guards = { authenticate: authenticate(validator, options), requireRole, requireAal };
    for (const [path, handlers] of guardedRoutes(guards)) app.on('GET', [path], ...handlers, reply);
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    return { url: await listen(server), seen, close: () => closeServer(server) };
  },
};

// ---- requests and the error contract ----------------------------------------------------------

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function get(s: Running, path: string, authorization?: string): Promise<Reply> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const res = await fetch(`${s.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The exact bytes of a registry error body: keys in this order, nothing else. */
function bodyOf(code: 'invalid_token' | 'forbidden' | 'insufficient_aal' | 'unavailable'): string {
  return JSON.stringify({ error: code, message: ERRORS[code].message });
}

function assertJson(r: Reply): void {
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
}

function assertInvalidToken(r: Reply): void {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.text, bodyOf('invalid_token'));
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  assertJson(r);
}

function assertForbidden(r: Reply): void {
  assert.equal(r.status, 403, r.text);
  assert.equal(r.text, bodyOf('forbidden'));
  assert.equal(r.headers.get('www-authenticate'), null);
  assertJson(r);
}

function assertUnavailable(r: Reply): void {
  assert.equal(r.status, 503, r.text);
  assert.equal(r.text, bodyOf('unavailable'));
  assert.equal(r.headers.get('retry-after'), '1');
  assertJson(r);
}

/** Asserts a 200 whose handler received exactly the session of `who`. */
async function assertReached(s: Running, r: Reply, who: Login, username: string): Promise<void> {
  assert.equal(r.status, 200, r.text);
  const session = s.seen.at(-1);
  assert.ok(session, 'the handler ran');
  assert.equal(session.userId, who.userId);
  assert.equal(session.userId, userIds.get(username));
  assert.equal(session.username, username);
  assert.equal(session.sessionId, who.sessionId);
  assert.ok(session.expiresAt instanceof Date && session.expiresAt.getTime() > Date.now());
  assert.deepEqual(JSON.parse(r.text), { userId: who.userId, roles: session.roles });
}

// ---- the suite, once per framework ------------------------------------------------------------

for (const framework of [expressFramework, fastifyFramework, honoFramework]) {
  describe(framework.name, () => {
    let s: Running;
    before(async () => {
      s = await framework.start(databaseValidator());
    });
    after(() => s.close());

    /** Runs a request and asserts that no route handler ran for it. */
    async function rejected(path: string, authorization?: string): Promise<Reply> {
      const before = s.seen.length;
      const r = await get(s, path, authorization);
      assert.equal(s.seen.length, before, 'the handler must not run');
      return r;
    }

    test('requireAal(2) passes a session of aal 2, answers 403 insufficient_aal to aal 1, 401 without authenticate', async () => {
      const alice = await login('mw_alice');
      const low = await rejected('/aal2', `Bearer ${alice.token}`);
      assert.equal(low.status, 403, low.text);
      assert.equal(low.text, bodyOf('insufficient_aal'));
      assertJson(low);
      await t.db.query('update pgauth.sessions set aal = 2 where id = $1', [alice.sessionId]);
      const high = await get(s, '/aal2', `Bearer ${alice.token}`);
      await assertReached(s, high, alice, 'mw_alice');
      assert.equal(s.seen.at(-1)?.aal, 2);
      assertInvalidToken(await rejected('/aal-only', `Bearer ${alice.token}`));
    });

    test('a public route answers without any token', async () => {
      const r = await get(s, '/public');
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { public: true });
    });

    test('a valid token reaches the handler with its userId, username, sessionId and roles', async () => {
      const alice = await login('mw_alice');
      const r = await get(s, '/me', `Bearer ${alice.token}`);
      await assertReached(s, r, alice, 'mw_alice');
      assert.deepEqual(s.seen.at(-1)?.roles, []);
      const olga = await login('mw_olga');
      await assertReached(s, await get(s, '/me', `Bearer ${olga.token}`), olga, 'mw_olga');
      assert.deepEqual([...(s.seen.at(-1)?.roles ?? [])].sort(), ['ops', 'reader']);
    });

    test('the Bearer scheme is matched case-insensitively (RFC 7235)', async () => {
      const alice = await login('mw_alice');
      await assertReached(s, await get(s, '/me', `bearer ${alice.token}`), alice, 'mw_alice');
    });

    test('a missing Authorization header is 401 invalid_token with WWW-Authenticate: Bearer', async () => {
      assertInvalidToken(await rejected('/me'));
    });

    test('a malformed Authorization header is 401 invalid_token, without asking the validator', async () => {
      const alice = await login('mw_alice');
      const askedBefore = asked.length;
      for (const header of [
        'Bearer',
        'Bearer ',
        `Bearer${alice.token}`,
        `Bearer ${alice.token} extra`,
        `${alice.token}`,
        `Bearer ${'x'.repeat(4097)}`,
      ]) {
        assertInvalidToken(await rejected('/me', header));
      }
      assert.equal(asked.length, askedBefore, 'a malformed header costs no validation');
      // The length cap is the gateway's (4096, room for a JWT): a token of exactly that length
      // is looked up.
      assertInvalidToken(await rejected('/me', `Bearer ${'x'.repeat(4096)}`));
      assert.equal(asked.at(-1), 'x'.repeat(4096));
    });

    test('another scheme is 401 invalid_token, even with a valid token in it', async () => {
      const alice = await login('mw_alice');
      assertInvalidToken(await rejected('/me', 'Basic bXdfYWxpY2U6cGFzc3dvcmQ='));
      assertInvalidToken(await rejected('/me', `Token ${alice.token}`));
      assertInvalidToken(await rejected('/me', `Basic ${alice.token}`));
    });

    test('a token in the query string is ignored: 401 invalid_token', async () => {
      const alice = await login('mw_alice');
      assertInvalidToken(await rejected(`/me?access_token=${alice.token}`));
    });

    test('an unknown token is 401 invalid_token', async () => {
      const alice = await login('mw_alice');
      assertInvalidToken(await rejected('/me', `Bearer pga_${'A'.repeat(43)}`));
      assertInvalidToken(await rejected('/me', `Bearer ${alice.token}x`));
    });

    test('a token after pgauth.logout is 401 invalid_token', async () => {
      const alice = await login('mw_alice');
      assert.equal((await get(s, '/me', `Bearer ${alice.token}`)).status, 200);
      await t.db.query('select pgauth.logout($1)', [alice.token]);
      assertInvalidToken(await rejected('/me', `Bearer ${alice.token}`));
    });

    test('an expired token (access_token_ttl passed) is 401 invalid_token', async () => {
      const alice = await login('mw_alice');
      await withClock(t.db, '16 minutes', async () => {
        assertInvalidToken(await rejected('/me', `Bearer ${alice.token}`));
      });
    });

    test('requireRole admin: a non-admin is 403 forbidden, an admin gets 200', async () => {
      const alice = await login('mw_alice');
      assertForbidden(await rejected('/admin', `Bearer ${alice.token}`));
      const olga = await login('mw_olga');
      assertForbidden(await rejected('/admin', `Bearer ${olga.token}`));
      const root = await login('mw_root');
      await assertReached(s, await get(s, '/admin', `Bearer ${root.token}`), root, 'mw_root');
      assert.deepEqual(s.seen.at(-1)?.roles, ['admin']);
    });

    test('requireRole admin with no or a bad token is 401 invalid_token, not 403', async () => {
      assertInvalidToken(await rejected('/admin'));
      assertInvalidToken(await rejected('/admin', 'Bearer nope'));
    });

    test('requireRole with several roles passes a session holding any one of them', async () => {
      const olga = await login('mw_olga');
      await assertReached(s, await get(s, '/ops', `Bearer ${olga.token}`), olga, 'mw_olga');
      const root = await login('mw_root');
      await assertReached(s, await get(s, '/ops', `Bearer ${root.token}`), root, 'mw_root');
      const alice = await login('mw_alice');
      assertForbidden(await rejected('/ops', `Bearer ${alice.token}`));
    });

    test('requireRole without authenticate before it fails closed: 401 even for an admin token', async () => {
      const root = await login('mw_root');
      assertInvalidToken(await rejected('/guard-only', `Bearer ${root.token}`));
    });

    test('a validator throwing AuthError unavailable is 503 unavailable with Retry-After: 1', async () => {
      const faults: unknown[] = [];
      const failing = await framework.start(throwingValidator(new AuthError('unavailable')), {
        onError: (err) => faults.push(err),
      });
      try {
        const root = await login('mw_root');
        assertUnavailable(await get(failing, '/me', `Bearer ${root.token}`));
        assertUnavailable(await get(failing, '/admin', `Bearer ${root.token}`));
        assert.equal(failing.seen.length, 0, 'the handler must not run');
        assert.equal(faults.length, 2);
        assert.ok(faults[0] instanceof AuthError && faults[0].code === 'unavailable');
        // No token means no validation: still 401, the validator is not asked.
        assertInvalidToken(await get(failing, '/me'));
        assert.equal(faults.length, 2);
      } finally {
        await failing.close();
      }
    });

    test('a validator throwing any other error is 503 unavailable, never 500, no stack in the body', async () => {
      const faults: unknown[] = [];
      const bug = new TypeError('secret detail at /srv/app/validator.ts:12');
      const failing = await framework.start(throwingValidator(bug), {
        onError: (err) => faults.push(err),
      });
      try {
        const root = await login('mw_root');
        const r = await get(failing, '/admin', `Bearer ${root.token}`);
        assertUnavailable(r);
        assert.doesNotMatch(r.text, /secret|validator\.ts|TypeError|stack/);
        assert.equal(failing.seen.length, 0, 'the handler must not run');
        assert.deepEqual(faults, [bug]);
      } finally {
        await failing.close();
      }
    });

    test('a reporter that throws does not change the 503', async () => {
      const failing = await framework.start(throwingValidator(new Error('down')), {
        onError: () => {
          throw new Error('the logger is broken');
        },
      });
      try {
        assertUnavailable(await get(failing, '/me', 'Bearer pga_whatever'));
      } finally {
        await failing.close();
      }
    });
  });
}

test('requireAal with a level other than 1 or 2 is refused when the route is declared', () => {
  for (const make of [forExpress.requireAal, forFastify.requireAal, forHono.requireAal]) {
    assert.throws(() => make(3 as 1), TypeError);
  }
});

test('requireRole with no role is refused when the route is declared', () => {
  for (const requireRole of [forExpress.requireRole, forFastify.requireRole, forHono.requireRole]) {
    assert.throws(() => requireRole(), /at least one role/);
    assert.throws(() => requireRole(''), /non-empty/);
  }
});
