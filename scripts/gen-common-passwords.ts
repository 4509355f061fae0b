/**
 * Writes the common-password list into sql/migrations/0009_security_fixes.sql, between the lines
 * `-- <common-passwords>` and `-- </common-passwords>`: every entry of the ranked list that ships
 * with @zxcvbn-ts/language-common (MIT), in lower case, or the first [count] of them. Run it while
 * that migration is unreleased; afterwards a new list goes into a new migration, as an applied
 * migration file must never be edited. (0003_common_passwords.sql was written by an earlier
 * version of this script, with count 10000; the entries it holds are not written again.)
 *
 *   node --import tsx scripts/gen-common-passwords.ts [count]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dictionary } from '@zxcvbn-ts/language-common';

const TARGET = new URL(
  '../packages/pgauth/sql/migrations/0009_security_fixes.sql',
  import.meta.url,
);
const BEGIN = '-- <common-passwords>\n';
const END = '-- </common-passwords>\n';

const count = Number(process.argv[2] ?? Number.POSITIVE_INFINITY);
/** The lines of 0003, whose passwords are in the table already. */
const earlier = new Set(
  (
    await readFile(
      new URL('../packages/pgauth/sql/migrations/0003_common_passwords.sql', import.meta.url),
      'utf8',
    )
  ).split('\n'),
);
const seen = new Set<string>();
for (const p of dictionary['passwords-common'] as string[]) {
  const word = p.toLowerCase();
  // The list is ranked by frequency; keep printable, single-line entries only.
  if (!/^[\x21-\x7e]+$/.test(word) || seen.has(word)) continue;
  seen.add(word);
  if (seen.size === count) break;
}
const added = [...seen].filter((w) => !earlier.has(w));
const body = added.join('\n');
if (body.includes('$pw$')) throw new Error('list contains the dollar-quote tag');
const longest = Math.max(...[...seen].map((w) => w.length));
// pgauth._is_common_password looks for entries of at most 20 characters.
if (longest > 20) throw new Error(`an entry has ${longest} characters; the SQL assumes 20`);

const rootPackage = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const version = rootPackage.devDependencies['@zxcvbn-ts/language-common'];
const block = `${BEGIN}-- ${seen.size} passwords from @zxcvbn-ts/language-common ${version} (MIT), ranked by frequency, lower case;
-- the ${seen.size - added.length} that 0003_common_passwords.sql has already are not repeated here.
insert into pgauth.common_passwords (password)
select w from unnest(string_to_array($pw$${body}$pw$, E'\\n')) as w
on conflict do nothing;
${END}`;

const sql = await readFile(TARGET, 'utf8');
const start = sql.indexOf(BEGIN);
const end = sql.indexOf(END);
if (start < 0 || end < start)
  throw new Error(`no ${BEGIN.trim()} … ${END.trim()} block in the file`);
await writeFile(TARGET, sql.slice(0, start) + block + sql.slice(end + END.length));
console.log(`wrote ${added.length} passwords (${seen.size} with those of 0003)`);
