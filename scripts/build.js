#!/usr/bin/env node
// Builds both packages: compiles each to dist/ (JavaScript and declaration files), the client
// first since the server's build reads its declarations, then writes the embedded engine's
// snapshot (packages/pgauth/snapshot/: a data folder already migrated, that a new embedded
// database starts from). Run by `npm ci` (prepare), `npm test` and before packing.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
for (const pkg of ['client', 'pgauth']) {
  rmSync(`packages/${pkg}/dist`, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', `packages/${pkg}/tsconfig.build.json`], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const { writeSnapshot } = await import('../packages/pgauth/dist/db/embedded.js');
await writeSnapshot();
