import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
/**
 * The configuration of `pgauth serve`: flags and environment variables (commander reads both),
 * validated once here at start, with one clear message per bad value. No other module reads
 * process.env.
 */
import { DEFAULT_DATA_DIR } from './db/open.ts';
import { exactOrigin } from './server/cors.ts';
import { parseKeyEncryptionKey } from './server/signing-keys.ts';

export interface RateLimitConfig {
  /** Length of one rate-limit window in milliseconds. */
  windowMs: number;
  /** Login attempts per client IP and per window. */
  loginPerIp: number;
  /** Login attempts per username (as the database's lower() folds it) and per window. */
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
  /** Where LISTEN goes (default: databaseUrl): a direct connection when the URL is a pooler. */
  listenUrl: string | undefined;
  /** Read replicas for validation and introspection. */
  readUrls: string[];
  /** A replica further behind than this is not asked. */
  maxReplicaLagMs: number;
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
  trustProxy: boolean | number | string;
  /** Origins whose pages may call the gateway (CORS); empty: none. */
  corsOrigins: string[];
  /** Where /metrics has a listener of its own; null: on the main port, to this host only. */
  metricsListen: { host: string; port: number } | null;
  logLevel: string;
  rateLimit: RateLimitConfig;
  /** The validation cache of GET /v1/session and /v1/auth/check; false with --no-cache. */
  cache: { maxEntries: number; maxAgeMs: number } | false;
  /** The mail sender of this process (--smtp-url), or null: the outbox waits for another. */
  mail: { smtpUrl: string; from: string; publicUrl: string } | null;
  /** The key-encryption key of the JWT signing keys (32 bytes), or null: no JWT is issued. */
  keyEncryptionKey: Buffer | null;
  /** How often this gateway runs pgauth's retention (purge); 0: never, cron runs `pgauth purge`. */
  purgeIntervalMs: number;
  /** The issuer of JWT access tokens and discovery, without a trailing /; null: each request's origin. */
  issuer: string | null;
}

/**
 * Every option of `pgauth serve`: its flag, environment variable, help text and default, in this
 * one place; the command (commands/serve.ts) is built from it and serveConfig parses with it.
 * Integers carry their range.
 */
