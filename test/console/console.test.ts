/**
 * The admin console at /console, used as a person would in headless Chromium against a real
 * gateway: sign in, find a user among many, lock them and see their sessions end, see a session
 * revoked in SQL leave the open page without a reload, read the audit log, edit a setting, be
 * refused with a wrong password or without the role admin, use it by keyboard only, and pass an
 * axe-core check on every page (service accounts included).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { waitFor } from '../helpers/wait.ts';
import { call, createUser, login, PASSWORD, type TestApp, useApp } from '../http/helpers.ts';
import { axeViolations, openConsole, signIn, skipWithoutChromium, useBrowser } from './browser.ts';

const MEMBERS = 1_200;

const a: TestApp = useApp({}, async (app) => {
  await createUser(app, 'root', ['admin']);
  await createUser(app, 'plain');
  // Many users at once, by SQL, each with plain's password hash (hashing each would be slow).
  await app.t.db.query(
    `insert into pgauth.users (username, email, password_hash)
     select 'member' || lpad(g::text, 4, '0'), 'member' || g || '@example.com',
            (select password_hash from pgauth.users where username = 'plain')
     from generate_series(1, $1::integer) g`,
    [MEMBERS],
  );
});
const browser = useBrowser();
const skip = skipWithoutChromium;

async function signedIn(t: { after(fn: () => Promise<void>): void }, hash = '', who = 'root') {
  const opened = await openConsole(t, browser.get(), a, `/console${hash}`);
  await signIn(opened.page, who, PASSWORD);
  await opened.page.getByRole('button', { name: 'Sign out' }).waitFor();
  return opened;
}

async function userId(username: string): Promise<string> {
  const r = await a.t.db.query<{ id: string }>('select pgauth.find_user($1)::text as id', [
    username,
  ]);
  return r.rows[0]?.id as string;
}

/** Whether an access token is still accepted by the gateway. */
async function accepted(token: string): Promise<boolean> {
  return (await call(a, 'GET', '/v1/session', { token })).status === 200;
}

/** A statement run as an operator would: psql on PostgreSQL, the raw connection on PGlite. */
async function operatorSql(sql: string): Promise<void> {
  if (a.t.url)
    await promisify(execFile)('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', a.t.url, '-c', sql]);
  else await a.t.db.exec(sql);
}

function sessionsText(page: Page) {
  return page.getByRole('region', { name: 'Live sessions' }).locator('p[aria-live]');
}

/** Waits (5 s at most) until the user page's live sessions section says `text`. */
async function sessionsShown(page: Page, text: string): Promise<void> {
  await waitFor(text, async () => (await sessionsText(page).textContent()) === text, 5_000);
}

/** A new user logged in twice, and the console signed in at their page once it shows both sessions. */
async function userWithTwoSessions(t: { after(fn: () => Promise<void>): void }, username: string) {
  await createUser(a, username);
  const first = await login(a, username);
  const second = await login(a, username);
  const { page } = await signedIn(t, `#/users/${await userId(username)}`);
  await sessionsShown(page, '2 live sessions.');
  return { page, first, second };
}

test('an admin signs in and finds one user among 1,200 by the start of the name, then pages through', {
  skip,
}, async (t) => {
  const { page, errors } = await signedIn(t);
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  await page.getByLabel('Search users').fill('MEMBER0777');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const rows = page.locator('tbody tr');
  await waitFor('one row', async () => (await rows.count()) === 1, 5_000);
  assert.equal(await rows.first().locator('td').first().textContent(), 'member0777');
  // By email: the query holds an @.
  await page.getByLabel('Search users').fill('member1100@');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('cell', { name: 'member1100@example.com' }).waitFor();
  // Every user, 25 a page: the second page starts where the first ended.
  await page.getByLabel('Search users').fill('member');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('link', { name: 'member0001' }).waitFor();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByRole('link', { name: 'member0026' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'member0025' }).count(), 0);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByRole('link', { name: 'member0025' }).waitFor();
  assert.deepEqual(errors, []);
});

