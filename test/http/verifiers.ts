/**
 * The three verifiers of an access token that the JWT tests hold side by side: the SDK in SQL
 * mode, the SDK over HTTP (both with a cache that the revocation events keep current) and the
 * gateway's GET /v1/session, all on one app with a key-encryption key (so it signs JWTs).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AuthClient, createAuthClient, type Session } from '@pgauth/client';
import type { AppOptions } from '../../packages/pgauth/src/server/app.ts';
import { useFileFixture } from '../helpers/fixture.ts';
import { call, createSession, startApp, type TestApp, type Tokens } from './helpers.ts';

export interface Verifiers {
  app: TestApp;
  /** A session with the roles admin and introspect: the service token of the HTTP client. */
  admin: Tokens;
  sdk: AuthClient;
  overHttp: AuthClient;
}

export type Verdict = 'accepted' | 'rejected';

export interface VerifierOptions {
  /** The username of the admin whose session the HTTP client uses. */
  admin: string;
  /** The app's options, over a fresh key-encryption key and a 200 ms revocation heartbeat. */
  app?: Partial<AppOptions>;
  /** Runs on the app before anything else (it may change settings). */
  setup?: (app: TestApp) => Promise<void>;
}

/** One app and its two SDK clients for the whole test file, their caches ready before its first test. */
export function useVerifiers({
  admin: adminName,
  app: options,
  setup,
}: VerifierOptions): Verifiers {
  return useFileFixture(
    'the app and its verifiers',
    async () => {
      const app = await startApp({
        keyEncryptionKey: randomBytes(32),
        revocationHeartbeatMs: 200,
        ...options,
      });
      let sdk: AuthClient | undefined;
      let overHttp: AuthClient | undefined;
      try {
        await setup?.(app);
        const admin = await createSession(app, adminName, ['admin', 'introspect']);
        sdk = createAuthClient({ database: app.t.db, cache: {} });
        overHttp = createAuthClient({
          baseUrl: app.url,
          cache: {},
          serviceToken: admin.access_token,
          onSubscriptionError: () => {},
        });
        await Promise.all([sdk.cache?.ready(5_000), overHttp.cache?.ready(5_000)]);
        return { app, admin, sdk, overHttp };
      } catch (err) {
        await overHttp?.close();
        await sdk?.close();
        await app.close();
        throw err;
      }
    },
    closeVerifiers,
  );
}

async function closeVerifiers(v: Verifiers): Promise<void> {
  await v.overHttp.close();
  await v.sdk.close();
  await v.app.close();
}

/** What the SDK in SQL mode, the SDK over HTTP and the gateway's GET /v1/session say, in order. */
export async function verdicts(v: Verifiers, token: string): Promise<Verdict[]> {
  const of = (ok: boolean): Verdict => (ok ? 'accepted' : 'rejected');
  const gateway = await call(v.app, 'GET', '/v1/session', { token });
  return [
    of((await v.sdk.validate(token)) !== null),
    of((await v.overHttp.validate(token)) !== null),
    of(gateway.status === 200),
  ];
}

/**
 * Asserts that the SDK in SQL mode and the SDK over HTTP both take `token` for a session with the
 * fields of `expected`; resolves with the two sessions, in that order.
 */
export async function assertSdkSessions(
  v: Verifiers,
  token: string,
  expected: Partial<Session>,
): Promise<Session[]> {
  const sessions: Session[] = [];
  for (const client of [v.sdk, v.overHttp]) {
    const s = await client.validate(token);
    assert.ok(s, 'the token validates');
    for (const [field, value] of Object.entries(expected)) {
      assert.deepEqual(s[field as keyof Session], value, field);
    }
    sessions.push(s);
  }
  return sessions;
}
