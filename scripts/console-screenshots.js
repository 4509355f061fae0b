#!/usr/bin/env node
// Writes the screenshots of docs/console.md (docs/console/*.png): a gateway on a new embedded
// database in a temporary folder, some users, sessions and a day of login activity, then each
// page of the console in headless Chromium (/usr/bin/chromium, or $CHROMIUM). Run after a build
// (npm run build): it uses the compiled gateway and the built console.
//
//   node scripts/console-screenshots.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildApp, migrate, openDatabase } from '../packages/pgauth/dist/index.js';
import LAUNCH from '../test/console/chromium.json' with { type: 'json' };

const OUT = 'docs/console';
const PASSWORD = 'correct horse battery staple';
const dataDir = mkdtempSync(join(tmpdir(), 'pgauth-screenshots-'));
const db = await openDatabase({ dataDir, create: true });
await migrate(db);
await db.exec('update pgauth.settings set bcrypt_cost = 4');
const create = (name, roles = [], email = `${name}@example.com`) =>
  db.query('select pgauth.create_user($1, $2, $3, $4::text[])', [name, PASSWORD, email, roles]);
await create('admin', ['admin'], 'ops@example.com');
const people = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'];
for (const name of people) await create(name, name === 'carol' ? ['introspect'] : []);
for (let i = 1; i <= 40; i++) await create(`customer${String(i).padStart(3, '0')}`);
await db.query(`select pgauth.lock_user(pgauth.find_user('dave'), 'infinity', 'chargeback')`);
// A day of logins: more by day than by night, a burst of failures and a lockout mid-afternoon.
await db.exec(`
  insert into pgauth.audit_log (at, event, user_id, detail)
  select date_trunc('minute', pgauth.clock()) - m * interval '1 minute' + interval '7 seconds' * k,
         e.event, case when e.event = 'login_success' then null else pgauth.find_user('dave') end,
         case when e.event = 'lockout' then '{"failed_logins": 10, "seconds": 300}'
              when e.event = 'login_failure' then '{"reason": "wrong_password"}' else '{}' end::jsonb
  from generate_series(0, 1439) m
  cross join lateral (
    select 'login_success' as event, greatest(0, round(6 + 5 * sin(m / 230.0) + 3 * sin(m / 17.0)))::int as n
    union all
    select 'login_failure', case when m between 500 and 530 then 9 else (m % 43 = 0)::int end
    union all
    select 'lockout', (m in (505, 512, 520))::int
  ) e
  cross join lateral generate_series(1, e.n) k`);
await db.exec('update pgauth.settings set bcrypt_cost = 11');
// Two service accounts, one with keys, as the service-accounts page shows them.
await db.query(
  `select pgauth.create_service_account('billing', array['invoices.read', 'invoices.write'])`,
);
await db.query(`select pgauth.create_service_account('reporting', array['reports.read'])`);
await db.query(`select pgauth.create_api_key('billing', 'ci', null)`);
await db.query(
  `select pgauth.create_api_key('billing', 'worker', pgauth.clock() + interval '90 days')`,
);

const app = await buildApp({ db, logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${app.server.address().port}`;
// Sessions of alice from three clients, as the sessions page shows them.
for (const agent of [
  'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
  'okhttp/4.12.0',
  'curl/8.5.0',
]) {
  await fetch(`${url}/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': agent },
    body: JSON.stringify({ username: 'alice', password: PASSWORD }),
  });
}

const browser = await chromium.launch({
  ...LAUNCH,
  executablePath: process.env.CHROMIUM ?? LAUNCH.executablePath,
  headless: true,
});
try {
  const context = await browser.newContext({
    baseURL: url,
    viewport: { width: 1200, height: 760 },
  });
  const page = await context.newPage();
  await page.goto('/console');
  await page.getByLabel('Username').fill('admin');
  await page.screenshot({ path: `${OUT}/sign-in.png` });
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'alice' }).waitFor();
  await page.screenshot({ path: `${OUT}/users.png`, fullPage: true });
  const shots = [
    [
      'user.png',
      async () => {
        await page.getByRole('link', { name: 'alice' }).click();
        await page.getByText('3 live sessions.').waitFor();
      },
    ],
    [
      'audit.png',
      async () => {
        await page.getByRole('link', { name: 'Audit log' }).click();
        await page.getByLabel('Event').selectOption('lockout');
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.getByText('events shown.').waitFor();
      },
    ],
    [
      'activity.png',
      async () => {
        await page.getByRole('link', { name: 'Activity' }).click();
        await page.locator('svg.chart polyline').first().waitFor();
      },
    ],
    [
      'service-accounts.png',
      async () => {
        await page.getByRole('link', { name: 'Service accounts' }).click();
        await page.getByRole('link', { name: 'billing' }).click();
        await page.getByText('worker').first().waitFor();
      },
    ],
    [
      'settings.png',
      async () => {
        await page.getByRole('link', { name: 'Settings' }).click();
        await page.getByLabel('Minimum password length').waitFor();
      },
    ],
  ];
  for (const [file, show] of shots) {
    await show();
    await page.screenshot({ path: `${OUT}/${file}`, fullPage: true });
  }
  console.log(
    `wrote ${OUT}/{sign-in,users,${shots.map(([f]) => f.replace('.png', '')).join(',')}}.png`,
  );
} finally {
  await browser.close();
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
}