test('locking a user in the console ends every session of theirs, and the page shows none left', {
  skip,
}, async (t) => {
  const { page, first, second } = await userWithTwoSessions(t, 'victim');
  await page.getByRole('heading', { name: 'User victim' }).waitFor();
  await page.getByRole('button', { name: 'Lock user' }).click();
  await sessionsShown(page, 'No live sessions.');
  await page.getByRole('button', { name: 'Unlock user' }).waitFor();
  assert.equal(await accepted(first.access_token), false);
  assert.equal(await accepted(second.access_token), false);
});

test('a session revoked in SQL by an operator leaves the open sessions view without a reload', {
  skip,
}, async (t) => {
  const { page, first: kept, second: revoked } = await userWithTwoSessions(t, 'watched');
  // A mark in the page's memory: still there afterwards means the page was not loaded again.
  await page.evaluate(() => {
    (globalThis as { consoleMark?: number }).consoleMark = 42;
  });
  assert.equal(await page.locator(`tr[data-session="${revoked.session_id}"]`).count(), 1);
  await operatorSql(
    `update pgauth.sessions set revoked_at = now(), revoked_reason = 'admin' where id = '${revoked.session_id}'`,
  );
  await sessionsShown(page, '1 live sessions.');
  assert.equal(await page.locator(`tr[data-session="${revoked.session_id}"]`).count(), 0);
  assert.equal(await page.locator(`tr[data-session="${kept.session_id}"]`).count(), 1);
  assert.equal(await page.evaluate(() => (globalThis as { consoleMark?: number }).consoleMark), 42);
  // Revoke one from the console too.
  await page.getByRole('button', { name: `Revoke session ${kept.session_id.slice(0, 8)}` }).click();
  await sessionsShown(page, 'No live sessions.');
  assert.equal(await accepted(kept.access_token), false);
});

test('the audit log shows events, filtered by event and by user, newest first', {
  skip,
}, async (t) => {
  await createUser(a, 'audited');
  const id = await userId('audited');
  await a.t.db.query(`select pgauth.lock_user($1, 'infinity', 'audit test')`, [id]);
  await login(a, 'audited', 'not the password').catch(() => undefined);
  const { page } = await signedIn(t, '#/audit');
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByLabel('Event').selectOption('user_locked');
  await page.getByLabel('Username').fill('audited');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  const rows = page.locator('tbody tr');
  await waitFor('one locked row', async () => (await rows.count()) === 1, 5_000);
  const text = (await rows.first().textContent()) ?? '';
  assert.match(text, /user_locked/);
  assert.match(text, new RegExp(id.slice(0, 8)));
  // A time range that ended before the event: nothing.
  await page.getByLabel('To (UTC)').fill('2000-01-01T00:00');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No events.').waitFor();
});

test('a setting saved in the console is the database policy; a value out of range is refused with its reason', {
  skip,
}, async (t) => {
  const { page } = await signedIn(t, '#/settings');
  const min = page.getByLabel('Minimum password length');
  await min.fill('14');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  const row = await a.t.db.query<{ n: number }>(
    'select password_min_length as n from pgauth.settings',
  );
  assert.equal(row.rows[0]?.n, 14);
  await min.fill('7');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: 'Minimum password length must be a whole number from 8 to 1024.' })
    .waitFor();
  await min.fill('12');
  await page.getByLabel('First lockout (seconds)').fill('600');
  await page.getByLabel('Longest lockout (seconds)').fill('60');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: 'Longest lockout must be at least the first lockout.' })
    .waitFor();
  const after = await a.t.db.query<{ n: number; l: number }>(
    'select password_min_length as n, lockout_seconds as l from pgauth.settings',
  );
  assert.deepEqual(after.rows[0], { n: 14, l: 300 });
  await a.t.db.exec('update pgauth.settings set password_min_length = 12');
});

