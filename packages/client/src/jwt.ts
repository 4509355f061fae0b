/**
 * Local verification of JWT access tokens (sessions and client credentials in jwt format): the
 * signature and expiry are checked here against pgauth's published keys, then the token is looked
 * up as any token is (cached while the revocation feed is proven, asked otherwise), so that a
 * logout, a lock, a revoked key or a disabled account stops its JWTs in this process as fast as
 * its opaque tokens.
 *
 * Two kinds of JWT, told apart by the signed claim subject_type:
 * - a client-credentials token (`service_account`) has a row of its own: pgauth.validate_jti, and
 *   its answer is cached under `pgj_<jti>`, whose SHA-256 the database also computes to notify it;
 * - a session's token (`user`) stands for the session's current opaque access token, whose
 *   SHA-256 starts with the jti (migration 0017): pgauth.validate_session_jwt(sid, jti), and its
 *   answer is cached under the key the notifications of that access token carry (the first 16 hex
 *   digits of the jti), so that a logout or a lock evicts it on the same message.
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

/** What the lookup of a verified JWT needs from its (signed) claims. */
export interface JwtClaims {
  jti: string;
  /** The session (a user's token) or the API key (client credentials) it was issued for. */
  sid: string | null;
  subjectType: 'user' | 'service_account';
  /** exp, in epoch ms. */
  expiresAt: number;
}

export interface JwtVerifier {
  /** The claims of a JWT whose signature and expiry check out against the published keys, or null. */
  verify(token: string): Promise<JwtClaims | null>;
}

/** Tokens whose signature checked out, remembered until they expire: a signature is checked once. */
const VERIFIED_MAX = 10_000;

/**
 * Verifies with the keys of `source`, read again on an unknown kid (at most every 30 s). A token
 * verified once is remembered (its jti, until its exp; at most 10,000, oldest first out): whether
 * it is still live is the jti lookup's business, not the signature's.
 */
export function jwtVerifier(source: KeySource): JwtVerifier {
  const verified = new Map<string, JwtClaims>();
  const remember = (token: string, claims: JwtClaims): void => {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(token, claims);
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
        if (known.expiresAt > Date.now()) return known;
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
        if (typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return null;
        const claims: JwtClaims = {
          jti: payload.jti,
          sid: typeof payload.sid === 'string' ? payload.sid : null,
          // Tokens of client credentials carried service_account before sessions had JWTs.
          subjectType: payload.subject_type === 'user' ? 'user' : 'service_account',
          expiresAt: payload.exp * 1000,
        };
        remember(token, claims);
        return claims;
      } catch (err) {
        if (err instanceof j.errors.JOSEError) return null;
        throw err;
      }
    },
  };
}

export interface JwtValidation {
  verifier: JwtVerifier;
  /** Whether the token of these claims is still live (the database or the gateway says). */
  lookup(claims: JwtClaims, token: string): Promise<Session | null>;
  /** The revocation-aware cache, when there is one (see the module comment for its keys). */
  cache: SessionCache | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The key a session's JWT is named by in revocation events: that of the opaque access token it
 * stands for, the first 8 bytes of whose SHA-256 are the first 16 hex digits of the jti.
 */
export function sessionJwtKey(jti: string): string {
  return jti.replaceAll('-', '').slice(0, 16);
}

/**
 * The sid and jti of a session's JWT, read without checking the signature: for logout, where the
 * database checks that they name the session's current token (pgauth.logout_jwt). Null for
 * anything else.
 */
export function sessionJwtIds(token: string): { sid: string; jti: string } | null {
  if (!looksLikeJwt(token)) return null;
  try {
    const payload = JSON.parse(
      Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    const { sid, jti, subject_type } = payload;
    if (subject_type !== 'user' || typeof sid !== 'string' || typeof jti !== 'string') return null;
    return UUID.test(sid) && UUID.test(jti) ? { sid, jti } : null;
  } catch {
    return null;
  }
}

/**
 * `validate` extended to JWT access tokens: a JWT is verified locally, then looked up (from the
 * cache while it may serve); a token with the jti prefix is never valid. The session answered
 * expires no later than the JWT.
 */
export function withJwt(
  validate: (token: string) => Promise<Session | null>,
  jwt: JwtValidation | null,
): (token: string) => Promise<Session | null> {
  const verified = async (v: JwtValidation, token: string): Promise<Session | null> => {
    const claims = await v.verifier.verify(token);
    if (claims === null || !UUID.test(claims.jti)) return null;
    const user = claims.subjectType === 'user';
    if (user && (claims.sid === null || !UUID.test(claims.sid))) return null;
    const entry = `${JTI_PREFIX}${claims.jti}`;
    const key = user ? sessionJwtKey(claims.jti) : undefined;
    const cache = v.cache;
    let answer = cache?.get(entry);
    if (answer === undefined) {
      const ticket = cache?.ticket();
      answer = await v.lookup(claims, token);
      if (cache && ticket) cache.put(entry, answer, ticket, Date.now(), key);
    }
    if (answer && answer.expiresAt.getTime() > claims.expiresAt) {
      return { ...answer, expiresAt: new Date(claims.expiresAt) };
    }
    return answer;
  };
  // Not async itself: an opaque token (the hot path) goes on to `validate` without a promise more.
  return (token) => {
    if (token.startsWith(JTI_PREFIX)) return Promise.resolve(null);
    if (!jwt || !looksLikeJwt(token)) return validate(token);
    return verified(jwt, token);
  };
}
