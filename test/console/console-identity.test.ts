/**
 * The admin console's identity pages in headless Chromium against a real gateway: an
 * administrator with a second factor signs in through both steps, an administrator resets a
 * user's second factor, and service accounts with their API keys are created, used, revoked and
 * disabled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepAt, totpCode } from '../helpers/totp.ts';
import { call, createUser, PASSWORD, type TestApp, useApp, withTotp } from '../http/helpers.ts';
import { openConsole, signIn, skipWithoutChromium, useBrowser } from './browser.ts';

const a: TestApp = useApp({}, async (app) => {
  await createUser(app, 'root', ['admin']);
});
const browser = useBrowser();
const skip = skipWithoutChromium;

test('an admin with TOTP signs in with the password, then the authentication code; a wrong code is refused', {
  skip,
}, async (t) => {
  const { secret } = await withTotp(a, 'root_mfa', ['admin']);
  const { page, errors } = await openConsole(t, browser.get(), a);
  await signIn(page, 'root_mfa', PASSWORD);
  const code = page.getByLabel('Authentication code');
  await code.waitFor();
  // Not signed in yet: the password alone opens nothing.
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  await code.fill('000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').filter({ hasText: 'Invalid credentials.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  await code.fill(totpCode(secret, stepAt() + 1));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  assert.deepEqual(errors, []);
});

test('a recovery code finishes the sign-in in place of the authentication code', {
  skip,
}, async (t) => {
  const { recovery } = await withTotp(a, 'root_recovery', ['admin']);
  const { page } = await openConsole(t, browser.get(), a);
  await signIn(page, 'root_recovery', PASSWORD);
  await page.getByRole('button', { name: 'Use a recovery code' }).click();
  await page.getByLabel('Recovery code').fill(recovery[0] as string);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  // Used once: the same code no longer finishes a login.
  const challenge = (
    await call(a, 'POST', '/v1/login', { json: { username: 'root_recovery', password: PASSWORD } })
  ).json.challenge;
  const again = await call(a, 'POST', '/v1/login/mfa', {
    json: { challenge, recovery_code: recovery[0] },
  });
  assert.equal(again.status, 401);
});