test('a wrong admin password is refused with the one generic message, and nothing opens', {
  skip,
}, async (t) => {
  const { page } = await openConsole(t, browser.get(), a);
  await signIn(page, 'root', 'not the right passphrase');
  await page.getByRole('alert').filter({ hasText: 'Invalid credentials.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
});

test('an account without the role admin is refused, and the session its sign-in made is ended', {
  skip,
}, async (t) => {
  const { page } = await openConsole(t, browser.get(), a);
  await signIn(page, 'plain', PASSWORD);
  await page
    .getByRole('alert')
    .filter({ hasText: 'This account does not hold the role admin.' })
    .waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Sections' }).count(), 0);
  const live = await a.t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.sessions s join pgauth.users u on u.id = s.user_id
     where u.username = 'plain' and s.revoked_at is null`,
  );
  assert.equal(live.rows[0]?.n, 0);
});

test('the console is usable by keyboard alone: sign in, move between pages, act', {
  skip,
}, async (t) => {
  const { page } = await openConsole(t, browser.get(), a);
  const focused = () =>
    page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent || '');
  // The page puts focus on its content once drawn; from there the first Tab is the first field.
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'username');
  await page.keyboard.type('root');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  // Focus is on the page's content: the first Tab reaches its first field.
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'user-search');
  await page.keyboard.type('member0777');
  await page.keyboard.press('Enter');
  // The answer to this search is one row (the first page of everyone has other links).
  await waitFor('one row', async () => (await page.locator('tbody tr').count()) === 1, 5_000);
  await page.getByRole('link', { name: 'member0777' }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Search');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'member0777');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'User member0777' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  // Back from the content: Sign out, then the sections from the last (Settings) to Audit log.
  for (const name of ['Sign out', 'Settings', 'Activity', 'Audit log']) {
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), name);
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'audit-event');
  // Sign out by keyboard: back to the sign-in form.
  await page.getByRole('button', { name: 'Sign out' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
});

test('every page passes axe-core with no serious or critical violation', { skip }, async (t) => {
  const { page } = await openConsole(t, browser.get(), a);
  assert.deepEqual(await axeViolations(page), [], 'sign-in');
  await signIn(page, 'root', PASSWORD);
  const { access_token: token } = await login(a, 'root');
  const made = await call(a, 'POST', '/v1/admin/service-accounts', {
    token,
    json: { name: 'axe-check', roles: ['reader'] },
  });
  assert.equal(made.status, 201, made.text);
  const key = await call(a, 'POST', '/v1/admin/service-accounts/axe-check/api-keys', {
    token,
    json: { name: 'listed' },
  });
  assert.equal(key.status, 201, key.text);
  const pages: [string, string][] = [
    ['#/users', 'Users'],
    ['#/service-accounts', 'Service accounts'],
    ['#/service-accounts/axe-check', 'Service account axe-check'],
    [`#/users/${await userId('member0001')}`, 'User member0001'],
    ['#/audit', 'Audit log'],
    ['#/activity', 'Activity'],
    ['#/settings', 'Settings'],
  ];
  for (const [hash, heading] of pages) {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.waitForLoadState('networkidle').catch(() => undefined);
    assert.deepEqual(await axeViolations(page), [], heading);
  }
});

test('revoking the administrator session anywhere signs the open console out', {
  skip,
}, async (t) => {
  await createUser(a, 'root2', ['admin']);
  const { page } = await signedIn(t, `#/users/${await userId('member0002')}`, 'root2');
  await page.getByRole('heading', { name: 'User member0002' }).waitFor();
  await operatorSql(`select pgauth.revoke_user_sessions(pgauth.find_user('root2'), 'admin')`);
  await page
    .getByText('Your session was ended (revoked, expired or locked). Sign in again.')
    .waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
});

test('signing out ends the session in the database', { skip }, async (t) => {
  const { page } = await signedIn(t);
  const before = await a.t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.sessions s where s.user_id = pgauth.find_user('root') and s.revoked_at is null`,
  );
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await waitFor(
    'one session fewer',
    async () => {
      const now = await a.t.db.query<{ n: number }>(
        `select count(*)::int as n from pgauth.sessions s where s.user_id = pgauth.find_user('root') and s.revoked_at is null`,
      );
      return (now.rows[0]?.n ?? 0) === (before.rows[0]?.n ?? 0) - 1;
    },
    5_000,
  );
});
