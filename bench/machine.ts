/** Scenario `machine`: the API-key validation path (pgauth.validate of a pgk_ key, 100,000 keys)
 * vs the session path it sits beside (100,000 sessions), over pgbench (≥ 0.9); and the SDK's
 * validation of a JWT access token (signature checked with cached keys, jti from the cache) vs
 * of an opaque token from the same cache, in this process (info). */
import { randomBytes } from 'node:crypto';
import { createAuthClient } from '@pgauth/client';
import { callsPerSecond, measureGroup, type RunContext, type Side, timing } from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `pgauth.validate of API keys vs sessions (pgbench); SDK JWT vs opaque validation, cached`;
const KEYS = `select * from pgauth.validate('pgk_' || …), 100,000 live API keys`;
const SESSIONS = `select * from pgauth.validate('pga_' || …), 100,000 live sessions`;
const JWT = 'await client.validate(jwt): ES256 signature with cached keys, jti from the cache';
const NOTE = 'last_used_at set to infinity: the once-a-minute write is not measured';
const OPAQUE = 'await client.validate(opaque token) answered by the cache';

export async function run(ctx: RunContext) {
  const t = timing(ctx, 8, 2);
  const b = await pg.createDatabase(ctx, 'machine');
  ctx.log(`database ${b.name}: 100,000 sessions, 100,000 API keys`);
  await pg.insertSessions(ctx, b, [1, 1e5]);
  await b.db.query(`select pgauth.create_service_account('bench', '{member}')`);
  await b.db.query(
    `insert into pgauth.api_keys (kind, service_account_id, name, key_hash, account_name, roles,
       last_used_at)
     select 'api_key', a.id, 'k' || i, pgauth._token_hash(${pg.tokenSql('i', 'pgk_')}),
       a.name, a.roles, 'infinity'
     from pgauth.service_accounts a, generate_series(1, 100000) i`,
  );
  await b.db.exec('vacuum (analyze) pgauth.sessions, pgauth.api_keys, pgauth.users');
  await b.db.exec('checkpoint');
  const common = { url: b.url, clients: 4 };
  const keys: [string, string] = ['keys.sql', pg.validateScript(1e5, 'pgk_')];
  const sessions: [string, string] = ['sessions.sql', pg.validateScript(1e5)];
  await measureGroup(ctx, {
    unit: 'tps',
    sides: [
      pg.pgbenchSide(ctx, 'validate(API key)', { ...common, script: keys }, t),
      pg.pgbenchSide(ctx, 'validate(session)', { ...common, script: sessions }, t),
    ],
    rows: [['validate: API key vs session token', [0, KEYS], [1, SESSIONS], 0.9]],
    settings: { ...pg.pgbenchSettings(4, t.runs), note: NOTE },
  });

  // A JWT client and an opaque token, both validated by one SDK client with its cache. The
  // gateway's signer makes its first signing key (ES256) for the first token it signs.
  const kek = randomBytes(32);
  const { buildApp } = await import('../packages/pgauth/src/server/app.ts');
  const app = await buildApp({ db: b.db, logger: false, keyEncryptionKey: kek });
  ctx.defer(() => app.close());
  const client = createAuthClient({ databaseUrl: b.url, cache: { maxAgeMs: 600_000 } });
  ctx.defer(() => client.close());
  await b.db.query(`select pgauth.set_service_account_token_format('bench', 'jwt')`);
  const r = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    payload: `grant_type=client_credentials&client_id=bench&client_secret=${pg.benchToken(1, 'pgk_')}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const jwt = (r.json() as { access_token: string }).access_token;
  await client.cache?.ready(10_000);
  // Calls a second of client.validate(token) (mitata), every one valid.
  const loopSide = (label: string, command: string, token: string): Side => {
    const call = async () => {
      if ((await client.validate(token)) === null) throw new Error(`${label}: a validation failed`);
    };
    const run = (s: number) => () => callsPerSecond(call, s);
    return { label, command, warm: run(1), run: run(t.seconds) };
  };
  await measureGroup(ctx, {
    unit: '/s',
    sides: [
      loopSide('SDK validate(JWT)', JWT, jwt),
      loopSide('SDK validate(opaque)', OPAQUE, pg.benchToken(1)),
    ],
    rows: [['SDK: JWT vs opaque token, both cached', [0, JWT], [1, OPAQUE]]],
    settings: { ...t.runs, alg: 'ES256', cache: true },
  });
}
