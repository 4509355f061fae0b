#!/usr/bin/env node
// Builds both packages: compiles each to dist/ (JavaScript and declaration files), the client
// first since the server's build reads its declarations, then writes the embedded engine's
// snapshot (packages/pgauth/snapshot/: a data folder already migrated, that a new embedded
// database starts from), then the admin console (packages/pgauth/console/, built by Vite into
// packages/pgauth/console-dist/, each file beside its brotli and gzip forms, so the gateway
// compresses nothing while serving). Run by `npm ci` (prepare), `npm test` and before packing.
//
// `--if-changed` (what `npm test` passes) skips the build when its outputs are there and none of
// its inputs changed since the last build: the packages' sources, SQL, console and build
// settings, the lock file and this script, read in whole (a hash of every file, not of dates).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const INPUTS = [
  'package-lock.json',
  'tsconfig.base.json',
  'scripts/build.js',
  'packages/client/package.json',
  'packages/client/tsconfig.build.json',
  'packages/client/src',
  'packages/pgauth/package.json',
  'packages/pgauth/tsconfig.build.json',
  'packages/pgauth/src',
  'packages/pgauth/sql',
  'packages/pgauth/console',
];
const OUTPUTS = [
  'packages/client/dist',
  'packages/pgauth/dist',
  'packages/pgauth/snapshot',
  'packages/pgauth/console-dist',
];
const STAMP = 'node_modules/.cache/pgauth-build/inputs.sha256';

/** A hash of every input file, its path and its bytes, in a fixed order. */
function inputsHash() {
  const hash = createHash('sha256');
  const add = (path) => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) add(join(path, name));
      return;
    }
    hash.update(`${path}\0`).update(readFileSync(path)).update('\0');
  };
  for (const path of INPUTS) add(path);
  return hash.digest('hex');
}

const inputs = inputsHash();
const built = existsSync(STAMP) ? readFileSync(STAMP, 'utf8') : '';
if (process.argv.includes('--if-changed') && built === inputs && OUTPUTS.every(existsSync)) {
  console.log('build: up to date (no input changed since the last build)');
  process.exit(0);
}
// A build that stops half-way leaves no stamp: the next one starts again.
rmSync(STAMP, { force: true });

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

const { build } = await import('vite');
await build({ configFile: 'packages/pgauth/console/vite.config.ts' });
const compress = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      compress(path);
      continue;
    }
    if (!/\.(html|js|css|svg|json)$/.test(name)) continue;
    const body = readFileSync(path);
    const br = brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
    const gz = gzipSync(body, { level: 9 });
    // A compressed form is kept only where it is smaller.
    if (br.length < body.length) writeFileSync(`${path}.br`, br);
    if (gz.length < body.length) writeFileSync(`${path}.gz`, gz);
  }
};
compress('packages/pgauth/console-dist');

mkdirSync(join(STAMP, '..'), { recursive: true });
writeFileSync(STAMP, inputs);
