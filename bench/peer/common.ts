/**
 * What the parts of scenario `peer` share: the sizes and each side's settings that the figures
 * depend on, the servers, and how a side's command lines are recorded.
 */
import type { Load } from '../lib/autocannon.ts';
import { gatewayCommand, NO_LOGIN_LIMITS, type Server } from '../lib/server.ts';

/** Live sessions on each side, 10 per user: every request carries one of them, in turn. */
export const SESSIONS = 1_000;
export const USERS = 100;
/** Users the login loads cycle through (the first 20 of the USERS), so that no row queues. */
export const LOGIN_USERS = 20;
/** pgauth's default bcrypt_cost (the settings row's default): each side at its default. */
export const LOGIN_COST = 11;
/** Better Auth's default cookie cache maxAge (5 minutes), in seconds. */
export const COOKIE_CACHE_MAX_AGE = 300;
/** pgauth serve's default validation cache: entries, and seconds an entry is kept. */
export const PGAUTH_CACHE = { entries: 10_000, maxAgeSeconds: 60 };
/** Better Auth's default password hash (@better-auth/utils/password, node:crypto scrypt). */
export const SCRYPT = 'scrypt N=16384 r=16 p=1 dkLen=64 (node:crypto, libuv thread pool)';
export const EMAIL_DOMAIN = 'bench.test';

export interface Settings {
  rounds: number;
  session: { connections: number; duration: number; warmup: number };
  login: { connections: number; duration: number; warmup: number };
}

export interface Servers {
  cached: Server;
  plain: Server;
  baOff: Server;
  baOn: Server;
  bare: Server;
}

/** Versions and settings that every comparison carries. */
export interface Facts {
  betterAuth: string;
  pgauth: string;
  node: string;
  postgres: string;
  scryptVerifyMs: number;
  bcryptVerifyMs: number;
}

/** The options of both pgauth gateways of the scenario (one adds --no-cache): rate limits out of
 * the way, and both cores for hashing, as Better Auth's scrypt gets them through libuv's pool. */
export const GATEWAY_OPTIONS = [...NO_LOGIN_LIMITS, '--hash-concurrency', '2'];

export const rateLimits =
  'off on both: Better Auth rateLimit.enabled false; pgauth serve --login-rate-ip and --login-rate-user 1000000 (its only per-request limits are on login, register, refresh)';

/** The command lines of a comparison's side, for the record: its server, then its load. */
export const baCommand = (server: Server, extra: string, l: Load[]): string =>
  `node --import tsx bench/peer/better-auth-server.ts --database-url <url> --secret-file <file>${extra}; ${(l[0]?.command ?? '').replace(server.url, '<url>')}`;
export const gwCommand = (server: Server, extra: string[], l: Load[]): string =>
  `${gatewayCommand('<url>', [...GATEWAY_OPTIONS, ...extra])}; ${(l[0]?.command ?? '').replace(server.url, '<url>')}`;

export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
