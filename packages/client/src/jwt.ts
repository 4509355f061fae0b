/**
 * Local verification of JWT access tokens (client credentials in jwt format): the signature and
 * expiry are checked here against pgauth's published keys, then the token's jti is looked up as
 * any token is (cached while the revocation feed is proven, asked otherwise), so that a revoked
 * key or a disabled account stops its JWTs in this process as fast as its opaque tokens.
 *
 * `jose` is an optional peer dependency of @pgauth/client: it is imported only when a JWT must be
 * verified, and its absence is then a clear error (npm install jose), never a failure at import.
 *
 * Threat model: the jti of a JWT is readable by anyone who holds the token, so the cache key under
 * which its answer is kept (`pgj_<jti>`, whose SHA-256 the database also computes to notify it)
 * must never be accepted as a token: withJwt refuses every token with that prefix.
 */
import type { SessionCache } from './cache.ts';
import type { PublishedKey } from './operations.ts';
import type { Session } from './types.ts';

/** The prefix of the cache key of a JWT (its jti): never a token. */
export const JTI_PREFIX = 'pgj_';

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether a token has the shape of a compact JWS (and so is verified locally, not looked up). */
export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** Where the public keys come from: pgauth.published_signing_keys, or the gateway's JWKS. */
export type KeySource = () => Promise<{ keys: Record<string, unknown>[] }>;

type Jose = typeof import('jose');
let jose: Promise<Jose> | null = null;

/** `jose`, imported once, on first use; AuthError-free: a missing package is a fault to fix. */
export function loadJose(): Promise<Jose> {
  jose ??= import('jose').catch((err: unknown) => {
    jose = null;
    throw new Error(
      'verifying JWT access tokens needs the optional peer dependency jose: npm install jose',
      { cause: err },
    );
  });
  return jose;
}

/** A key source over pgauth.published_signing_keys (SQL mode, the gateway). */
export function databaseKeys(read: () => Promise<PublishedKey[]>): KeySource {
  return async () => ({ keys: (await read()).map((k) => k.public_jwk) });
}

/** A key source over a gateway's /.well-known/jwks.json (HTTP mode). */
export function remoteKeys(baseUrl: string, timeoutMs = 5_000): KeySource {
  return async () => {
    const res = await fetch(new URL('/.well-known/jwks.json', baseUrl), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`GET /.well-known/jwks.json answered ${res.status}`);
    return (await res.json()) as { keys: Record<string, unknown>[] };
  };
}

/** How often the keys are read again at most on an unknown kid, and in any case. */
const KEYS_COOLDOWN_MS = 30_000;
const KEYS_MAX_AGE_MS = 300_000;

export interface JwtVerifier {
  /** The jti of a JWT whose signature and expiry check out against the published keys, or null. */
  verify(token: string): Promise<string | null>;
}

/** Tokens whose signature checked out, remembered until they expire: a signature is checked once. */
const VERIFIED_MAX = 10_000;

/**
 * Verifies with the keys of `source`, read again on an unknown kid (at most every 30 s). A token
 * verified once is remembered (its jti, until its exp; at most 10,000, oldest first out): whether
 * it is still live is the jti lookup's business, not the signature's.
 */
export function jwtVerifier(source: KeySource): JwtVerifier {
  const verified = new Map<string, { jti: string; until: number }>();
  const remember = (token: string, jti: string, exp: number | undefined): void => {
    if (exp === undefined) return;
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(token, { jti, until: exp * 1000 });
  };
  let keys: { set: ReturnType<Jose['createLocalJWKSet']>; kids: Set<string>; at: number } | null =
    null;
  const load = async (j: Jose): Promise<NonNullable<typeof keys>> => {
    const jwks = await source();
    const kids = new Set(jwks.keys.map((k) => String(k.kid)));
    keys = {
      set: j.createLocalJWKSet(jwks as Parameters<Jose['createLocalJWKSet']>[0]),
      kids,
      at: Date.now(),
    };
    return keys;
  };
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.until > Date.now()) return known.jti;
        verified.delete(token);
      }
      const j = await loadJose();
      let kid: string | undefined;
      try {
        kid = j.decodeProtectedHeader(token).kid;
      } catch {
        return null;
      }
      if (!kid) return null;
      let k = keys;
      const age = k ? Date.now() - k.at : Number.POSITIVE_INFINITY;
      if (!k || age > KEYS_MAX_AGE_MS || (!k.kids.has(kid) && age > KEYS_COOLDOWN_MS)) {
        k = await load(j);
      }
      if (!k.kids.has(kid)) return null;
      try {
        const { payload } = await j.jwtVerify(token, k.set, {
          typ: 'at+jwt',
          algorithms: ['EdDSA', 'ES256', 'RS256'],
        });
        if (typeof payload.jti !== 'string') return null;
        remember(token, payload.jti, payload.exp);
        return payload.jti;
      } catch (err) {
        if (err instanceof j.errors.JOSEError) return null;
        throw err;
      }
    },
  };
}

export interface JwtValidation {
  verifier: JwtVerifier;
  /** Whether the token with this jti is still live (the database or the gateway says). */
  lookup(jti: string, token: string): Promise<Session | null>;
  /** The revocation-aware cache, when there is one: answers are kept under pgj_<jti>. */
  cache: SessionCache | null;
}

/**
 * `validate` extended to JWT access tokens: a JWT is verified locally, then its jti is looked up
 * (from the cache while it may serve); a token with the jti prefix is never valid.
 */
export function withJwt(
  validate: (token: string) => Promise<Session | null>,
  jwt: JwtValidation | null,
): (token: string) => Promise<Session | null> {
  const verified = async (v: JwtValidation, token: string): Promise<Session | null> => {
    const jti = await v.verifier.verify(token);
    if (jti === null || !/^[0-9a-f-]{36}$/.test(jti)) return null;
    const key = `${JTI_PREFIX}${jti}`;
    const cache = v.cache;
    const hit = cache?.get(key);
    if (hit !== undefined) return hit;
    const ticket = cache?.ticket();
    const answer = await v.lookup(jti, token);
    if (cache && ticket) cache.put(key, answer, ticket);
    return answer;
  };
  // Not async itself: an opaque token (the hot path) goes on to `validate` without a promise more.
  return (token) => {
    if (token.startsWith(JTI_PREFIX)) return Promise.resolve(null);
    if (!jwt || !looksLikeJwt(token)) return validate(token);
    return verified(jwt, token);
  };
}
