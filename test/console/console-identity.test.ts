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

/** The password step of a login over HTTP. */
function passwordStep(username: string) {
  return call(a, 'POST', '/v1/login', { json: { username, password: PASSWORD } });
}

async function signedIn(t: { after(fn: () => Promise<void>): void }, hash: string) {
  const opened = await openConsole(t, browser.get(), a, `/console${hash}`);
  await signIn(opened.page, 'root', PASSWORD);
  await opened.page.getByRole('button', { name: 'Sign out' }).waitFor();
  return opened;
}

test("resetting a user's second factor, after a confirm step, lets the password alone sign them in", {
  skip,
}, async (t) => {
  const { userId } = await withTotp(a, 'lost_phone');
  assert.equal((await passwordStep('lost_phone')).json.mfa_required, true);
  const { page } = await signedIn(t, `#/users/${userId}`);
  await page.getByRole('heading', { name: 'User lost_phone' }).waitFor();
  await page.getByRole('button', { name: 'Reset second factor' }).click();
  // The first click only asks; keeping the factor changes nothing.
  await page.getByRole('button', { name: 'Keep second factor' }).click();
  assert.equal((await passwordStep('lost_phone')).json.mfa_required, true);
  await page.getByRole('button', { name: 'Reset second factor' }).click();
  await page.getByRole('button', { name: 'Confirm: reset second factor of lost_phone' }).click();
  await page.getByRole('status').filter({ hasText: 'Second factor reset' }).waitFor();
  const after = await passwordStep('lost_phone');
  assert.equal(after.status, 200);
  assert.equal(after.json.mfa_required, undefined);
  assert.equal(typeof after.json.access_token, 'string');
});
