import { Command, Option } from 'commander';
import {
  DEFAULT_ALG,
  parseKeyEncryptionKey,
  rotateSigningKey,
  SIGNING_ALGS,
} from '../server/signing-keys.ts';
import { withAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import { type DatabaseFlags, UsageError } from './common.ts';

interface KeysFlags extends DatabaseFlags {
  keyEncryptionKey?: string;
  alg: (typeof SIGNING_ALGS)[number];
}

/** `pgauth keys rotate`: a new JWT signing key; the previous one stays in the JWKS meanwhile. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('manage the keys that sign JWT access tokens');
  keys.addCommand(
    withDatabaseOptions(
      new Command('rotate')
        .description(
          'generate a signing key that signs from now on (gateways pick it up within 30 s); the previous key stays in /.well-known/jwks.json until the last token it signed has expired. Prints the new kid',
        )
        .addOption(
          new Option(
            '--key-encryption-key <key>',
            'the key the gateways are given (32 bytes, hex or base64); the private key is stored encrypted under it',
          ).env('PGAUTH_KEY_ENCRYPTION_KEY'),
        )
        .addOption(
          new Option('--alg <alg>', 'signature algorithm')
            .choices([...SIGNING_ALGS])
            .default(DEFAULT_ALG),
        )
        .action(async (flags: KeysFlags) => {
          if (!flags.keyEncryptionKey) {
            throw new UsageError(
              'keys rotate needs the key-encryption key the gateways use: --key-encryption-key or PGAUTH_KEY_ENCRYPTION_KEY',
            );
          }
          let kek: Buffer;
          try {
            kek = parseKeyEncryptionKey(flags.keyEncryptionKey);
          } catch (err) {
            throw new UsageError(`--key-encryption-key: ${(err as Error).message}`);
          }
          const key = await withAdminDatabase(flags, (ops) =>
            rotateSigningKey(ops, kek, flags.alg),
          );
          console.log(key.kid);
        }),
    ),
  );
  return keys;
}
