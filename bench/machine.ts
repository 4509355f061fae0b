/** Scenario `machine`: the API-key validation path (pgauth.validate of a pgk_ key, 100,000 keys)
 * vs the session path it sits beside (100,000 sessions), over pgbench (≥ 0.9); and the SDK's
 * validation of a JWT access token (signature checked with cached keys, jti from the cache) vs
 * of an opaque token from the same cache, in this process (info). */
import { randomBytes } from 'node:crypto';
import { createAuthClient } from '@pgauth/client';
import { adminOperations } from '../packages/pgauth/src/operations.ts';
import { rotateSigningKey } from '../packages/pgauth/src/server/signing.ts';
import { measureGroup, type RunContext, roundsOf, type Side, secondsOf } from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `pgauth.validate of API keys vs sessions (pgbench); SDK JWT vs opaque validation, cached`;
const KEYS = `select * from pgauth.validate('pgk_' || …), 100,000 live API keys`;
const SESSIONS = `select * from pgauth.validate('pga_' || …), 100,000 live sessions`;
const JWT = 'await client.validate(jwt): ES256 signature with cached keys, jti from the cache';
const OPAQUE = 'await client.validate(opaque token) answered by the cache';

/** API key i of the bench: the prefix, length and alphabet of a real one, derived from i. */
const keyScript = (n: number) =>
  `\\set id random(1, ${n})\nselect * from pgauth.validate('pgk_' || lpad(:id, 43, '0'));\n`;

/** Calls `validate` on `token` for `seconds`; the figure is calls a second (every one valid). */
function loopSide(
  label: string,
  command: string,
  validate: (t: string) => Promise<unknown>,
  token: string,
  seconds: number,
): Side {
  const loop = async (s: number) => {
    const end = performance.now() + s * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) {
        if ((await validate(token)) === null) throw new Error(`${label}: a validation failed`);
      }
      n += 1000;
    }
    return n / s;
  };
  return { label, command, warm: () => loop(1), run: () => loop(seconds) };
}

export async function run(ctx: RunContext) {
  const [seconds, warmup] = [secondsOf(ctx, 8, 2), ctx.quick ? 1 : 3];
  const runs = { durationSeconds: seconds, rounds: roundsOf(ctx), warmupSeconds: warmup };
  const dir = `${ctx.scratchDir}/machine`;
  const b = await pg.createDatabase('machine');
  try {
    ctx.log(`database ${b.name}: 100,000 sessions, 100,000 API keys`);
    await pg.insertSessions(b.db, { prefix: 'bench_user_', from: 1, to: 1e5, times: pg.LIVE });
    await b.db.query(`select pgauth.create_service_account('bench', '{member}')`);
    await b.db.query(
      `insert into pgauth.api_keys (kind, service_account_id, name, key_hash, account_name, roles,
         last_used_at)
       select 'api_key', a.id, 'k' || i, pgauth._token_hash('pgk_' || lpad(i::text, 43, '0')),
         a.name, a.roles, 'infinity'
       from pgauth.service_accounts a, generate_series(1, 100000) i`,
    );
    await b.db.exec('vacuum (analyze) pgauth.sessions, pgauth.api_keys, pgauth.users');
    await b.db.exec('checkpoint');
    const common = { url: b.url, clients: 4, dir, signal: ctx.signal };
    const keys = await pg.writeScript(dir, 'keys.sql', keyScript(1e5));
    const sessions = await pg.writeScript(dir, 'sessions.sql', pg.validateScript(1e5));
    const apiKeys = await measureGroup(ctx, {
      unit: 'tps',
      sides: [
        pg.pgbenchSide('validate(API key)', { ...common, script: keys }, seconds, warmup),
        pg.pgbenchSide('validate(session)', { ...common, script: sessions }, seconds, warmup),
      ],
      rows: [['validate: API key vs session token', [0, KEYS], [1, SESSIONS], 0.9]],
      settings: {
        clients: 4,
        threads: 2,
        ...runs,
        protocol: 'prepared',
        note: 'last_used_at set to infinity: the once-a-minute write is not measured',
      },
    });

    // A JWT client and an opaque token, both validated by one SDK client with its cache.
    const kek = randomBytes(32);
    await rotateSigningKey(adminOperations(b.db), kek);
    const { buildApp } = await import('../packages/pgauth/src/server/app.ts');
    const app = await buildApp({ db: b.db, logger: false, keyEncryptionKey: kek });
    const client = createAuthClient({ databaseUrl: b.url, cache: { maxAgeMs: 600_000 } });
    try {
      await b.db.query(`select pgauth.set_service_account_token_format('bench', 'jwt')`);
      const tokenOf = async () => {
        const r = await app.inject({
          method: 'POST',
          url: '/oauth2/token',
          payload: `grant_type=client_credentials&client_id=bench&client_secret=pgk_${'1'.padStart(43, '0')}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        return (r.json() as { access_token: string }).access_token;
      };
      const jwt = await tokenOf();
      const opaque = `pga_${'1'.padStart(43, '0')}`;
      await client.cache?.ready(10_000);
      const sdk = await measureGroup(ctx, {
        unit: '/s',
        sides: [
          loopSide('SDK validate(JWT)', JWT, client.validate, jwt, seconds),
          loopSide('SDK validate(opaque)', OPAQUE, client.validate, opaque, seconds),
        ],
        rows: [['SDK: JWT vs opaque token, both cached', [0, JWT], [1, OPAQUE]]],
        settings: { ...runs, alg: 'ES256', cache: true },
      });
      return { comparisons: [...apiKeys.comparisons, ...sdk.comparisons] };
    } finally {
      await client.close();
      await app.close();
    }
  } finally {
    await b.drop();
  }
}