export const SERVE_OPTIONS = {
  listenUrl: {
    flag: '--listen-url <url>',
    env: 'PGAUTH_LISTEN_URL',
    help: 'PostgreSQL URL for LISTEN (revocation events), a direct connection to the primary: LISTEN through a transaction pooler hears nothing (default: --database-url)',
    default: undefined,
  },
  readUrl: {
    flag: '--read-url <url>',
    env: 'PGAUTH_READ_URLS',
    help: 'a read replica for validation and introspection; repeat for several (the variable: URLs separated by spaces)',
    default: undefined,
    repeatable: true,
  },
  maxReplicaLag: {
    flag: '--max-replica-lag <ms>',
    env: 'PGAUTH_MAX_REPLICA_LAG',
    help: 'a read replica further behind the primary than this is not used',
    default: 1000,
    min: 0,
    max: 3_600_000,
  },
  port: {
    flag: '--port <port>',
    env: 'PORT',
    help: 'HTTP port (0: any free port)',
    default: 8080,
    min: 0,
    max: 65535,
  },
  host: {
    flag: '--host <host>',
    env: 'HOST',
    help: 'address to listen on (0.0.0.0: every interface)',
    default: '127.0.0.1',
  },
  sqlPort: {
    flag: '--sql-port <port>',
    env: 'PGAUTH_SQL_PORT',
    help: 'embedded database: port of its PostgreSQL wire-protocol endpoint on 127.0.0.1 (0: any free port)',
    default: 0,
    min: 0,
    max: 65535,
  },
  poolSize: {
    flag: '--pool-size <n>',
    env: 'PGAUTH_POOL_SIZE',
    help: 'database connections',
    default: 10,
    min: 1,
    max: 1000,
  },
  statementTimeoutMs: {
    flag: '--statement-timeout-ms <ms>',
    env: 'PGAUTH_STATEMENT_TIMEOUT_MS',
    help: 'PostgreSQL statement timeout (0: none)',
    default: 5000,
    min: 0,
    max: 3_600_000,
  },
  hashConcurrency: {
    flag: '--hash-concurrency <n>',
    env: 'PGAUTH_HASH_CONCURRENCY',
    help: 'password-hashing calls at once (default: half the pool); excess queue, then 503',
    default: undefined,
    min: 1,
    max: 1000,
  },
  trustProxy: {
    flag: '--trust-proxy <value>',
    env: 'PGAUTH_TRUST_PROXY',
    help: 'how X-Forwarded-For gives the client IP: a hop count (the proxies in front), or addresses/CIDRs of the trusted proxies; true believes any client (warned)',
    default: 'false',
  },
  keyEncryptionKey: {
    flag: '--key-encryption-key <key>',
    env: 'PGAUTH_KEY_ENCRYPTION_KEY',
    help: 'the key (32 random bytes: 64 hex digits or base64, e.g. `openssl rand -base64 32`) under which the private JWT signing keys are stored encrypted; needed to issue JWT access tokens (settings.access_token_format jwt); prefer the variable, a flag shows in ps',
    default: undefined,
  },
  issuer: {
    flag: '--issuer <url>',
    env: 'PGAUTH_ISSUER',
    help: 'the issuer of JWT access tokens (iss) and of the discovery documents, an https:// (or http://) URL without query or fragment, the same on every gateway behind one load balancer; default: the origin each request reached (scheme and host, trusted proxy headers applied)',
    default: undefined,
  },
  corsOrigin: {
    flag: '--cors-origin <origin>',
    env: 'PGAUTH_CORS_ORIGIN',
    help: 'an origin (scheme://host[:port]) whose web pages may call the gateway (CORS); repeatable, or comma-separated; default: none',
    default: undefined,
    repeatable: true,
  },
  metricsListen: {
    flag: '--metrics-listen <host:port>',
    env: 'PGAUTH_METRICS_LISTEN',
    help: 'serve /metrics on this address of its own (a port alone: 127.0.0.1); default: /metrics on the main port, to clients on this host only',
    default: undefined,
  },
  bodyLimit: {
    flag: '--body-limit <bytes>',
    env: 'PGAUTH_BODY_LIMIT',
    help: 'largest request body',
    default: 16_384,
    min: 1024,
    max: 1 << 20,
  },
  logLevel: {
    flag: '--log-level <level>',
    env: 'PGAUTH_LOG_LEVEL',
    help: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
  cacheMaxEntries: {
    flag: '--cache-max-entries <n>',
    env: 'PGAUTH_CACHE_MAX_ENTRIES',
    help: 'validations kept in the cache',
    default: 10_000,
    min: 1,
    max: 10_000_000,
  },
  cacheMaxAgeMs: {
    flag: '--cache-max-age-ms <ms>',
    env: 'PGAUTH_CACHE_MAX_AGE_MS',
    help: 'longest a validation is served from the cache (never past the session expiry)',
    default: 60_000,
    min: 1,
    max: 86_400_000,
  },
  rateWindowMs: {
    flag: '--rate-window-ms <ms>',
    env: 'PGAUTH_RATE_WINDOW_MS',
    help: 'rate-limit window',
    default: 60_000,
    min: 1000,
    max: 86_400_000,
  },
  loginRateIp: {
    flag: '--login-rate-ip <n>',
    env: 'PGAUTH_LOGIN_RATE_IP',
    help: 'logins per client IP and window',
    default: 30,
    min: 1,
    max: 1_000_000,
  },
  loginRateUser: {
    flag: '--login-rate-user <n>',
    env: 'PGAUTH_LOGIN_RATE_USER',
    help: 'logins per username and window',
    default: 10,
    min: 1,
    max: 1_000_000,
  },
  registerRateIp: {
    flag: '--register-rate-ip <n>',
    env: 'PGAUTH_REGISTER_RATE_IP',
    help: 'registrations per client IP and window',
    default: 10,
    min: 1,
    max: 1_000_000,
  },
  registerRateUser: {
    flag: '--register-rate-user <n>',
    env: 'PGAUTH_REGISTER_RATE_USER',
    help: 'registrations per username and window',
    default: 5,
    min: 1,
    max: 1_000_000,
  },
  smtpUrl: {
    flag: '--smtp-url <url>',
    env: 'PGAUTH_SMTP_URL',
    help: 'deliver the mail outbox (email verification, password reset) from this process: smtp://host:port or smtps://host:port, with user:password@ if the server asks; needs --mail-from and --public-url (default: off, `pgauth mail send-pending` delivers)',
    default: undefined,
  },
  mailFrom: {
    flag: '--mail-from <address>',
    env: 'PGAUTH_MAIL_FROM',
    help: 'the From address of the mails, e.g. "Example <no-reply@example.com>"',
    default: undefined,
  },
  publicUrl: {
    flag: '--public-url <url>',
    env: 'PGAUTH_PUBLIC_URL',
    help: 'the base of the links in the mails: the web app with the pages /verify-email and /reset-password (http:// or https://)',
    default: undefined,
  },
  purgeInterval: {
    flag: '--purge-interval <seconds>',
    env: 'PGAUTH_PURGE_INTERVAL',
    help: "run pgauth's retention this often: delete ended sessions, spent refresh salts and expired token rows (pgauth.purge_expired, pgauth.purge_service_tokens; needs pgauth_admin; one gateway at a time does it); 0: never, run `pgauth purge` from cron instead",
    default: 60,
    min: 0,
    max: 86_400,
  },
  refreshRateIp: {
    flag: '--refresh-rate-ip <n>',
    env: 'PGAUTH_REFRESH_RATE_IP',
    help: 'refreshes per client IP and window',
    default: 60,
    min: 1,
    max: 1_000_000,
  },
} as const;

type ServeOptionKey = keyof typeof SERVE_OPTIONS;

const o = SERVE_OPTIONS;
export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  windowMs: o.rateWindowMs.default,
  loginPerIp: o.loginRateIp.default,
  loginPerUser: o.loginRateUser.default,
  registerPerIp: o.registerRateIp.default,
  registerPerUser: o.registerRateUser.default,
  refreshPerIp: o.refreshRateIp.default,
};

