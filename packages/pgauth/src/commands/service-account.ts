import { Command, Option } from 'commander';
import type { ApiKeyRow, ServiceAccountRow, TimeArg } from '../operations.ts';
import { withAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { collect, humanTime, parseTimeArg, printAs, printJson, printTable } from './output.ts';

function printAccounts(accounts: readonly ServiceAccountRow[]): void {
  printTable(
    accounts,
    'no service accounts',
    ['NAME', 'ID', 'ROLES', 'TOKENS', 'KEYS', 'CREATED', 'STATE'],
    (a) => [
      a.name,
      a.id,
      a.roles.join(',') || '-',
      a.access_token_format ?? '(setting)',
      String(a.live_api_keys),
      humanTime(a.created_at),
      a.disabled_at ? `disabled ${humanTime(a.disabled_at)}` : 'active',
    ],
  );
}

function printKeys(keys: readonly ApiKeyRow[]): void {
  printTable(
    keys,
    'no API keys',
    ['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
    (k) => [
      k.id,
      k.name,
      humanTime(k.created_at),
      k.expires_at ? humanTime(k.expires_at) : 'never',
      k.last_used_at ? humanTime(k.last_used_at) : 'never',
      k.revoked_at ? `revoked ${humanTime(k.revoked_at)}` : 'live',
    ],
  );
}

/** `pgauth service-account`: create, list and disable service accounts. */
export function serviceAccountCommand(): Command {
  const cmd = new Command('service-account').description(
    'manage service accounts (machine identities holding roles)',
  );

  cmd.addCommand(
    withDatabaseOptions(
      new Command('create')
        .description('create a service account; prints its id')
        .argument('<name>', 'a-z first, then a-z 0-9 _ . - (at most 63)')
        .option('--role <role>', 'a role it holds (repeat for several)', collect, [] as string[])
        .addOption(
          new Option(
            '--token-format <format>',
            'access tokens it gets from client credentials (default: settings.access_token_format)',
          ).choices(['opaque', 'jwt']),
        )
        .action(
          async (name: string, flags: DatabaseFlags & { role: string[]; tokenFormat?: string }) => {
            const id = await withAdminDatabase(flags, async (ops) => {
              const created = await ops.createServiceAccount(name, flags.role);
              if (flags.tokenFormat) {
                await ops.setServiceAccountTokenFormat(name, flags.tokenFormat as 'opaque' | 'jwt');
              }
              return created;
            });
            console.log(id);
          },
        ),
    ),
  );

  cmd.addCommand(
    withDatabaseOptions(
      new Command('list')
        .description('list service accounts by name')
        .option('--json', 'print JSON (an array of accounts)')
        .action(async (flags: DatabaseFlags & { json?: boolean }) => {
          const accounts = await withAdminDatabase(flags, (ops) => ops.listServiceAccounts());
          printAs(flags.json, accounts, printAccounts);
        }),
    ),
  );

  cmd.addCommand(
    withDatabaseOptions(
      new Command('disable')
        .description('disable a service account: its keys and tokens stop validating at once')
        .argument('<name>', 'the service account')
        .action(async (name: string, flags: DatabaseFlags) => {
          await withAdminDatabase(flags, (ops) => ops.disableServiceAccount(name));
        }),
    ),
  );
  return cmd;
}

/** `pgauth api-key`: create, list and revoke the API keys of a service account. */
export function apiKeyCommand(): Command {
  const cmd = new Command('api-key').description('manage the API keys of service accounts');

  cmd.addCommand(
    withDatabaseOptions(
      new Command('create')
        .description(
          'create an API key; prints the key (shown this once, stored only hashed), and its id on stderr',
        )
        .argument('<service-account>', 'the service account')
        .argument('<name>', 'what the key is for (1 to 64 characters)')
        .option(
          '--expires <time>',
          'when it expires: a time or a duration (30d); default never',
          parseTimeArg,
        )
        .option('--json', 'print JSON {"id", "key"}')
        .action(
          async (
            account: string,
            name: string,
            flags: DatabaseFlags & { expires?: TimeArg; json?: boolean },
          ) => {
            const key = await withAdminDatabase(flags, (ops) =>
              ops.createApiKey(account, name, flags.expires ?? null),
            );
            if (flags.json) {
              printJson(key);
              return;
            }
            console.error(`api key ${key.id}`);
            console.log(key.key);
          },
        ),
    ),
  );

  cmd.addCommand(
    withDatabaseOptions(
      new Command('list')
        .description('list the API keys of a service account, newest first (never the keys)')
        .argument('<service-account>', 'the service account')
        .option('--json', 'print JSON (an array of keys)')
        .action(async (account: string, flags: DatabaseFlags & { json?: boolean }) => {
          const keys = await withAdminDatabase(flags, (ops) => ops.listApiKeys(account));
          printAs(flags.json, keys, printKeys);
        }),
    ),
  );

  cmd.addCommand(
    withDatabaseOptions(
      new Command('revoke')
        .description('revoke an API key and the access tokens issued for it')
        .argument('<id>', 'the key id (pgauth api-key list)')
        .action(async (id: string, flags: DatabaseFlags) => {
          const revoked = await withAdminDatabase(flags, (ops) => ops.revokeApiKey(id));
          console.log(revoked ? 'revoked' : 'already revoked');
        }),
    ),
  );
  return cmd;
}
