/**
 * `pgauth user totp-enroll | totp-confirm | mfa-reset`: a user's second factor from the
 * administrator's terminal (setting one up for somebody at a desk, or taking it away when the
 * device is lost). Enrolment prints the secret once, as a QR code for the authenticator app and
 * as text; confirmation prints the recovery codes once.
 */
import { serviceOperations } from '@pgauth/client/internal';
import { Command } from 'commander';
import { adminOperations } from '../operations.ts';
import { openAdminDatabase, USER_ARG, withAdminUser, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { UsageError } from './common.ts';

/** The service operations on behalf of the user named, on the admin's database. */
async function asUser<T>(
  flags: DatabaseFlags,
  name: string,
  fn: (ops: ReturnType<typeof serviceOperations>, id: string) => Promise<T>,
): Promise<T> {
  const db = await openAdminDatabase(flags);
  try {
    const id = await adminOperations(db).findUser(name);
    return await fn(serviceOperations(db), id);
  } finally {
    await db.close();
  }
}

/** What draws the QR code of an otpauth:// URI with block characters for a terminal; loads
 * qrcode, which no other command needs. */
async function terminalQr(): Promise<(uri: string) => Promise<string>> {
  const { default: QRCode } = await import('qrcode');
  return (uri) =>
    QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}

export function addMfaCommands(user: Command): void {
  user.addCommand(
    withDatabaseOptions(
      new Command('totp-enroll')
        .description(
          'start TOTP enrolment for a user: prints the secret once, as a QR code to scan and as text; then run totp-confirm with a code',
        )
        .argument('<user>', USER_ARG)
        .option('--no-qr', 'print the secret and the otpauth:// URI only')
        .action(async (name: string, flags: DatabaseFlags & { qr?: boolean }) => {
          // Ready before the enrolment: a secret stored but never shown would be lost.
          const qr = flags.qr === false ? null : await terminalQr();
          const e = await asUser(flags, name, (ops, id) => ops.totpEnroll(id));
          if (qr) console.log(await qr(e.otpauthUri));
          console.log(`secret: ${e.secret}`);
          console.log(`uri: ${e.otpauthUri}`);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('totp-confirm')
        .description('turn TOTP on with a current code; prints the ten recovery codes, once')
        .argument('<user>', USER_ARG)
        .argument('<code>', 'the 6-digit code the authenticator app shows now')
        .action(async (name: string, code: string, flags: DatabaseFlags) => {
          const codes = await asUser(flags, name, (ops, id) => ops.totpConfirm(id, code));
          if (!codes) throw new UsageError('invalid_code: the code is wrong or was already used');
          console.log('TOTP is on. Recovery codes (each works once; keep them safe):');
          for (const c of codes) console.log(c);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('mfa-reset')
        .description(
          'remove every second factor of a user (TOTP and recovery codes), e.g. after a lost device; audited',
        )
        .argument('<user>', USER_ARG)
        .action(async (name: string, flags: DatabaseFlags) => {
          const had = await withAdminUser(flags, name, (ops, id) => ops.resetMfa(id));
          console.log(had ? `second factors of ${name} removed` : `${name} had no second factor`);
        }),
    ),
  );
}
