/**
 * packages/pgauth/sql/schema.sql is what the migrations give: `npm run schema -- --check`
 * migrates a new database, dumps schema pgauth and compares. PostgreSQL only: the file is a
 * pg_dump of a PostgreSQL server, which PGlite does not run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adminUrl, onPostgres } from './helpers/db.ts';

const SCRIPT = fileURLToPath(new URL('../scripts/schema.js', import.meta.url));
const SCHEMA = fileURLToPath(new URL('../packages/pgauth/sql/schema.sql', import.meta.url));
const postgresOnly = onPostgres
  ? false
  : 'PostgreSQL only: schema.sql is a pg_dump of a PostgreSQL server, which PGlite is not';

/** Runs scripts/schema.js; resolves with its exit code and output, whatever the code. */
function schemaScript(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SCRIPT, '--url', adminUrl, ...args],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

let dir: string | null = null;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the committed schema.sql is what the migrations give (npm run schema -- --check exits 0)', {
  skip: postgresOnly,
}, async () => {
  const r = await schemaScript('--check');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /is up to date/);
});

test('--check exits 1 with the first difference and how to fix it when the file differs', {
  skip: postgresOnly,
}, async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgauth-schema-'));
  const stale = join(dir, 'schema.sql');
  const text = await readFile(SCHEMA, 'utf8');
  const tampered = text.replace(
    /^CREATE TRIGGER sessions_notify_truncate .*\n/m,
    '-- (trigger missing)\n',
  );
  await writeFile(stale, tampered);
  const r = await schemaScript('--check', '--file', stale);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /is not what the migrations give\. Run npm run schema and commit the result/);
  assert.match(
    r.out,
    /committed: -- \(trigger missing\)\n {2}generated: CREATE TRIGGER sessions_notify_truncate/,
  );
  assert.equal(await readFile(stale, 'utf8'), tampered, '--check writes nothing');
});

test('schema.sql says it is generated, holds the current functions and no rows', async () => {
  const text = await readFile(SCHEMA, 'utf8');
  assert.match(
    text,
    /^-- GENERATED FILE: do not edit, and never apply it\. npm run schema writes it\./,
  );
  assert.match(text, /CREATE TRIGGER sessions_notify_truncate AFTER TRUNCATE ON pgauth\.sessions/);
  assert.doesNotMatch(text, /^(COPY|INSERT) /m, 'no table rows, so no common passwords');
  assert.doesNotMatch(text, /^(SET |\\restrict|-- Dumped )/m, 'no preamble that varies');
});
