/**
 * Malformed input over real HTTP (SECURITY.md 25, 26, 12). A fast-check generator sends more than
 * 10,000 malformed requests at every route of docs/http.md through raw sockets, so that what fetch
 * cannot express reaches the server too: invalid UTF-8, raw NUL bytes, headers over 16 KiB, broken
 * framing, 1 MB bodies, tokens in query strings. Every answer is checked: no 5xx (a 503 neither:
 * the database is up), a registry error body `{error, message}` with nothing of the server's
 * internals (the token endpoint's own refusals: RFC 6749 {error, error_description}), the right
 * content type. A fraction of the requests carries a real token, so that validation behind the
 * auth guard runs too. Afterwards the process is alive and no table of schema pgauth changed,
 * except the audit rows that well-formed requests with wrong credentials write, told by their
 * answers: failed logins and password-reset requests counted one by one, refused OAuth clients
 * at most one per refusal. The requests are invalid by construction: a route that could change
 * something only ever gets a body with a defect, an id or a name that does not exist, or a token
 * that is not valid there. ROUTES is checked against the OpenAPI document, so that no route is
 * left out of the run.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Database } from '../../packages/client/src/db/types.ts';
import { ERRORS } from '../../packages/client/src/errors.ts';
import {
  call,
  createUser,
  isErrorBody,
  login,
  PASSWORD,
  startApp,
  type Tokens,
  useApp,
} from '../http/helpers.ts';

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: one connection per request (Connection: close), any bytes at all.
// ---------------------------------------------------------------------------------------------

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Set when the connection ended without a complete response. */
  error?: string;
}

/** Parses one response out of `buf`, skipping 1xx interim responses; null until the head is in. */
function parseResponse(buf: Buffer): { reply: RawReply; complete: boolean } | null {
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
    if (status >= 100 && status < 200) {
      rest = rest.subarray(end + 4);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    let body = rest.subarray(end + 4);
    if (headers['transfer-encoding']?.includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const nl = body.indexOf('\r\n');
        const size = nl < 0 ? Number.NaN : Number.parseInt(body.subarray(0, nl).toString(), 16);
        if (Number.isNaN(size) || body.length < nl + 2 + size + 2) {
          return { reply: { status, headers, body: Buffer.concat(parts) }, complete: false };
        }
        if (size === 0)
          return { reply: { status, headers, body: Buffer.concat(parts) }, complete: true };
        parts.push(body.subarray(nl + 2, nl + 2 + size));
        body = body.subarray(nl + 2 + size + 2);
      }
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const n = Number(length);
      return { reply: { status, headers, body: body.subarray(0, n) }, complete: body.length >= n };
    }
    if (status === 204 || status === 304)
      return { reply: { status, headers, body }, complete: true };
    return { reply: { status, headers, body }, complete: false };
  }
}

/** Sends `request` on a fresh connection and reads one response (an event stream: its head). */
function rawRequest(port: number, request: Buffer, timeoutMs = 15_000): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = connect({ port, host: '127.0.0.1' });
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const p = parseResponse(Buffer.concat(chunks));
      if (p && (p.complete || error === undefined)) resolve(p.reply);
      else if (p) resolve({ ...p.reply, error: error ?? 'incomplete' });
      else
        resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: error ?? 'no response' });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const p = parseResponse(Buffer.concat(chunks));
      if (p?.complete || p?.reply.headers['content-type']?.startsWith('text/event-stream'))
        finish();
    });
    // The server may answer (413, 431) and close before it has read everything we send.
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('end', () => finish());
    socket.on('connect', () => socket.write(request));
  });
}

// ---------------------------------------------------------------------------------------------
// The routes of docs/http.md, with what each may receive without any side effect.
// ---------------------------------------------------------------------------------------------

type TokenKind = 'admin' | 'introspect' | 'plain';
const ALL: readonly TokenKind[] = ['admin', 'introspect', 'plain'];

/**
 * What a valid body would create or change, so that every body gets a defect of that kind: a
 * user, a service account, the policy settings.
 */
type Creates = 'user' | 'service-account' | 'settings';

interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  /** Body fields it reads. */
  fields: readonly string[];
  /** Query parameters it reads. */
  query?: readonly string[];
  /** Real tokens it may carry in Authorization without changing anything. */
  tokens: readonly TokenKind[];
  /** A valid body would create or change something: every body gets a defect. */
  creates?: Creates;
  /** A 2xx would change a table (only possible with a valid request: must never happen here). */
  mutates?: boolean;
  /** Body fields of which the schema takes exactly one: most bodies carry only one of them. */
  oneOf?: readonly string[];
  /** It takes form bodies (RFC 6749): most of its bodies are forms, some JSON or other types. */
  form?: boolean;
  /** Content type of its 2xx answers. */
  content: 'json' | 'text' | 'html' | 'stream';
}

function route(spec: string, fields: string[] = [], more: Partial<Route> = {}): Route {
  const [method, path] = spec.split(' ') as [Route['method'], string];
  return { method, path, fields, tokens: ALL, content: 'json', ...more };
}
const MUTATES = { mutates: true };

/** The policy settings PATCH /v1/admin/settings takes (a few of them: the generator's reach). */
const SETTINGS_FIELDS = [
  'bcrypt_cost',
  'password_min_length',
  'lockout_seconds',
  'lockout_max_seconds',
  'refresh_reuse_grace_seconds',
  'allow_registration',
  'totp_issuer',
  'access_token_format',
];

const ROUTES: readonly Route[] = [
  route('POST /v1/users', ['username', 'password', 'email'], { creates: 'user', mutates: true }),
  route('POST /v1/login', ['username', 'password'], MUTATES),
  route('POST /v1/login/mfa', ['challenge', 'code', 'recovery_code'], {
    oneOf: ['code', 'recovery_code'],
    mutates: true,
  }),
  route('POST /v1/refresh', ['refresh_token'], MUTATES),
  route('POST /v1/logout', [], { tokens: [], mutates: true }),
  route('GET /v1/session'),
  route('POST /v1/password', ['current_password', 'new_password'], {
    tokens: ['plain'],
    mutates: true,
  }),
  // Always 202: with no account matching (no fixture has an address), one audit row each, counted.
  route('POST /v1/password/forgot', ['email', 'username'], { oneOf: ['email', 'username'] }),
  route('POST /v1/password/reset', ['token', 'password'], MUTATES),
  // A real token: 400, as no fixture has an address to mail (checked at setup).
  route('POST /v1/email/verify/request', [], MUTATES),
  route('POST /v1/email/verify', ['token'], MUTATES),
  // Enrolment would store a secret with any real token: never one.
  route('POST /v1/mfa/totp', [], { tokens: [], mutates: true }),
  // No fixture has a factor, started or on: 409 with a real token, before any code is checked.
  route('POST /v1/mfa/totp/confirm', ['code'], MUTATES),
  route('DELETE /v1/mfa/totp', ['code'], MUTATES),
  route('GET /v1/auth/check'),
  route('GET /v1/revocations', [], { content: 'stream' }),
  route('POST /oauth2/introspect', ['token', 'token_type_hint']),
  route('POST /oauth2/revoke', ['token', 'token_type_hint']),
  // No service account exists (creating one always gets a defect): every client fails, audited.
  route('POST /oauth2/token', ['grant_type', 'scope', 'client_id', 'client_secret'], {
    form: true,
    mutates: true,
  }),
  route('GET /.well-known/jwks.json'),
  route('GET /.well-known/oauth-authorization-server'),
  route('GET /.well-known/openid-configuration'),
  route('GET /v1/admin/users', [], { query: ['limit', 'offset', 'q', 'after'] }),
  route('POST /v1/admin/users', ['username', 'password', 'email', 'roles'], {
    creates: 'user',
    mutates: true,
  }),
  route('GET /v1/admin/users/:id'),
  route('DELETE /v1/admin/users/:id', [], MUTATES),
  route('POST /v1/admin/users/:id/lock', ['until', 'reason'], MUTATES),
  route('POST /v1/admin/users/:id/unlock', [], MUTATES),
  route('DELETE /v1/admin/users/:id/mfa', [], MUTATES),
  route('POST /v1/admin/users/:id/password', ['password'], MUTATES),
  route('POST /v1/admin/users/:id/roles/:role', [], MUTATES),
  route('DELETE /v1/admin/users/:id/roles/:role', [], MUTATES),
  route('GET /v1/admin/users/:id/sessions'),
  route('DELETE /v1/admin/users/:id/sessions', [], MUTATES),
  // 200 {revoked: false} for a session that is not live: no session id is ever a real one.
  route('DELETE /v1/admin/sessions/:id'),
  route('GET /v1/admin/audit', [], {
    query: ['user_id', 'event', 'since', 'until', 'after', 'limit'],
  }),
  route('GET /v1/admin/stats/logins', [], { query: ['hours'] }),
  route('GET /v1/admin/settings'),
  route('PATCH /v1/admin/settings', SETTINGS_FIELDS, { creates: 'settings', mutates: true }),
  route('GET /v1/admin/revocations', [], { content: 'stream' }),
  route('GET /v1/admin/service-accounts'),
  route('POST /v1/admin/service-accounts', ['name', 'roles'], {
    creates: 'service-account',
    mutates: true,
  }),
  // No service account exists: every :name is unknown.
  route('POST /v1/admin/service-accounts/:name/disable', [], MUTATES),
  route('GET /v1/admin/service-accounts/:name/api-keys'),
  route('POST /v1/admin/service-accounts/:name/api-keys', ['name', 'expires_at'], MUTATES),
  route('DELETE /v1/admin/api-keys/:id', [], MUTATES),
  route('GET /healthz'),
  route('GET /readyz'),
  route('GET /metrics', [], { content: 'text' }),
  route('GET /openapi.json'),
  route('GET /docs', [], { content: 'html' }),
  // The admin console's page (a 404 with a registry body when the console is not built).
  route('GET /console', [], { content: 'html' }),
];

