/**
 * What the pgauth server shares with the SDK: the database interface and its node-postgres
 * driver, the error registry's helpers, the cache and the revocation subscription. For pgauth's
 * own packages: not a public API, it may change in any release.
 */
export * from './cache.ts';
export * from './db/deadline.ts';
export * from './db/postgres.ts';
export type * from './db/types.ts';
export * from './errors.ts';
export * from './jwt.ts';
export * from './operations.ts';
export * from './probe.ts';
export * from './replicas.ts';
export * from './revocations.ts';
export * from './sql.ts';
export * from './tokens.ts';
export type * from './types.ts';
