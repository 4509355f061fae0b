/**
 * The gateway's mail sender (src/mail/sender.ts) between its start and its stop: a sender stopped
 * while it is still starting (a gateway closed during its start) keeps nothing running: no LISTEN
 * on pgauth_mail, and the message due meanwhile is left to the next sender, which delivers it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailSender } from '../../packages/pgauth/src/mail/sender.ts';
import { onPostgres, useTestDatabase } from '../helpers/db.ts';
import { useFileFixture } from '../helpers/fixture.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { PASSWORD } from '../helpers/sql.ts';
import { waitFor } from '../helpers/wait.ts';

const t = useTestDatabase();
const smtp = useFileFixture('the SMTP server', startSmtp, (s) => s.close());

const sender = (sent: string[]) =>
  new MailSender(
    t.db,
    { smtpUrl: smtp.url, from: 'no-reply@example.test', publicUrl: 'https://app.example.test/' },
    { listen: true, pollMs: 60_000, onResult: (r) => void sent.push(r.id) },
  );

/** Whether a connection of this database LISTENs on pgauth_mail: on PostgreSQL, whether one of
 * the driver's LISTEN connections (the only ones this file opens) is there; its last query is
 * its heartbeat, not the LISTEN. */
async function listening(): Promise<boolean> {
  const sql = onPostgres
    ? `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and application_name like '%:listen'`
    : `select count(*)::int as n from pg_listening_channels() c where c = 'pgauth_mail'`;
  return ((await t.db.query<{ n: number }>(sql)).rows[0]?.n ?? 0) > 0;
}

test('a mail sender stopped while it starts keeps no LISTEN and sends nothing; the next one delivers', async () => {
  await t.db.query('select pgauth.create_user($1, $2, $3)', [
    'ms_one',
    PASSWORD,
    'one@example.test',
  ]);
  await t.db.query('select pgauth.request_password_reset($1)', ['ms_one']);
  const early: string[] = [];
  const stopped = sender(early);
  const starting = stopped.start();
  await stopped.stop(); // waits for the start it interrupted
  await starting;
  // A closed LISTEN connection's backend may take a moment to go; one left open never does.
  await waitFor('no LISTEN of the stopped sender', async () => !(await listening()), 5_000);
  // The positive marker: a sender started now listens, and its first round delivers the message.
  const late: string[] = [];
  const running = sender(late);
  await running.start();
  try {
    assert.equal(await listening(), true);
    const [mail] = await smtp.waitFor('one@example.test');
    assert.ok(mail?.body.includes('https://app.example.test/reset-password#token=pgp_'));
    await running.idle(); // the round that sent it has recorded it
    assert.equal(late.length, 1);
    assert.deepEqual(early, []);
  } finally {
    await running.stop();
  }
});