/** Routes that are not in the OpenAPI document, on purpose. */
const UNDOCUMENTED = new Set(['GET /metrics', 'GET /docs', 'GET /console']);

// ---------------------------------------------------------------------------------------------
// Fixtures: three accounts whose tokens some requests carry. Their names appear in no generator.
// ---------------------------------------------------------------------------------------------

const FIXTURE_NAMES = ['hb-admin-fixture', 'hb-introspect-fixture', 'hb-plain-fixture'];
let port: number;
const tokens = {} as Record<TokenKind, Tokens>;
const fixtureIds: string[] = [];

// Warnings and errors only: two info lines per request would cost a third of the run.
const a = useApp(
  { logger: { level: 'warn', stream: new Writable({ write: (_c, _e, cb) => cb() }) } },
  async (app) => {
    port = Number(new URL(app.url).port);
    const roles: Record<TokenKind, string[]> = {
      admin: ['admin'],
      introspect: ['introspect'],
      plain: [],
    };
    for (const [i, kind] of ALL.entries()) {
      const name = FIXTURE_NAMES[i] ?? '';
      fixtureIds.push(await createUser(app, name, roles[kind]));
      tokens[kind] = await login(app, name);
    }
    // Without an address, a fixture gets no mail: POST /v1/email/verify/request with its token is
    // a 400, and POST /v1/password/forgot naming it matches no account (one audit row, counted).
    const mailable = await app.t.db.query<{ n: number }>(
      'select count(*)::int as n from pgauth.users where email is not null',
    );
    assert.equal(mailable.rows[0]?.n, 0, 'no account has an email address');
  },
);

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

/** Quotes, comments, SQL, escapes, look-alikes: one a line. */
const SQL_META = `'
''
"
;
--
/*
\\
%
_
$$
' or 1=1 --
'; drop table pgauth.users; --
admin'--
') union select password_hash from pgauth.users --
$$; select pg_sleep(5); $$
\\x00
%27
%00
\u2018 or \u20181\u2019=\u20191
\uff07 or 1=1
1; select pg_sleep(5)
{{7*7}}
<script>alert(1)</script>
../../etc/passwd
null
NaN
1e309
-1`.split('\n');

const controlChars = fc.string({
  unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 6,
});

/** Strings that are wrong somewhere: odd characters, SQL, control characters, over any limit. */
const junk: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(...SQL_META),
  fc
    .tuple(fc.string({ maxLength: 6 }), controlChars, fc.string({ maxLength: 6 }))
    .map(([x, y, z]) => x + y + z),
  fc.constantFrom(65, 101, 255, 257, 513, 1025, 4097, 12_000).map((n) => 'x'.repeat(n)),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ufeff', '\u202e'),
);

const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(junk, { maxLength: 3 }),
  fc.dictionary(junk, junk, { maxKeys: 2 }),
);

const two = (n: number): string => String(n).padStart(2, '0');

/** `arb` once in `n` draws, null otherwise. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/** One of the keys of `weights`, each drawn in proportion to its weight. */
const weighted = <K extends string>(weights: Record<K, number>): fc.Arbitrary<K> =>
  fc.oneof(
    ...(Object.entries(weights) as [K, number][]).map(([k, weight]) => ({
      weight,
      arbitrary: fc.constant(k),
    })),
  );

/** Mostly `valid`, sometimes `invalid`. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: 10, arbitrary: valid }, { weight: 1, arbitrary: invalid });

/** RFC 3339-ish times, most of them valid for the schema, with every UTC offset up to ±23:59. */
const dateTime: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        y: mostly(fc.integer({ min: 1970, max: 2999 }), fc.integer({ min: 0, max: 9999 })),
        mo: mostly(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 99 })),
        d: mostly(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 39 })),
        h: mostly(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 99 })),
        mi: mostly(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 99 })),
        s: mostly(fc.integer({ min: 0, max: 59 }), fc.constantFrom(60, 61, 99)),
        frac: fc.option(fc.integer({ min: 0, max: 999_999_999 }), { nil: undefined }),
        sep: fc.constantFrom('T', 't', ' '),
        tz: fc.oneof(
          { weight: 1, arbitrary: fc.constantFrom('Z', 'z', '') },
          {
            weight: 3,
            arbitrary: fc
              .tuple(
                fc.constantFrom('+', '-'),
                fc.noBias(fc.integer({ min: 0, max: 23 })),
                fc.integer({ min: 0, max: 59 }),
              )
              .map(([sign, h, m]) => `${sign}${two(h)}:${two(m)}`),
          },
        ),
      })
      .map(
        (t) =>
          `${String(t.y).padStart(4, '0')}-${two(t.mo)}-${two(t.d)}${t.sep}${two(t.h)}:${two(t.mi)}:${two(t.s)}${t.frac === undefined ? '' : `.${t.frac}`}${t.tz}`,
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity', 'now', 'epoch', 'today') },
  { weight: 1, arbitrary: junk },
);

const tokenLike = fc
  .tuple(
    fc.constantFrom('pga_', 'pgr_', 'pgk_', 'pgm_', 'pgs_', ''),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/),
  )
  .map(([p, s]) => p + s);
const roleName = fc.stringMatching(/^[a-z][a-z0-9_.:-]{0,12}$/);
/** A service account name as the schema takes it (none exists), or nearly. */
const accountName = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,20}$/);
const totpCode = fc.oneof(
  fc.stringMatching(/^[0-9]{6}$/),
  fc.stringMatching(/^[0-9]{5,8}$/),
  fc.constantFrom('000000', '123456', ' 12345', '12345\u0000', '１２３４５６'),
);
/** Integers around the ranges of the settings, a few of them well outside. */
const settingInt = fc.oneof(
  fc.integer({ min: -2, max: 400 }),
  fc.constantFrom(0, 4, 16, 17, 30, 1800, 86_400, 2_147_483_647, 2_147_483_648, 1e20, -1e20),
);

/** A plausible value of each body field (so that some requests pass the schema), or junk. */
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  username: fc.stringMatching(/^[a-z][a-z0-9._ -]{0,20}$/),
  password: fc.string({ minLength: 12, maxLength: 40, unit: 'grapheme' }),
  current_password: fc.string({ minLength: 12, maxLength: 40 }),
  new_password: fc.string({ minLength: 12, maxLength: 40 }),
  email: fc.emailAddress(),
  refresh_token: tokenLike,
  token: tokenLike,
  token_type_hint: fc.constantFrom('access_token', 'refresh_token', ''),
  roles: fc.array(fc.oneof(roleName, junk), { maxLength: 4 }),
  until: dateTime,
  reason: fc.string({ maxLength: 40 }),
  challenge: tokenLike,
  code: totpCode,
  recovery_code: fc.oneof(fc.stringMatching(/^[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]{2}$/), totpCode),
  name: accountName,
  expires_at: dateTime,
  grant_type: fc.constantFrom(
    'client_credentials',
    'client_credentials',
    'password',
    'CLIENT_CREDENTIALS',
    '',
  ),
  scope: fc.oneof(
    fc.array(roleName, { minLength: 1, maxLength: 3 }).map((r) => r.join(' ')),
    fc.constantFrom('', ' ', 'a  b', 'bad"scope', 'a\\b'),
  ),
  client_id: fc.oneof(accountName, fc.constantFrom('x', 'hb-admin-fixture')),
  client_secret: tokenLike,
  bcrypt_cost: settingInt,
  password_min_length: settingInt,
  lockout_seconds: settingInt,
  lockout_max_seconds: settingInt,
  refresh_reuse_grace_seconds: settingInt,
  allow_registration: fc.oneof(fc.boolean(), fc.constantFrom('true', 'false', 0, 1)),
  totp_issuer: fc.string({ maxLength: 70 }),
  access_token_format: fc.constantFrom('opaque', 'jwt', 'JWT', 'pgs', ''),
};
const FIELD_NAMES = Object.keys(PLAUSIBLE);

