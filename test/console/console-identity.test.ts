/**
 * The admin console's identity pages in headless Chromium against a real gateway: an
 * administrator with a second factor signs in through both steps, an administrator resets a
 * user's second factor, and service accounts with their API keys are created, used, revoked and
 * disabled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepAt, totpCode } from '../helpers/totp.ts';
import {
  call,
  createUser,
  login,
  PASSWORD,
  type TestApp,
  useApp,
  withTotp,
} from '../http/helpers.ts';
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

test('a service account is created, given an API key shown once that validates, the key revoked, the account disabled', {
  skip,
}, async (t) => {
  const { page, errors } = await signedIn(t, '#/service-accounts');
  await page.getByRole('heading', { name: 'Service accounts', level: 1 }).waitFor();
  await page.getByLabel('Account name').fill('billing');
  await page.getByLabel('Roles (comma-separated)').fill('reader, writer');
  await page.getByRole('button', { name: 'Create service account' }).click();
  await page.getByText('Service account billing created.').waitFor();
  await page.getByRole('link', { name: 'billing' }).click();
  await page.getByRole('heading', { name: 'Service account billing', level: 1 }).waitFor();
  await page.getByText('reader, writer').waitFor();

  await page.getByLabel('Key name').fill('nightly');
  await page.getByLabel('Expires (UTC, optional)').fill('2099-01-01T00:00');
  await page.getByRole('button', { name: 'Create API key' }).click();
  await page.getByText('Copy it now, it is not shown again').waitFor();
  const key = await page.getByRole('textbox', { name: 'API key nightly' }).inputValue();
  assert.match(key, /^pgk_/);
  const row = page.locator('tbody tr').filter({ hasText: 'nightly' });
  await row.getByText('2099-01-01 00:00:00 UTC').waitFor();
  const session = await call(a, 'GET', '/v1/session', { token: key });
  assert.equal(session.status, 200, session.text);
  assert.deepEqual(session.json.roles.sort(), ['reader', 'writer']);
  // Shown once: leaving the page and coming back shows the key's row, never the key.
  await page.getByRole('button', { name: 'I have copied it' }).click();
  assert.equal(await page.getByText(key).count(), 0);
  assert.equal(await page.locator(`input[value="${key}"]`).count(), 0);

  await page.getByRole('button', { name: 'Revoke API key nightly' }).click();
  await page.getByText('API key nightly revoked.').waitFor();
  await row.getByText(/^revoked /).waitFor();
  assert.equal((await call(a, 'GET', '/v1/session', { token: key })).status, 401);

  // A second key, then the account disabled (after a confirm step): that key stops too.
  await page.getByLabel('Key name').fill('second');
  await page.getByRole('button', { name: 'Create API key' }).click();
  const second = await page.getByRole('textbox', { name: 'API key second' }).inputValue();
  assert.equal((await call(a, 'GET', '/v1/session', { token: second })).status, 200);
  await page.getByRole('button', { name: 'Disable service account' }).click();
  await page.getByRole('button', { name: 'Keep service account' }).click();
  assert.equal((await call(a, 'GET', '/v1/session', { token: second })).status, 200);
  await page.getByRole('button', { name: 'Disable service account' }).click();
  await page.getByRole('button', { name: 'Confirm: disable billing' }).click();
  await page.getByText('Service account disabled').waitFor();
  await page.getByText(/^disabled /).waitFor();
  assert.equal((await call(a, 'GET', '/v1/session', { token: second })).status, 401);
  assert.deepEqual(errors, []);
});

test('a service account name already taken is refused with its reason, and nothing is created', {
  skip,
}, async (t) => {
  const { access_token: token } = await login(a, 'root');
  const made = await call(a, 'POST', '/v1/admin/service-accounts', {
    token,
    json: { name: 'dupe' },
  });
  assert.equal(made.status, 201, made.text);
  const { page } = await signedIn(t, '#/service-accounts');
  await page.getByRole('link', { name: 'dupe' }).waitFor();
  await page.getByLabel('Account name').fill('dupe');
  await page.getByRole('button', { name: 'Create service account' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match((await alert.textContent()) ?? '', /\S/);
  const list = await call(a, 'GET', '/v1/admin/service-accounts', { token });
  const dupes = list.json.service_accounts.filter((s: { name: string }) => s.name === 'dupe');
  assert.equal(dupes.length, 1);
});