/**
 * The raw option values commander hands over: strings from flags or the environment, a list of
 * them for a repeatable option.
 */
export type ServeFlags = {
  [K in ServeOptionKey]?: (typeof o)[K] extends { repeatable: true } ? string | string[] : string;
} & {
  databaseUrl?: string;
  dataDir?: string;
  migrate?: boolean;
  cache?: boolean;
};

/** A configuration value that cannot be used; the message names the flag and the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An integer option of SERVE_OPTIONS from its flag or variable; `fallback` when unset. */
function integer(
  flags: ServeFlags,
  key: { [K in ServeOptionKey]: (typeof o)[K] extends { min: number } ? K : never }[ServeOptionKey],
  fallback?: number,
  max: number = o[key].max,
): number {
  const { flag, env, min } = o[key];
  const name = `${flag.split(' ')[0]} / ${env}`;
  const value = flags[key];
  const dflt = fallback ?? o[key].default;
  if (value === undefined || value === '') {
    if (dflt === undefined) throw new ConfigError(`${name} has no default`);
    return dflt;
  }
  if (!/^\d+$/.test(value.trim()))
    throw new ConfigError(`${name} must be an integer, got "${value}"`);
  const n = Number(value.trim());
  if (n < min || n > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** The names proxy-addr knows for address ranges. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** An address or CIDR as proxy-addr reads it (IPv4, IPv6, with an optional /prefix). */
function proxyAddress(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  // A prefix length, or an IPv4 netmask such as 255.255.255.0.
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(prefix) === 4;
}

/**
 * --trust-proxy: false; a hop count (how many proxies stand between the clients and the
 * gateway); addresses/CIDRs of the trusted proxies; or true (every X-Forwarded-For entry is
 * believed, so the leftmost, which the client writes, becomes the client IP: warned at start).
 */
function trustProxy(value: string | undefined): boolean | number | string {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 32) {
      throw new ConfigError(`--trust-proxy / PGAUTH_TRUST_PROXY: a hop count is 0 to 32, got ${v}`);
    }
    return hops === 0 ? false : hops;
  }
  const entries = v.split(',').map((e) => e.trim());
  if (entries.some((e) => !proxyAddress(e))) {
    throw new ConfigError(
      `--trust-proxy / PGAUTH_TRUST_PROXY must be true, false, a hop count, or addresses/CIDRs of trusted proxies (or loopback, linklocal, uniquelocal), got "${value}"`,
    );
  }
  return entries.join(', ');
}