const fieldValue = (name: string): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: PLAUSIBLE[name] ?? junk },
    { weight: 4, arbitrary: junk },
    { weight: 1, arbitrary: wrongType },
  );

const fieldsArb = fc.record(
  Object.fromEntries(
    FIELD_NAMES.map((n) => [n, fc.option(fieldValue(n), { freq: 6, nil: undefined })]),
  ) as Record<string, fc.Arbitrary<unknown>>,
);

/** Query values: integers of every kind for limit/offset, times, ids, tokens, junk. */
const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -5, max: 20_000 }).map(String),
  fc.constantFrom('0', '-1', '10001', '2147483647', '2147483648', '1e3', '1.5', '0x10', '', ' 1'),
  dateTime,
  fc.uuid(),
  tokenLike,
  junk,
);

const SECRET_KEYS =
  'token access_token refresh_token password client_secret Token ACCESS_TOKEN id_token code_verifier assertion new_password x-token'.split(
    ' ',
  );

/**
 * An `after` cursor: what the API hands out (base64url of JSON [key, id]) with junk inside, or
 * anything else at all.
 */
const cursor: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(junk, fc.constant('hb')),
      fc.oneof(fc.uuid(), fc.integer().map(String), fc.constantFrom('9'.repeat(30), '-1'), junk),
    )
    .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc
    .oneof(fc.jsonValue({ maxDepth: 2 }), fc.array(junk, { maxLength: 3 }))
    .map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url')),
  junk,
);

type QueryPart = { key: string; value: string | TokenKind; secret: boolean };
const queryPart: fc.Arbitrary<QueryPart> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      key: fc.constantFrom('limit', 'offset', 'since', 'user_id', 'q', 'after', 'hours', 'until'),
      value: queryValue,
      secret: fc.constant(false),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      key: fc.constantFrom(...SECRET_KEYS),
      value: fc.oneof(fc.constantFrom<TokenKind>(...ALL), tokenLike),
      secret: fc.constant(true),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      key: junk.filter((k) => !/token|password|secret|assertion|code_verifier/i.test(k)),
      value: junk,
      secret: fc.constant(false),
    }),
  },
);

type IdChoice =
  | { kind: 'random'; uuid: string }
  | { kind: 'fixture'; index: number }
  | { kind: 'text'; text: string }
  | { kind: 'raw'; raw: string };
const asText = (text: string): IdChoice => ({ kind: 'text', text });
const asRaw = (raw: string): IdChoice => ({ kind: 'raw', raw });
const idArb: fc.Arbitrary<IdChoice> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.uuid({ version: 4 }).map((uuid) => ({ kind: 'random', uuid }) as const),
  },
  { weight: 2, arbitrary: fc.nat(2).map((index) => ({ kind: 'fixture', index }) as const) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        junk,
        fc.uuid().map((u) => u.toUpperCase()),
        fc.uuid().map((u) => u.replaceAll('-', '')),
        fc.constantFrom('00000000-0000-0000-0000-000000000000', `{${'0'.repeat(32)}}`),
      )
      .map(asText),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('%', '%ZZ', '%E0%A4%A', '%C0%AF', '%00', 'x'.repeat(150), `${'%41'.repeat(60)}`)
      .map(asRaw),
  },
);
/**
 * A name in a path: names of the `valid` kind and junk (by the weights given), now and then one
 * of `raw` sent as it stands (badly escaped, too long).
 */
function nameIn(
  valid: fc.Arbitrary<string>,
  weights: { valid: number; junk: number },
  raw: string[],
): fc.Arbitrary<IdChoice> {
  return fc.oneof(
    { weight: weights.valid, arbitrary: valid.map(asText) },
    { weight: weights.junk, arbitrary: junk.map(asText) },
    { weight: 1, arbitrary: fc.constantFrom(...raw).map(asRaw) },
  );
}
const nameArb = nameIn(accountName, { valid: 4, junk: 2 }, [
  '%',
  '%ZZ',
  '%FF',
  'n'.repeat(120),
  'a%2Fb',
]);
const roleArb = nameIn(roleName, { valid: 3, junk: 3 }, ['%', '%ZZ', '%FF', 'r'.repeat(120)]);

type Auth =
  | { kind: 'none' }
  | { kind: 'real'; which: TokenKind; form: number }
  | { kind: 'altered'; which: TokenKind; how: number }
  | { kind: 'junk'; value: string };
const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' } as const) },
  {
    weight: 4,
    arbitrary: fc
      .record({ which: fc.constantFrom<TokenKind>(...ALL), form: fc.nat(2) })
      .map((r) => ({ kind: 'real', ...r }) as const),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ which: fc.constantFrom<TokenKind>(...ALL), how: fc.nat(2) })
      .map((r) => ({ kind: 'altered', ...r }) as const),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        junk.map((j) => `Bearer ${j}`),
        junk,
        tokenLike.map((t) => `Bearer ${t}`),
        fc.constantFrom('Bearer', 'Bearer ', 'Basic eDp5', 'Bearer pga_a pga_b', 'bearer\tpga_x'),
        fc.constant(`Bearer pga_${'A'.repeat(600)}`),
        // HTTP Basic, which only /oauth2/token reads (client_id:client_secret, each form-encoded).
        fc
          .tuple(fc.oneof(accountName, junk), fc.oneof(tokenLike, junk), fc.nat(3))
          .map(([id, secret, how]) => {
            const pair =
              how === 0 ? `${id}${secret}` : `${pct(id)}:${how === 1 ? secret : pct(secret)}`;
            return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
          }),
      )
      .map((value) => ({ kind: 'junk', value }) as const),
  },
);

const headerArb: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.constantFrom(
    'x-request-id',
    'user-agent',
    'x-forwarded-for',
    'accept',
    'accept-encoding',
    'cookie',
    'x-junk',
    'origin',
    'expect',
    'content-encoding',
  ),
  fc.oneof(junk, fc.constantFrom('100-continue', 'gzip', '1.2.3.4, ::1', '*/*')),
);

/** How a body is sent, and how often: well-formed, or broken in one way. */
const ENCODINGS = {
  json: 12,
  form: 6,
  none: 6,
  ctype: 3, // JSON under another content type
  truncated: 3,
  utf8: 4, // invalid UTF-8 bytes inserted
  nul: 2, // raw NUL bytes inserted
  toplevel: 2, // JSON that is not an object
  empty: 1,
  garbage: 2, // random bytes
  deep: 1, // nesting 5,000 deep
  proto: 1, // __proto__ and constructor.prototype
  huge: 1, // 1 MiB
};
type Encoding = keyof typeof ENCODINGS;
/** Encodings that send the body exactly as built. */
const WHOLE: readonly Encoding[] = ['json', 'form', 'ctype', 'huge', 'none'];

/** Routes whose answers tell the audit rows they wrote, which the run counts. */
const COUNTED = new Set(['/v1/login', '/v1/password/forgot', '/oauth2/token']);

/** Ways to bend a path; none most of the time. */
const TWISTS: Record<string, (p: string) => string> = {
  'trailing-slash': (p) => `${p}/`,
  'double-slash': (p) => p.replace('/', '//'),
  upper: (p) => p.toUpperCase(),
  'dot-segment': (p) => p.replace(/\/([^/]*)$/, '/./$1'),
  'encoded-slash': (p) => p.replace(/\/([^/]*)$/, '%2F$1'),
  'raw-nul': (p) => `${p}\u0000x`,
  'raw-high': (p) => `${p}\u00ff\u00fe`,
  space: (p) => `${p} x`,
  semicolon: (p) => `${p};jsessionid=1`,
  fragment: (p) => `${p}#frag`,
  'absolute-form': (p) => `http://127.0.0.1:${port}${p}`,
  backslash: (p) => p.replaceAll('/', '\\'),
};

/**
 * Defects a body of a service-account-creating route, or of a settings change, always carries:
 * structural ones (a missing or foreign field, a value of no type the schema could coerce, no
 * field at all) survive any encoding; the others (a name the pattern refuses, a pair of settings
 * the database refuses) only bodies sent whole.
 */
const OTHER_DEFECTS: Record<
  'service-account' | 'settings',
  { structural: string[]; semantic: string[] }
> = {
  'service-account': {
    structural: ['missing-name', 'object-name', 'foreign-field'],
    semantic: ['bad-name'],
  },
  settings: {
    structural: ['object-setting', 'foreign-field', 'no-field'],
    semantic: ['setting-out-of-range', 'lockout-pair'],
  },
};

/** Defects a body of a user-creating route always carries, so that it never creates one. */
const STRUCTURAL = ['missing-username', 'missing-password', 'object-username', 'object-password'];
const SEMANTIC = [
  'short-password',
  'common-password',
  'space-username',
  'control-username',
  'uuid-username',
  'bad-email',
  'bad-role',
];

