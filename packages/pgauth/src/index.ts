/**
 * `pgauth` as a library: the gateway app, the migration runner and the database drivers, for
 * embedding the gateway in a process of one's own. The command line is `bin/pgauth.js`.
 */

export { type DatabaseTarget, openDatabase } from './db/open.ts';
export { openPglite } from './db/pglite.ts';
export { migrate, readMigrations } from './migrate.ts';
export { type AppOptions, buildApp } from './server/app.ts';
