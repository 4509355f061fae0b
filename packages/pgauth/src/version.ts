import { readFileSync } from 'node:fs';

/** The version of the pgauth package, as its package.json gives it. */
export const VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;