const recipeArb = fc.record({
  route: fc.noBias(fc.nat(ROUTES.length - 1)),
  method: rarely(
    fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO'),
    8,
  ),
  twist: rarely(fc.constantFrom(...Object.keys(TWISTS)), 30),
  id: idArb,
  role: roleArb,
  name: nameArb,
  query: fc.oneof(
    { weight: 3, arbitrary: fc.constant<QueryPart[]>([]) },
    { weight: 2, arbitrary: fc.array(queryPart, { minLength: 1, maxLength: 3 }) },
  ),
  rawQuery: rarely(
    fc.oneof(
      fc.constantFrom('?', '??', '?&&=', '?%', '?=x', '?a=%ZZ', '?a b'),
      junk.map((j) => `?${j}`),
    ),
    10,
  ),
  /** Values of the route's own query parameters, when present. */
  routeQuery: fc.record({
    limit: fc.option(mostly(fc.integer({ min: 1, max: 10_000 }).map(String), queryValue), {
      nil: undefined,
    }),
    offset: fc.option(mostly(fc.nat(1000).map(String), queryValue), { nil: undefined }),
    since: fc.option(dateTime, { nil: undefined }),
    until: fc.option(dateTime, { nil: undefined }),
    user_id: fc.option(mostly(fc.uuid({ version: 4 }), queryValue), { nil: undefined }),
    q: fc.option(fc.oneof(fc.stringMatching(/^[a-z@._-]{0,8}$/), junk), { nil: undefined }),
    after: fc.option(cursor, { freq: 2, nil: undefined }),
    event: fc.option(
      fc.oneof(fc.constantFrom('login_failure', 'login_success', 'mfa_reset', ''), junk),
      { nil: undefined },
    ),
    hours: fc.option(mostly(fc.integer({ min: 1, max: 168 }).map(String), queryValue), {
      nil: undefined,
    }),
  }),
  auth: authArb,
  /** On an admin route, a real token is the admin's more often than not. */
  adminBias: fc.boolean(),
  headers: fc.oneof(
    { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 1, arbitrary: fc.array(headerArb, { minLength: 1, maxLength: 2 }) },
  ),
  huge: rarely(fc.integer({ min: 17_000, max: 40_000 }), 60),
  encoding: weighted(ENCODINGS),
  /** On a route that takes forms, a JSON body is a form three times in four. */
  formFirst: fc.nat(3).map((n) => n > 0),
  bodyOnGet: fc.nat(5).map((n) => n === 0),
  fields: fieldsArb,
  defect: fc.constantFrom(...STRUCTURAL, ...SEMANTIC),
  /** Which defect a service account or a settings change carries (taken modulo their count). */
  otherDefect: fc.nat(99),
  /** Which field of a oneOf stays, and whether a token request names its grant type right. */
  pick: fc.nat(99),
  weak: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 11 }),
    fc.constantFrom('qazwsxedcrfv', 'HB-Plain-Fixture', 'x'.repeat(1025), ''),
  ),
  cut: fc.double({ min: 0, max: 0.999, noNaN: true }),
  inserts: fc.array(
    fc.tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom(
        [0xff],
        [0xfe],
        [0xc3, 0x28],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88],
        [0xc0, 0xaf],
        [0x80],
      ),
    ),
    { minLength: 1, maxLength: 3 },
  ),
  framing: weighted({ length: 12, chunked: 2, short: 1, both: 1 }),
  ctype: fc.constantFrom(
    'text/plain',
    'application/xml',
    'multipart/form-data; boundary=x',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'APPLICATION/JSON',
    'application/jsonx',
    'application/x-www-form-urlencoded',
    '',
    '*/*',
  ),
  toplevel: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.array(junk, { maxLength: 3 })),
  garbage: fc.uint8Array({ maxLength: 200 }),
});
type Recipe = typeof recipeArb extends fc.Arbitrary<infer R> ? R : never;

// ---------------------------------------------------------------------------------------------
// From a recipe to the bytes of one request.
// ---------------------------------------------------------------------------------------------

type Framing = Recipe['framing'];
type BodySpec =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string | null; framing: Framing }
  | { kind: 'huge'; form: boolean; framing: Framing };

interface Probe {
  /** The documented route it reaches (method and pattern), or null for none. */
  route: Route | null;
  /** The route it was built for (another method may reach another route, or none). */
  aimed: Route;
  method: string;
  target: string;
  headers: [string, string][];
  body: BodySpec;
  /** The real token in Authorization, if any. */
  real: TokenKind | null;
  secretQuery: boolean;
  hugeHeader: boolean;
}

/** Percent-encodes the UTF-8 bytes of `s` (lone surrogates become U+FFFD, never a throw). */
function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A header value as bytes on the wire: latin1, no CR or LF (control characters stay). */
function latin1(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c !== 0x0d && c !== 0x0a && c <= 0xff) out += ch;
  }
  return out;
}

const toForm = (obj: Record<string, unknown>): string =>
  Object.entries(obj)
    .flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map(
        (x) => `${pct(k)}=${pct(typeof x === 'string' ? x : (JSON.stringify(x) ?? ''))}`,
      ),
    )
    .join('&');

function insertBytes(
  body: Buffer,
  inserts: readonly (readonly [number, readonly number[]])[],
): Buffer {
  let out = body;
  for (const [at, bytes] of inserts) {
    const i = Math.floor(at * out.length);
    out = Buffer.concat([out.subarray(0, i), Buffer.from(bytes), out.subarray(i)]);
  }
  return out;
}

/** The body fields of `route`, with the defect a user-creating route must carry. */
function bodyFields(
  route: Route | null,
  r: Recipe,
  byteSafe: boolean,
  form: boolean,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const f of route?.fields ?? []) {
    if (r.fields[f] !== undefined) fields[f] = r.fields[f];
  }
  if (route?.oneOf && r.pick % 4 !== 0) {
    const keep = route.oneOf[r.pick % route.oneOf.length];
    for (const f of route.oneOf) if (f !== keep) delete fields[f];
  }
  // Most token requests name the one grant type, so that many reach the database.
  if (route?.form && r.pick % 3 !== 0) fields.grant_type = 'client_credentials';
  if (route?.form && r.pick % 5 < 2) delete fields.scope;
  // A few foreign fields too (the schemas drop or refuse them); half as many on the routes above,
  // whose bodies pass their schemas rarely enough already.
  const fewer = (route?.oneOf !== undefined || route?.form === true) && r.pick % 2 === 1;
  if (r.fields.reason !== undefined && !route?.fields.includes('reason') && !fewer) {
    fields.x_extra = r.fields.reason;
  }
  if (route?.path === '/v1/login' && typeof fields.username === 'string') {
    // Never an existing account: a failed login of one would change its row.
    if (FIXTURE_NAMES.some((n) => (fields.username as string).toLowerCase().includes(n.slice(3)))) {
      fields.username = `z${fields.username}`;
    }
  }
  if (route?.creates === 'service-account' || route?.creates === 'settings') {
    const { structural, semantic } = OTHER_DEFECTS[route.creates];
    const choices = byteSafe ? [...structural, ...semantic] : structural;
    const defect = choices[r.otherDefect % choices.length];
    const setting = SETTINGS_FIELDS[r.otherDefect % SETTINGS_FIELDS.length] ?? 'bcrypt_cost';
    const apply: Record<string, () => void> = {
      'missing-name': () => delete fields.name,
      'object-name': () => {
        fields.name = form ? ['x', 'y'] : { nested: fields.name ?? 'x' };
      },
      'foreign-field': () => {
        fields.x_defect = fields.x_extra ?? 1;
      },
      'bad-name': () => {
        fields.name = `Bad ${typeof fields.name === 'string' ? fields.name : 'name'}`;
      },
      'object-setting': () => {
        fields[setting] = form ? ['1', '2'] : { nested: fields[setting] ?? 1 };
      },
      'no-field': () => {
        for (const k of Object.keys(fields)) delete fields[k];
      },
      'setting-out-of-range': () => {
        fields.bcrypt_cost = 99;
      },
      'lockout-pair': () => {
        // Both in range: the database refuses the pair (the maximum under the base).
        fields.lockout_seconds = 600;
        fields.lockout_max_seconds = 60;
        for (const k of ['bcrypt_cost', 'password_min_length', 'refresh_reuse_grace_seconds']) {
          delete fields[k];
        }
      },
    };
    if (defect) apply[defect]?.();
  }
  if (route?.creates === 'user') {
    // Byte-altering encodings may break a semantic defect (a short password grows when bytes are
    // inserted), never a structural one.
    const defect = byteSafe || STRUCTURAL.includes(r.defect) ? r.defect : 'missing-password';
    const apply: Record<string, () => void> = {
      'missing-username': () => delete fields.username,
      'missing-password': () => delete fields.password,
      // A form has no objects: a key twice is its wrong type (an array of two strings).
      'object-username': () => {
        fields.username = form ? ['x', 'y'] : { nested: fields.username ?? 'x' };
      },
      'object-password': () => {
        fields.password = form ? ['x', 'y'] : { nested: fields.password ?? 'x' };
      },
      'short-password': () => {
        fields.password = r.weak.length > 0 && r.weak.length < 12 ? r.weak : 'short';
      },
      'common-password': () => {
        fields.password = 'qazwsxedcrfv';
      },
      'space-username': () => {
        fields.username = ` ${typeof fields.username === 'string' ? fields.username : 'x'}`;
      },
      'control-username': () => {
        fields.username = `a\u0001${typeof fields.username === 'string' ? fields.username : 'x'}`;
      },
      'uuid-username': () => {
        fields.username = '0f8fad5b-d9cb-469f-a165-70867728950e';
      },
      'bad-email': () => {
        fields.email = 'no-at-sign';
      },
      'bad-role': () => {
        if (route.fields.includes('roles')) fields.roles = ['Bad Role'];
        else delete fields.password;
      },
    };
    apply[defect]?.();
  }
  return fields;
}

