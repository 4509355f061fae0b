import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useFileFixture } from '../helpers/fixture.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { PASSWORD } from '../helpers/sql.ts';
import { stepAt, totpCode } from '../helpers/totp.ts';
import { pgauth, useCliTarget } from './harness.ts';

const { target, cli, fails } = useCliTarget();
const smtp = useFileFixture('the SMTP server', startSmtp, (s) => s.close());

const mailFlags = () => [
  '--smtp-url',
  smtp.url,
  '--mail-from',
  'no-reply@example.test',
  '--public-url',
  'https://app.example.test/',
];

test('two `pgauth mail send-pending` at once send every due message exactly once', async () => {
  const n = 60;
  for (let i = 0; i < n; i++) {
    await target.db.query('select pgauth.create_user($1, $2, $3)', [
      `ml_${i}`,
      PASSWORD,
      `ml_${i}@example.test`,
    ]);
    await target.db.query('select pgauth.request_password_reset($1)', [`ml_${i}`]);
  }
  const runs = await Promise.all(
    [0, 1].map(() =>
      pgauth(['mail', 'send-pending', '--batch', '3', ...mailFlags(), ...target.args]),
    ),
  );
  let total = 0;
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    const m = /^sent (\d+), failed 0\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    total += Number(m[1]);
  }
  assert.equal(total, n);
  const to = smtp.received.flatMap((x) => x.to).filter((x) => x.startsWith('ml_'));
  assert.equal(to.length, n, 'one message each');
  assert.equal(new Set(to).size, n, 'no message twice');
  for (const mail of smtp.received) {
    assert.ok(mail.body.includes('https://app.example.test/reset-password#token=pgp_'), mail.body);
  }
  assert.equal(await cli(['mail', 'send-pending', ...mailFlags()]), 'sent 0, failed 0\n');
});

test('`pgauth mail send-pending` refuses a missing or malformed setting with one line', async () => {
  assert.match(await fails(['mail', 'send-pending']), /--smtp-url/);
  assert.match(
    await fails([
      'mail',
      'send-pending',
      '--smtp-url',
      'http://x',
      '--mail-from',
      'a@b',
      '--public-url',
      'https://x',
    ]),
    /smtp:\/\/ or smtps:\/\//,
  );
  assert.match(
    await fails(['mail', 'send-pending', '--smtp-url', smtp.url, '--mail-from', 'a@b']),
    /--public-url/,
  );
});

test('`pgauth user totp-enroll` prints a QR code and the secret; totp-confirm the recovery codes; mfa-reset removes them', async () => {
  await cli(['user', 'add', 'ml_totp', '--password-stdin'], `${PASSWORD}\n`);
  const out = await cli(['user', 'totp-enroll', 'ml_totp']);
  assert.match(out, /[▀▄█]/, 'a QR code drawn with block characters');
  const secret = /^secret: ([A-Z2-7]{32})$/m.exec(out)?.[1];
  assert.ok(secret, out);
  assert.match(out, /^uri: otpauth:\/\/totp\/pgauth:ml_totp\?secret=/m);
  const bad = await fails(['user', 'totp-confirm', 'ml_totp', '000000']);
  assert.match(bad, /invalid_code/);
  const confirmed = await cli(['user', 'totp-confirm', 'ml_totp', totpCode(secret, stepAt())]);
  const codes = confirmed.trim().split('\n').slice(1);
  assert.equal(codes.length, 10);
  assert.equal(await cli(['user', 'mfa-reset', 'ml_totp']), 'second factors of ml_totp removed\n');
  assert.equal(await cli(['user', 'mfa-reset', 'ml_totp']), 'ml_totp had no second factor\n');
});