/** --cors-origin: every value, split at commas, must be an exact origin; never `*` or null. */
function corsOrigins(value: string | string[] | undefined): string[] {
  const values = (Array.isArray(value) ? value : [value ?? ''])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const v of values) {
    if (exactOrigin(v) === null) {
      throw new ConfigError(
        `--cors-origin / PGAUTH_CORS_ORIGIN must be exact origins such as https://app.example.com (scheme, host and port, no path, no wildcard), got "${v}"`,
      );
    }
  }
  return [...new Set(values)];
}

/** --metrics-listen: host:port, [v6]:port, or a port alone (on 127.0.0.1); null when unset. */
function metricsListen(value: string | undefined): { host: string; port: number } | null {
  const v = value?.trim() ?? '';
  if (v === '') return null;
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/\s]+)):)?(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new ConfigError(
      `--metrics-listen / PGAUTH_METRICS_LISTEN must be host:port, [IPv6]:port or a port, got "${v}"`,
    );
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** Whether `url` names a PostgreSQL server: postgres:// or postgresql://. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** A URL option that needs --database-url beside it: a postgres:// URL, or undefined when unset. */
function postgresUrl(
  value: string | undefined,
  spec: { flag: string; env: string },
  databaseUrl: string | undefined,
): string | undefined {
  const url = value?.trim() || undefined;
  if (url === undefined) return undefined;
  const name = `${spec.flag.split(' ')[0]} / ${spec.env}`;
  if (!isPostgresUrl(url)) {
    throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`);
  }
  if (!databaseUrl) throw new ConfigError(`${name} needs --database-url / DATABASE_URL`);
  return url;
}

/** The mail settings: all three, or none (then no sender runs in this process). */
export function mailConfig(flags: {
  smtpUrl?: string | undefined;
  mailFrom?: string | undefined;
  publicUrl?: string | undefined;
}): { smtpUrl: string; from: string; publicUrl: string } | null {
  const smtpUrl = flags.smtpUrl?.trim() || undefined;
  const from = flags.mailFrom?.trim() || undefined;
  const publicUrl = flags.publicUrl?.trim() || undefined;
  if (smtpUrl === undefined) return null;
  const name = (k: 'smtpUrl' | 'mailFrom' | 'publicUrl') =>
    `${o[k].flag.split(' ')[0]} / ${o[k].env}`;
  let smtp: URL;
  try {
    smtp = new URL(smtpUrl);
  } catch {
    throw new ConfigError(`${name('smtpUrl')} must be an smtp:// or smtps:// URL`);
  }
  if (!['smtp:', 'smtps:'].includes(smtp.protocol) || smtp.hostname === '') {
    throw new ConfigError(`${name('smtpUrl')} must be an smtp:// or smtps:// URL with a host`);
  }
  if (from === undefined || !/^[^\r\n]*@[^\r\n]*$/.test(from) || from.length > 320) {
    throw new ConfigError(
      `${name('smtpUrl')} needs ${name('mailFrom')}, an address such as no-reply@example.com`,
    );
  }
  let base: URL | undefined;
  try {
    base = publicUrl === undefined ? undefined : new URL(publicUrl);
  } catch {
    base = undefined;
  }
  if (!base || !['http:', 'https:'].includes(base.protocol) || base.search || base.hash) {
    throw new ConfigError(
      `${name('smtpUrl')} needs ${name('publicUrl')}, an http:// or https:// URL without query or fragment (the base of the links in the mails)`,
    );
  }
  return { smtpUrl, from, publicUrl: (publicUrl as string).replace(/\/+$/, '') };
}

/** The key-encryption key, or null when unset; the message never repeats the value. */
function keyEncryptionKey(value: string | undefined): Buffer | null {
  if (value === undefined || value.trim() === '') return null;
  try {
    return parseKeyEncryptionKey(value);
  } catch (err) {
    throw new ConfigError(
      `--key-encryption-key / PGAUTH_KEY_ENCRYPTION_KEY: ${(err as Error).message}`,
    );
  }
}

/** The configured issuer, or null; a trailing / is dropped (endpoints are appended to it). */
export function issuer(value: string | undefined): string | null {
  const v = value?.trim();
  if (!v) return null;
  let url: URL | null;
  try {
    url = new URL(v);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
    throw new ConfigError(
      `${o.issuer.flag.split(' ')[0]} / ${o.issuer.env} must be an https:// or http:// URL without query or fragment, e.g. https://auth.example.com`,
    );
  }
  if (url.username || url.password) {
    throw new ConfigError(
      `${o.issuer.flag.split(' ')[0]} / ${o.issuer.env} must not hold a user name or password`,
    );
  }
  return v.replace(/\/+$/, '');
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
  const poolSize = integer(flags, 'poolSize');
  const logLevel = flags.logLevel ?? o.logLevel.default;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`--log-level / PGAUTH_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const host = flags.host?.trim() || o.host.default;
  const databaseUrl = flags.databaseUrl?.trim() || undefined;
  if (databaseUrl && !isPostgresUrl(databaseUrl)) {
    throw new ConfigError(
      '--database-url / DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
  }
  const listenUrl = postgresUrl(flags.listenUrl, o.listenUrl, databaseUrl);
  // A URL holds no blank: the variable's list splits on blanks (so may a flag's value).
  const readUrls = [flags.readUrl ?? []]
    .flat()
    .flatMap((u) => u.split(/\s+/))
    .filter((u) => u.trim() !== '')
    .map((u) => postgresUrl(u, o.readUrl, databaseUrl) as string);
  return {
    databaseUrl,
    listenUrl,
    readUrls,
    maxReplicaLagMs: integer(flags, 'maxReplicaLag'),
    dataDir: flags.dataDir?.trim() || DEFAULT_DATA_DIR,
    migrate: flags.migrate !== false,
    port: integer(flags, 'port'),
    host,
    sqlPort: integer(flags, 'sqlPort'),
    poolSize,
    statementTimeoutMs: integer(flags, 'statementTimeoutMs'),
    hashConcurrency: integer(flags, 'hashConcurrency', defaultHashConcurrency(poolSize), poolSize),
    bodyLimit: integer(flags, 'bodyLimit'),
    trustProxy: trustProxy(flags.trustProxy),
    corsOrigins: corsOrigins(flags.corsOrigin),
    metricsListen: metricsListen(flags.metricsListen),
    logLevel,
    cache:
      flags.cache === false
        ? false
        : {
            maxEntries: integer(flags, 'cacheMaxEntries'),
            maxAgeMs: integer(flags, 'cacheMaxAgeMs'),
          },
    mail: mailConfig(flags),
    keyEncryptionKey: keyEncryptionKey(flags.keyEncryptionKey),
    purgeIntervalMs: integer(flags, 'purgeInterval') * 1000,
    issuer: issuer(flags.issuer),
    rateLimit: {
      windowMs: integer(flags, 'rateWindowMs'),
      loginPerIp: integer(flags, 'loginRateIp'),
      loginPerUser: integer(flags, 'loginRateUser'),
      registerPerIp: integer(flags, 'registerRateIp'),
      registerPerUser: integer(flags, 'registerRateUser'),
      refreshPerIp: integer(flags, 'refreshRateIp'),
    },
  };
}