function buildProbe(r: Recipe): Probe {
  const aimed = ROUTES[r.route] ?? ROUTES[0];
  if (!aimed) throw new Error('no routes');
  const method = r.method ?? aimed.method;
  // The route the request really reaches (same path, maybe another method), or none.
  const route = ROUTES.find((x) => x.path === aimed.path && x.method === method) ?? null;

  // Path: parameters filled in, perhaps twisted.
  const param = (choice: IdChoice): string => {
    switch (choice.kind) {
      case 'random':
        return fixtureIds.includes(choice.uuid)
          ? '7b0d8a3e-0000-4000-8000-000000000000'
          : choice.uuid;
      case 'fixture':
        // An existing account only where nothing can change it.
        return method === 'GET'
          ? (fixtureIds[choice.index] ?? '')
          : '7b0d8a3e-0000-4000-8000-000000000001';
      case 'text':
        return pct(choice.text);
      case 'raw':
        return choice.raw;
    }
  };
  let path = aimed.path
    .replace(':id', param(r.id))
    .replace(':role', param(r.role))
    .replace(':name', param(r.name));
  const twist = r.twist === null ? undefined : TWISTS[r.twist];
  if (twist) path = twist(path);

  // Query string, maybe with a credential in it.
  const own = (aimed.query ?? []).flatMap((k) => {
    const v = r.routeQuery[k as keyof Recipe['routeQuery']];
    return v === undefined ? [] : [`${k}=${pct(v)}`];
  });
  const parts = r.query.map((q) => {
    const v =
      typeof q.value === 'string' && !ALL.includes(q.value as TokenKind)
        ? q.value
        : tokens[q.value as TokenKind].access_token;
    return `${pct(q.key)}=${pct(v)}`;
  });
  parts.unshift(...own);
  let target = path + (parts.length ? `?${parts.join('&')}` : '');
  if (r.rawQuery !== null) target += latin1(r.rawQuery);
  const secretQuery = r.query.some((q) => q.secret);

  // Authorization.
  const headers: [string, string][] = [];
  let real: TokenKind | null = null;
  let auth = r.auth;
  if (auth.kind === 'real' && r.adminBias && aimed.path.startsWith('/v1/admin/')) {
    auth = { ...auth, which: 'admin' };
  }
  // The token endpoint reads Basic only: a Bearer token there is a malformed header, so half the
  // requests it would go with carry none, to reach the client check.
  if (aimed.form && (auth.kind === 'real' || auth.kind === 'altered') && r.pick % 2 === 0) {
    auth = { kind: 'none' };
  }
  if (auth.kind === 'real' && !(route?.tokens ?? ALL).includes(auth.which)) {
    auth = { kind: 'altered', which: auth.which, how: auth.form };
  }
  if (auth.kind === 'real') {
    real = auth.which;
    const t = tokens[auth.which].access_token;
    headers.push([
      'authorization',
      [`Bearer ${t}`, `bearer ${t}`, `Bearer   ${t}  `][auth.form] ?? '',
    ]);
  } else if (auth.kind === 'altered') {
    const t = tokens[auth.which].access_token;
    const altered = [`${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`, t.slice(0, -1), `${t}x`];
    headers.push(['authorization', `Bearer ${altered[auth.how] ?? ''}`]);
  } else if (auth.kind === 'junk') {
    headers.push(['authorization', latin1(auth.value)]);
  }
  for (const [k, v] of r.headers) headers.push([k, latin1(v)]);
  if (r.huge !== null) headers.push(['x-pad', 'p'.repeat(r.huge)]);

  // Body.
  let body: BodySpec = { kind: 'none' };
  const wantsBody = method !== 'GET' || r.bodyOnGet;
  // The password route with a real token: the right current password and a weak new one, so
  // that the call reaches pgauth.change_password and fails there without counting a failure.
  const passwordWithToken = route?.path === '/v1/password' && real !== null;
  let encoding: Encoding = wantsBody ? r.encoding : 'none';
  if (route?.form && encoding === 'json' && r.formFirst) encoding = 'form';
  let framing = r.framing;
  // A short Content-Length leaves bytes the parser refuses as a next request, and its 400 can
  // overtake the answer of a call that ran: what writes an audit row must be seen to be counted.
  if (route && COUNTED.has(route.path) && framing === 'short') framing = 'length';
  if (passwordWithToken || route?.creates) {
    // Encodings that alter bytes could change the current password (a counted failure) or
    // break a defect of a form body: only whole bodies here.
    if (encoding === 'form' || passwordWithToken) {
      if (!WHOLE.includes(encoding)) encoding = 'json';
      if (framing === 'short') framing = 'length';
    }
  }
  const byteSafe = WHOLE.includes(encoding) && framing !== 'short';
  const fields = passwordWithToken
    ? { current_password: PASSWORD, new_password: r.weak }
    : bodyFields(route, r, byteSafe, encoding === 'form');
  const json = Buffer.from(JSON.stringify(fields));
  const bytes = (b: Buffer, contentType: string | null): BodySpec => ({
    kind: 'bytes',
    bytes: b,
    contentType,
    framing,
  });
  switch (encoding) {
    case 'none':
      break;
    case 'json':
      body = bytes(json, 'application/json');
      break;
    case 'form':
      body = bytes(Buffer.from(toForm(fields)), 'application/x-www-form-urlencoded');
      break;
    case 'ctype':
      body = bytes(json, r.ctype || null);
      break;
    case 'truncated':
      body = bytes(json.subarray(0, Math.floor(r.cut * json.length)), 'application/json');
      break;
    case 'utf8':
      body = bytes(insertBytes(json, r.inserts), 'application/json');
      break;
    case 'nul':
      body = bytes(
        insertBytes(
          json,
          r.inserts.map(([at]) => [at, [0]]),
        ),
        'application/json',
      );
      break;
    case 'toplevel':
      body = bytes(Buffer.from(JSON.stringify(r.toplevel) ?? 'null'), 'application/json');
      break;
    case 'empty':
      body = bytes(Buffer.alloc(0), 'application/json');
      break;
    case 'garbage':
      body = bytes(Buffer.from(r.garbage), 'application/json');
      break;
    case 'deep':
      body = bytes(Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`), 'application/json');
      break;
    case 'proto':
      body = bytes(
        Buffer.from(
          `{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},${json.subarray(1)}`,
        ),
        'application/json',
      );
      break;
    case 'huge':
      body = { kind: 'huge', form: r.cut < 0.5, framing: framing === 'short' ? 'length' : framing };
      break;
  }
  return {
    route,
    aimed,
    method,
    target,
    headers,
    body,
    real,
    secretQuery,
    hugeHeader: r.huge !== null,
  };
}

/** A body of about 1 MiB: one field of a million characters. */
function hugeBody(form: boolean): { bytes: Buffer; contentType: string } {
  const big = 'a'.repeat(1024 * 1024);
  return form
    ? {
        bytes: Buffer.from(`username=x&password=${big}`),
        contentType: 'application/x-www-form-urlencoded',
      }
    : {
        bytes: Buffer.from(JSON.stringify({ username: 'x', password: big })),
        contentType: 'application/json',
      };
}

function serialize(p: Probe): Buffer {
  const lines = [
    `${p.method} ${p.target} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    'connection: close',
  ];
  for (const [k, v] of p.headers) lines.push(`${k}: ${v}`);
  let payload: Uint8Array = Buffer.alloc(0);
  if (p.body.kind !== 'none') {
    let contentType: string | null;
    if (p.body.kind === 'huge') {
      const h = hugeBody(p.body.form);
      payload = h.bytes;
      contentType = h.contentType;
    } else {
      payload = p.body.bytes;
      contentType = p.body.contentType;
    }
    if (contentType !== null) lines.push(`content-type: ${contentType}`);
    switch (p.body.framing) {
      case 'length':
        lines.push(`content-length: ${payload.length}`);
        break;
      case 'short':
        lines.push(`content-length: ${Math.floor(payload.length / 2)}`);
        break;
      case 'both':
      case 'chunked': {
        if (p.body.framing === 'both') lines.push(`content-length: ${payload.length}`);
        lines.push('transfer-encoding: chunked');
        const head = Buffer.from(`${payload.length.toString(16)}\r\n`);
        payload = Buffer.concat([
          ...(payload.length ? [head, payload, Buffer.from('\r\n')] : []),
          Buffer.from('0\r\n\r\n'),
        ]);
        break;
      }
    }
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

// ---------------------------------------------------------------------------------------------
// What every answer must be.
// ---------------------------------------------------------------------------------------------

const CODES = new Set(Object.keys(ERRORS));

/** Traces of the server's insides in a body: stack frames, SQLSTATEs, SQL, paths. */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\n\s+at |\bat (?:async )?[\w.<>]+ \(|\.[jt]s:\d+:\d+/],
  [
    'a SQLSTATE',
    // A driver error serialised ("code":"22P02"), or pgauth's own five letters. Bare digits would
    // match the microseconds of a time (".22008+00:00").
    /sqlstate|SQLSTATE|"code"\s*:\s*"[0-9A-Z]{5}"|\b(?:BADIN|WEAKP|NOUSR|TAKEN|REGOF)\b/,
  ],
  ['SQL text', /\bselect\s|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+\S+\s+set\b|\$[1-9]\b/i],
  ['a pgauth object', /pgauth\./i],
  ['node_modules', /node_modules/],
  [
    'a server error text',
    /syntax error|invalid input syntax|violates|relation "|does not exist|duplicate key|invalid byte sequence|out of range/i,
  ],
  ['a file path', /\/work\/|\/src\/|file:\/\//],
];

const CONTENT: Record<Route['content'], RegExp> = {
  json: /^application\/json/,
  text: /^text\/plain/,
  html: /^text\/html/,
  stream: /^text\/event-stream/,
};

/** The rules every answer keeps; each is one subtest of the run. */
const RULES = {
  status: 'every request is answered, never with a 5xx',
  errors:
    'every error is {error, message} ({error, error_description} from the token endpoint) with a registry code, as application/json',
  leaks: 'no body holds a stack, a SQLSTATE, SQL, a pgauth object or a path',
  refusals: 'a credential in the query string, or headers over 16 KiB, are refused',
  success:
    'no 2xx from a route that changes state; 2xx with their content type, API answers no-store',
} as const;
type Rule = keyof typeof RULES;

/** The broken rules of one answer; empty when it is as it must be. */
function violations(p: Probe, reply: RawReply, requestText: string): [Rule, string][] {
  const out: [Rule, string][] = [];
  const s = reply.status;
  if (s === 0) return [['status', `no response (${reply.error})`]];
  if (reply.error && reply.error !== 'incomplete')
    out.push(['status', `connection ${reply.error}`]);
  if (s >= 500) out.push(['status', `status ${s}`]);
  // The parser stops at the first fault: a broken request line is 400 before headers are read.
  if (p.hugeHeader && s !== 431 && s !== 400) {
    out.push(['refusals', `headers over 16 KiB answered ${s}`]);
  }
  // Node answers 417 to an Expect it does not know, and the router 414 to an over-long path
  // parameter, before any hook looks at the query.
  if (p.secretQuery && ![400, 414, 417, 431].includes(s)) {
    out.push(['refusals', `a credential in the query answered ${s}`]);
  }
  if (s >= 200 && s < 300 && p.route?.mutates) {
    out.push(['success', `${s} from a route that changes state`]);
  }
  const type = reply.headers['content-type'] ?? '';
  const text = reply.body.toString('utf8');
  if (s >= 400) {
    if (!/^application\/json/.test(type)) {
      out.push(['errors', `error content-type ${JSON.stringify(type)}`]);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      out.push(['errors', 'error body is not JSON']);
    }
    if (body !== undefined) {
      const keys = typeof body === 'object' && body !== null ? Object.keys(body).sort() : [];
      const code = (body as { error?: unknown }).error;
      // The token endpoint's own refusals are RFC 6749 §5.2 {error, error_description}; what the
      // router and the body parsers refuse before it runs keeps the registry's shape.
      const shapes =
        p.route?.path === '/oauth2/token'
          ? ['error,message', 'error,error_description']
          : ['error,message'];
      if (!shapes.includes(keys.join())) {
        out.push(['errors', `error body keys ${JSON.stringify(keys)}`]);
      } else if (typeof code !== 'string' || !CODES.has(code)) {
        out.push(['errors', `error code ${JSON.stringify(code)} is not in the registry`]);
      } else if (
        ERRORS[code as keyof typeof ERRORS].status !== s &&
        !([414, 417, 431].includes(s) && code === 'bad_request')
      ) {
        out.push(['errors', `error ${code} with status ${s}`]);
      }
    }
  } else if (s >= 200 && s < 300 && s !== 204) {
    const expected = p.route && p.body.kind !== 'huge' ? CONTENT[p.route.content] : /./;
    if (!expected.test(type)) out.push(['success', `${s} content-type ${JSON.stringify(type)}`]);
  }
  const apiPath = /^\/(v1|oauth2)\//.test(p.target);
  if (apiPath && s < 400 && reply.headers['cache-control'] !== 'no-store') {
    out.push(['success', `cache-control ${JSON.stringify(reply.headers['cache-control'])}`]);
  }
  if (s >= 400 || (apiPath && p.route?.content === 'json')) {
    // The request itself, also percent-decoded: what a body reflects of it is a shape problem
    // (caught above), not a leak of the server's insides.
    const decoded = Buffer.from(
      requestText.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) =>
        String.fromCharCode(Number.parseInt(h, 16)),
      ),
      'latin1',
    ).toString('utf8');
    for (const [what, re] of LEAKS) {
      if (re.test(text) && !re.test(requestText) && !re.test(decoded)) {
        out.push(['leaks', `body holds ${what}`]);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Snapshot of every table of schema pgauth.
// ---------------------------------------------------------------------------------------------

interface Snapshot {
  tables: Map<string, string>;
  auditMaxId: number;
  auditHash: string;
}

async function snapshot(db: Database): Promise<Snapshot> {
  const names = (
    await db.query<{ name: string }>(
      `select c.relname as name from pg_class c
       where c.relnamespace = 'pgauth'::regnamespace and c.relkind in ('r', 'p') order by 1`,
    )
  ).rows.map((r) => r.name);
  assert.ok(names.includes('users') && names.includes('audit_log'), names.join());
  const tables = new Map<string, string>();
  for (const name of names) {
    // Catalog names, not input: checked anyway, since they go into the SQL text.
    assert.match(name, /^[a-z_]+$/);
    // The audit log is compared apart; rate_limits counts attempts (migration 0011), which is
    // what a flood of logins should change.
    if (name === 'audit_log' || name === 'rate_limits') continue;
    const r = await db.query<{ n: number; h: string }>(
      `select count(*)::int as n, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as h
       from pgauth.${name} t`,
    );
    tables.set(name, `${r.rows[0]?.n}:${r.rows[0]?.h}`);
  }
  const audit = await db.query<{ max: number; h: string }>(
    `select coalesce(max(id), 0)::int as max,
            coalesce(md5(string_agg(t::text, '|' order by t.id)), '') as h
     from pgauth.audit_log t`,
  );
  return { tables, auditMaxId: audit.rows[0]?.max ?? 0, auditHash: audit.rows[0]?.h ?? '' };
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------

const BATCHES = Number(process.env.PGAUTH_FUZZ_BATCHES ?? 510);
const BATCH_SIZE = 20;
const SEED = Number(process.env.PGAUTH_FUZZ_SEED ?? Date.now() % 2_147_483_647);

/**
 * Whether an answer to a request with a real token came from behind the auth guard: the route ran
 * (2xx), or its SQL call refused the input (the generic message of a SQLSTATE, a NOUSR, a WEAKP).
 */
function pastGuard(reply: RawReply): boolean {
  if (reply.status >= 200 && reply.status < 300) return true;
  const text = reply.body.toString('utf8');
  return (
    text === JSON.stringify({ error: 'invalid_input', message: ERRORS.invalid_input.message }) ||
    /"error":"(user_not_found|username_taken|password_[a-z_]+)"/.test(text)
  );
}

test('10,000 malformed requests at every route of docs/http.md', {
  timeout: 300_000,
}, async (t) => {
  const before = await snapshot(a.t.db);
  const statuses = new Map<number, number>();
  const perRoute = new Map<string, number>();
  /** Each broken rule and text: how often, on which routes, and the first request that showed it. */
  const found = new Map<
    string,
    { rule: Rule; count: number; routes: Map<string, number>; example: string }
  >();
  let sent = 0;
  let withToken = 0;
  let behindGuard = 0;
  let failedLogins = 0;
  let resetRequests = 0;
  let clientFailures = 0;
  const started = performance.now();
  // Recipes are drawn in batches, each of its own seed; BATCH_SIZE requests are in flight at any
  // time (a new one starts as soon as one is answered, so a slow answer holds up no batch).
  let drawn: { batch: number; recipes: Recipe[] } | null = null;
  const recipeAt = (n: number): Recipe => {
    const batch = Math.floor(n / BATCH_SIZE);
    if (drawn?.batch !== batch) {
      // Seeds of batches far apart, so that two runs with nearby seeds share no batch.
      const seed = Math.imul(batch + 1, 2_654_435_761) ^ SEED;
      drawn = { batch, recipes: fc.sample(recipeArb, { numRuns: BATCH_SIZE, seed }) };
    }
    const recipe = drawn.recipes[n % BATCH_SIZE];
    if (!recipe) throw new Error(`no recipe ${n}`);
    return recipe;
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: BATCH_SIZE }, async () => {
      for (let n = next++; n < BATCHES * BATCH_SIZE; n = next++) {
        const recipe = recipeAt(n);
        const probe = buildProbe(recipe);
        const request = serialize(probe);
        const reply = await rawRequest(port, request);
        sent++;
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        const label = probe.route
          ? `${probe.route.method} ${probe.route.path}`
          : `${probe.method} (no route)`;
        perRoute.set(label, (perRoute.get(label) ?? 0) + 1);
        if (probe.real) withToken++;
        if (probe.real && pastGuard(reply)) behindGuard++;
        const text = reply.body.toString('utf8');
        // What may write an audit row, told by its answer: a login of an unknown account, a reset
        // request (always 202), a client that does not authenticate (or never reached the database:
        // the same 401, so an upper bound).
        const aimedAt = probe.aimed.path;
        if (
          aimedAt === '/v1/login' &&
          reply.status === 401 &&
          text.includes('"invalid_credentials"')
        )
          failedLogins++;
        if (aimedAt === '/v1/password/forgot' && reply.status === 202) resetRequests++;
        if (
          aimedAt === '/oauth2/token' &&
          reply.status === 401 &&
          text.includes('"invalid_client"')
        )
          clientFailures++;
        const requestText = request.toString('latin1');
        for (const [rule, v] of violations(probe, reply, requestText)) {
          const seen = found.get(v) ?? {
            rule,
            count: 0,
            routes: new Map<string, number>(),
            example: `${requestText.slice(0, 400).replaceAll('\r\n', '\\r\\n')} => ${reply.status} ${text.slice(0, 300)}`,
          };
          seen.count++;
          seen.routes.set(label, (seen.routes.get(label) ?? 0) + 1);
          found.set(v, seen);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(
    `seed ${SEED}: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s)`,
  );
  t.diagnostic(
    `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`,
  );
  t.diagnostic(
    `with a real token: ${withToken}, answered from behind the guard: ${behindGuard}; failed logins: ${failedLogins}, reset requests: ${resetRequests}, clients refused: ${clientFailures}`,
  );
  t.diagnostic(`per route ${JSON.stringify(Object.fromEntries([...perRoute].sort()))}`);
  assert.ok(sent >= Math.min(10_000, BATCHES * BATCH_SIZE), `only ${sent} requests`);
  assert.ok(perRoute.size > ROUTES.length, 'every route was aimed at, and other methods too');

  for (const [rule, name] of Object.entries(RULES) as [Rule, string][]) {
    await t.test(name, () => {
      const broken = [...found].filter(([, v]) => v.rule === rule);
      const report = broken
        .map(
          ([k, v]) =>
            `${v.count}× ${k}\n    on ${[...v.routes].map(([r, n]) => `${r} (${n})`).join(', ')}\n    e.g. ${v.example}`,
        )
        .join('\n');
      assert.equal(broken.length, 0, `seed ${SEED}:\n${report}`);
    });
  }

  await t.test('one request in twenty reached SQL behind the auth guard with a real token', () => {
    assert.ok(behindGuard >= sent / 20, `only ${behindGuard} of ${sent}`);
  });

  await t.test("the process is alive and the fixtures' sessions are intact", async () => {
    const health = await call(a, 'GET', '/healthz');
    assert.equal(health.status, 200);
    for (const kind of ALL) {
      const s = await call(a, 'GET', '/v1/session', { token: tokens[kind].access_token });
      assert.equal(s.status, 200, `the ${kind} session`);
    }
  });

  await t.test(
    'no pgauth table changed, except the audit rows of failed logins, reset requests and refused clients (and the attempt counts)',
    async () => {
      const after = await snapshot(a.t.db);
      const changed = [...before.tables]
        .filter(([k, v]) => after.tables.get(k) !== v)
        .map(([k]) => k);
      assert.deepEqual(changed, [], 'tables that changed');
      const old = await a.t.db.query<{ h: string }>(
        `select coalesce(md5(string_agg(t::text, '|' order by t.id)), '') as h
       from pgauth.audit_log t where t.id <= $1`,
        [before.auditMaxId],
      );
      assert.equal(old.rows[0]?.h, before.auditHash, 'no audit row changed');
      const added = await a.t.db.query<{
        event: string;
        detail: string;
        anonymous: boolean;
        n: number;
      }>(
        `select event,
                case when event = 'client_authentication_failed'
                     then (select string_agg(k, ',' order by k) from jsonb_object_keys(detail) k)
                     else detail::text end as detail,
                user_id is null as anonymous, count(*)::int as n
       from pgauth.audit_log where id > $1 group by 1, 2, 3 order by 1, 2`,
        [before.auditMaxId],
      );
      const rows = (event: string, detail: string, n: number) =>
        n ? [{ event, detail, anonymous: true, n }] : [];
      // Each refused client that reached the database is one row naming the client_id; the
      // others were refused before (no credentials, a bad scope): at most one row per 401.
      const clients = added.rows.find((r) => r.event === 'client_authentication_failed');
      assert.ok(
        (clients?.n ?? 0) <= clientFailures,
        `${clients?.n} rows of refused clients, ${clientFailures} answers`,
      );
      assert.deepEqual(added.rows, [
        ...rows('client_authentication_failed', 'client_id', clients?.n ?? 0),
        ...rows('login_failure', '{"reason": "unknown_user"}', failedLogins),
        ...rows('password_reset_requested', '{"matched": false}', resetRequests),
      ]);
    },
  );
});

test('the run aims at every route of the OpenAPI document, and at no route that is gone', async () => {
  const doc = (await call(a, 'GET', '/openapi.json')).json as {
    paths: Record<string, Record<string, unknown>>;
  };
  const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.has(m))
        .map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    ),
  );
  assert.ok(documented.size > 40, `only ${documented.size} operations in the document`);
  const aimed = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
  assert.equal(aimed.size, ROUTES.length, 'no route twice in ROUTES');
  const missing = [...documented].filter((r) => !aimed.has(r)).sort();
  assert.deepEqual(missing, [], 'documented routes the run never aims at: add them to ROUTES');
  const gone = [...aimed].filter((r) => !documented.has(r) && !UNDOCUMENTED.has(r)).sort();
  assert.deepEqual(gone, [], 'routes in ROUTES that the document does not name');
});

// ---------------------------------------------------------------------------------------------
// Deterministic cases: each names one class of input the run above also sends.
// ---------------------------------------------------------------------------------------------

/** One raw request with a JSON-or-not body; the reply and its body parsed when it is JSON. */
async function raw(
  method: string,
  target: string,
  headers: [string, string][] = [],
  body?: Buffer,
): Promise<RawReply & { json: unknown }> {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body) lines.push(`content-length: ${body.length}`);
  const reply = await rawRequest(
    port,
    Buffer.concat([
      Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'),
      body ?? Buffer.alloc(0),
    ]),
  );
  let json: unknown;
  try {
    json = JSON.parse(reply.body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { ...reply, json };
}

test('requests the router, the HTTP parser or a body parser refuses still answer 4xx with a registry error body', async () => {
  const admin = ['authorization', `Bearer ${tokens.admin.access_token}`] as [string, string];
  const nobody = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const cases: [string, () => Promise<RawReply & { json: unknown }>][] = [
    ['a malformed percent-encoding in :id', () => raw('GET', '/v1/admin/users/%E0%A4%A', [admin])],
    [
      'a malformed percent-encoding in :role',
      () => raw('POST', `/v1/admin/users/${nobody}/roles/%ZZ`, [admin]),
    ],
    [
      'a path parameter over 100 characters',
      () => raw('GET', `/v1/admin/users/${'a'.repeat(150)}`, [admin]),
    ],
    ['a raw NUL byte in the path', () => raw('GET', '/v1/session\u0000x')],
    ['headers over 16 KiB', () => raw('GET', '/v1/session', [['x-pad', 'p'.repeat(20_000)]])],
    ['an Expect other than 100-continue', () => raw('GET', '/v1/session', [['expect', 'x']])],
    [
      'Content-Length with Transfer-Encoding',
      () =>
        raw(
          'POST',
          '/v1/login',
          [
            ['content-type', 'application/json'],
            ['transfer-encoding', 'chunked'],
          ],
          Buffer.from('0\r\n\r\n'),
        ),
    ],
    // The token endpoint's error schema once dropped the message of these: {"error": "…"} alone.
    [
      'a form body that is not UTF-8, at the token endpoint',
      () =>
        raw(
          'POST',
          '/oauth2/token',
          [['content-type', 'application/x-www-form-urlencoded']],
          Buffer.from([0x67, 0x3d, 0xff]),
        ),
    ],
    [
      'JSON that does not parse, at the token endpoint',
      () =>
        raw(
          'POST',
          '/oauth2/token',
          [['content-type', 'application/json']],
          Buffer.from('{"grant_type":'),
        ),
    ],
    [
      'a credential in the query string of the token endpoint',
      () =>
        raw(
          'POST',
          '/oauth2/token?client_secret=pgk_x',
          [['content-type', 'application/x-www-form-urlencoded']],
          Buffer.from('grant_type=client_credentials'),
        ),
    ],
  ];
  const wrong: string[] = [];
  for (const [what, send] of cases) {
    const r = await send();
    const body = r.json as { error?: string } | undefined;
    const ok =
      r.status >= 400 &&
      r.status < 500 &&
      /^application\/json/.test(r.headers['content-type'] ?? '') &&
      body !== undefined &&
      Object.keys(body).sort().join() === 'error,message' &&
      CODES.has(body.error ?? '') &&
      !r.body.toString().includes('/v1/');
    if (!ok) wrong.push(`${what}: ${r.status} ${r.body.toString().slice(0, 160)}`);
  }
  assert.deepEqual(
    wrong,
    [],
    'each answer is {error, message} with a registry code, echoing nothing',
  );
});

test('a time with a UTC offset beyond ±15:59 is 400 invalid_input, not 500 (since, until)', async () => {
  const token = tokens.admin.access_token;
  const nobody = '0f8fad5b-d9cb-469f-a165-70867728950e';
  for (const time of ['2020-01-01T00:00:00+23:00', '2020-01-01T00:00:00-16:00']) {
    const audit = await call(a, 'GET', `/v1/admin/audit?since=${encodeURIComponent(time)}`, {
      token,
    });
    assert.equal(audit.status, 400, `since=${time}: ${audit.status} ${audit.text}`);
    assert.ok(isErrorBody(audit, 'invalid_input'), audit.text);
    const lock = await call(a, 'POST', `/v1/admin/users/${fixtureIds[2]}/lock`, {
      token,
      json: { until: time.replace('2020', '2999') },
    });
    assert.equal(lock.status, 400, `until=${time}: ${lock.status} ${lock.text}`);
    assert.ok(isErrorBody(lock, 'invalid_input'), lock.text);
    const ghost = await call(a, 'POST', `/v1/admin/users/${nobody}/lock`, {
      token,
      json: { until: time.replace('2020', '2999') },
    });
    assert.ok(ghost.status === 400 || ghost.status === 404, `${ghost.status} ${ghost.text}`);
  }
  const u = await a.t.db.query<{ locked_until: Date | null }>(
    'select locked_until from pgauth.users where id = $1',
    [fixtureIds[2]],
  );
  assert.equal(u.rows[0]?.locked_until, null, 'the account was not locked');
});

test('invalid UTF-8 in a JSON or form body is 400 and never becomes a password', async () => {
  const bytes = (...parts: (string | number[])[]): Buffer =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  const json: [string, string] = ['content-type', 'application/json'];
  const form: [string, string] = ['content-type', 'application/x-www-form-urlencoded'];
  const users = async (): Promise<number> =>
    (await a.t.db.query<{ n: number }>('select count(*)::int as n from pgauth.users')).rows[0]?.n ??
    -1;
  const count = await users();
  const register = await raw(
    'POST',
    '/v1/users',
    [json],
    bytes('{"username":"hb-utf8","password":"a valid prefix ', [0xff], '"}'),
  );
  // Had it been stored, U+FFFD would stand for every invalid byte: another byte would log in.
  const other = await raw(
    'POST',
    '/v1/login',
    [json],
    bytes('{"username":"hb-utf8","password":"a valid prefix ', [0xfe], '"}'),
  );
  const formRegister = await raw(
    'POST',
    '/v1/users',
    [form],
    bytes('username=hb-utf8-form&password=a+valid+prefix+', [0xc3, 0x28]),
  );
  const revoke = await raw(
    'POST',
    '/oauth2/revoke',
    [form],
    bytes('token=pga_', [0xed, 0xa0, 0x80]),
  );
  const statuses = [register, other, formRegister, revoke].map((r) => r.status);
  assert.notEqual(other.status, 200, 'a password with another invalid byte logged in');
  // A form body is refused outright (415) outside the OAuth routes, before it is decoded.
  assert.deepEqual(
    statuses,
    [400, 400, 415, 400],
    [register, other, formRegister, revoke].map((r) => r.body.toString()).join('\n'),
  );
  for (const r of [register, other, formRegister, revoke]) {
    const code = (r.json as { error?: string }).error;
    assert.ok(
      code === 'invalid_input' || code === 'bad_request' || code === 'unsupported_media_type',
      String(code),
    );
  }
  assert.equal(await users(), count, 'no user was created');
});

test('a 1 MB password is refused before any hashing, on every route that takes one', async () => {
  // A body limit of 2 MiB lets the password reach the schema. The schema's refusal names the field
  // (the route's handler, the only caller of the database, never ran) and the audit log is
  // unchanged (no login, registration or password change was attempted).
  const b = await startApp({ bodyLimit: 2 * 1024 * 1024 }, a.t);
  try {
    const big = 'p'.repeat(1024 * 1024);
    const audit = async (): Promise<number> =>
      (await a.t.db.query<{ n: number }>('select count(*)::int as n from pgauth.audit_log')).rows[0]
        ?.n ?? -1;
    const auditBefore = await audit();
    const admin = tokens.admin.access_token;
    const cases: [string, string, Record<string, unknown>, string | undefined][] = [
      ['/v1/users', 'password', { username: 'hb-big', password: big }, undefined],
      ['/v1/login', 'password', { username: FIXTURE_NAMES[2], password: big }, undefined],
      ['/v1/login', 'username', { username: big, password: PASSWORD }, undefined],
      [
        '/v1/password',
        'current_password',
        { current_password: big, new_password: `${PASSWORD}!` },
        tokens.plain.access_token,
      ],
      [
        '/v1/password',
        'new_password',
        { current_password: PASSWORD, new_password: big },
        tokens.plain.access_token,
      ],
      ['/v1/admin/users', 'password', { username: 'hb-big', password: big }, admin],
      [`/v1/admin/users/${fixtureIds[2]}/password`, 'password', { password: big }, admin],
    ];
    for (const [path, field, json, token] of cases) {
      const r = await call(b, 'POST', path, { json, token });
      assert.equal(r.status, 400, `${path} ${field}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(isErrorBody(r, 'invalid_input'), r.text);
      assert.match(r.json.message, new RegExp(`body\\.${field}`));
    }
    assert.equal(await audit(), auditBefore, 'no login was attempted, nothing was audited');
  } finally {
    await b.close();
  }
});

test('a credential in the query string is refused before the route runs, on every route', async () => {
  const plain = await login(a, FIXTURE_NAMES[2] ?? '');
  const admin = tokens.admin.access_token;
  for (const route of ROUTES) {
    const path = route.path
      .replace(':id', fixtureIds[2] ?? '')
      .replace(':role', 'editor')
      .replace(':name', 'no-such-account');
    for (const key of ['access_token', 'token', 'Refresh_Token', 'password', 'client_secret']) {
      const r = await call(
        a,
        route.method,
        `${path}?${key}=${encodeURIComponent(plain.access_token)}`,
        {
          token: route.path === '/v1/logout' ? plain.access_token : admin,
          json: route.method === 'GET' ? undefined : {},
        },
      );
      assert.equal(r.status, 400, `${route.method} ${path}?${key}: ${r.status}`);
      assert.ok(isErrorBody(r, 'bad_request'), r.text);
      if (/^\/(v1|oauth2)\//.test(path)) {
        assert.equal(r.headers.get('cache-control'), 'no-store', `${route.method} ${path}`);
      }
    }
  }
  // Logout with the token in the query and in the header: refused, so the session lives.
  const s = await call(a, 'GET', '/v1/session', { token: plain.access_token });
  assert.equal(s.status, 200, 'the route did not run');
  const g = await call(a, 'GET', `/v1/admin/users/${fixtureIds[2]}`, { token: admin });
  assert.equal(g.json.locked_until, null, 'lock did not run');
});
