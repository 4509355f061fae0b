/**
 * The SDK's login with a second factor, in SQL mode and in HTTP mode against the same gateway
 * and database: login throws MfaRequiredError with the challenge, loginMfa finishes it, and the
 * session says aal 2.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AuthError, createAuthClient, MfaRequiredError } from '@pgauth/client';
import { scalar } from '../helpers/sql.ts';
import { stepAt, totpCode } from '../helpers/totp.ts';
import { createUser, PASSWORD, useApp } from '../http/helpers.ts';

const a = useApp();
const clients: { close(): Promise<void> }[] = [];
after(async () => {
  for (const c of clients) await c.close();
});

async function userWithTotp(username: string): Promise<string> {
  const id = await createUser(a, username);
  const secret = await scalar<string>(a.t.db, 'select secret as v from pgauth.totp_enroll($1)', [
    id,
  ]);
  await a.t.db.query('select pgauth.totp_confirm($1, $2)', [id, totpCode(secret, stepAt() - 1)]);
  return secret;
}

for (const mode of ['sql', 'http'] as const) {
  test(`${mode}: login throws MfaRequiredError; loginMfa with a code gives a session of aal 2`, async () => {
    const client =
      mode === 'sql'
        ? createAuthClient({ database: a.t.db })
        : createAuthClient({ baseUrl: a.url });
    clients.push(client);
    const username = `sdk_mfa_${mode}`;
    const secret = await userWithTotp(username);
    const err = await client.login(username, PASSWORD).then(
      () => assert.fail('no tokens without the second factor'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MfaRequiredError, String(err));
    assert.equal(err.code, 'mfa_required');
    assert.match(err.challenge, /^pgm_/);
    assert.ok(err.expiresIn > 0);
    await assert.rejects(
      client.loginMfa(err.challenge, { code: '000000' }),
      (e: unknown) => e instanceof AuthError && e.code === 'invalid_credentials',
    );
    const pair = await client.loginMfa(err.challenge, { code: totpCode(secret, stepAt() + 1) });
    const session = await client.validate(pair.accessToken);
    assert.equal(session?.aal, 2);
    assert.equal(session?.username, username);
  });
}
