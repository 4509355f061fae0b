import { availableParallelism } from 'node:os';
/**
 * The configuration of `pgauth serve`: flags and environment variables (commander reads both),
 * validated once here at start, with one clear message per bad value. No other module reads
 * process.env.
 */
import { DEFAULT_DATA_DIR } from './db/open.ts';

export interface RateLimitConfig {
  /** Length of one rate-limit window in milliseconds. */
  windowMs: number;
  /** Login attempts per client IP and per window. */
  loginPerIp: number;
  /** Login attempts per username (case-insensitive) and per window. */
  loginPerUser: number;
  /** Registrations per client IP and per window. */
  registerPerIp: number;
  /** Registration attempts per username and per window. */
  registerPerUser: number;
  /** Refreshes per client IP and per window. */
  refreshPerIp: number;
}

export interface ServeConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  migrate: boolean;
  port: number;
  host: string;
  /** Port of the wire-protocol endpoint of the embedded database (0 = any free port). */
  sqlPort: number;
  poolSize: number;
  statementTimeoutMs: number;
  /** Concurrent password hashing calls (login, register, password change) before queueing. */
  hashConcurrency: number;
  bodyLimit: number;
  trustProxy: boolean | string;
  logLevel: string;
  rateLimit: RateLimitConfig;
  /** The validation cache of GET /v1/session and /v1/auth/check; false with --no-cache. */
  cache: { maxEntries: number; maxAgeMs: number } | false;
}

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  windowMs: 60_000,
  loginPerIp: 30,
  loginPerUser: 10,
  registerPerIp: 10,
  registerPerUser: 5,
  refreshPerIp: 60,
};

/** The raw option values commander hands over (strings from flags or the environment). */
export interface ServeFlags {
  databaseUrl?: string;
  dataDir?: string;
  migrate?: boolean;
  port?: string;
  host?: string;
  sqlPort?: string;
  poolSize?: string;
  statementTimeoutMs?: string;
  hashConcurrency?: string;
  bodyLimit?: string;
  trustProxy?: string;
  logLevel?: string;
  rateWindowMs?: string;
  loginRateIp?: string;
  loginRateUser?: string;
  registerRateIp?: string;
  registerRateUser?: string;
  refreshRateIp?: string;
  cache?: boolean;
  cacheMaxEntries?: string;
  cacheMaxAgeMs?: string;
}

/** A configuration value that cannot be used; the message names the flag and the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(
  value: string | undefined,
  fallback: number,
  name: string,
  min: number,
  max: number,
): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value.trim()))
    throw new ConfigError(`${name} must be an integer, got "${value}"`);
  const n = Number(value.trim());
  if (n < min || n > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function trustProxy(value: string | undefined): boolean | string {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  // An address, a CIDR or a comma-separated list of them (proxy-addr syntax).
  if (!/^[0-9a-fA-F.:/, ]+$/.test(value)) {
    throw new ConfigError(
      `--trust-proxy / PGAUTH_TRUST_PROXY must be true, false, or addresses/CIDRs of trusted proxies, got "${value}"`,
    );
  }
  return value;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Password hashes at once, by default: half the pool, and one fewer than this host's cores, so
 * that a login flood always leaves a core to validations (bcrypt is pure CPU, and a database on
 * the same host hashes on the same cores). At least 1.
 */
export function defaultHashConcurrency(poolSize: number): number {
  return Math.max(1, Math.min(Math.floor(poolSize / 2), availableParallelism() - 1));
}

/** Validates the flags of `pgauth serve` once; throws ConfigError with a clear message. */
export function serveConfig(flags: ServeFlags): ServeConfig {
  const poolSize = integer(flags.poolSize, 10, '--pool-size / PGAUTH_POOL_SIZE', 1, 1000);
  const logLevel = flags.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`--log-level / PGAUTH_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const host = flags.host?.trim() || '127.0.0.1';
  const databaseUrl = flags.databaseUrl?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      '--database-url / DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
  }
  const d = DEFAULT_RATE_LIMITS;
  return {
    databaseUrl,
    dataDir: flags.dataDir?.trim() || DEFAULT_DATA_DIR,
    migrate: flags.migrate !== false,
    port: integer(flags.port, 8080, '--port / PORT', 0, 65535),
    host,
    sqlPort: integer(flags.sqlPort, 0, '--sql-port / PGAUTH_SQL_PORT', 0, 65535),
    poolSize,
    statementTimeoutMs: integer(
      flags.statementTimeoutMs,
      5000,
      '--statement-timeout-ms / PGAUTH_STATEMENT_TIMEOUT_MS',
      0,
      3_600_000,
    ),
    hashConcurrency: integer(
      flags.hashConcurrency,
      defaultHashConcurrency(poolSize),
      '--hash-concurrency / PGAUTH_HASH_CONCURRENCY',
      1,
      poolSize,
    ),
    bodyLimit: integer(flags.bodyLimit, 16_384, '--body-limit / PGAUTH_BODY_LIMIT', 1024, 1 << 20),
    trustProxy: trustProxy(flags.trustProxy),
    logLevel,
    cache:
      flags.cache === false
        ? false
        : {
            maxEntries: integer(
              flags.cacheMaxEntries,
              10_000,
              '--cache-max-entries / PGAUTH_CACHE_MAX_ENTRIES',
              1,
              10_000_000,
            ),
            maxAgeMs: integer(
              flags.cacheMaxAgeMs,
              60_000,
              '--cache-max-age-ms / PGAUTH_CACHE_MAX_AGE_MS',
              1,
              86_400_000,
            ),
          },
    rateLimit: {
      windowMs: integer(
        flags.rateWindowMs,
        d.windowMs,
        '--rate-window-ms / PGAUTH_RATE_WINDOW_MS',
        1000,
        86_400_000,
      ),
      loginPerIp: integer(flags.loginRateIp, d.loginPerIp, '--login-rate-ip', 1, 1_000_000),
      loginPerUser: integer(flags.loginRateUser, d.loginPerUser, '--login-rate-user', 1, 1_000_000),
      registerPerIp: integer(flags.registerRateIp, d.registerPerIp, '--register-rate-ip', 1, 1e6),
      registerPerUser: integer(
        flags.registerRateUser,
        d.registerPerUser,
        '--register-rate-user',
        1,
        1e6,
      ),
      refreshPerIp: integer(flags.refreshRateIp, d.refreshPerIp, '--refresh-rate-ip', 1, 1e6),
    },
  };
}
