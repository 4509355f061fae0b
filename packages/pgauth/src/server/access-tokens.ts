/**
 * The access tokens the gateway answers: opaque as the database made them, or JWTs it signs when
 * settings.access_token_format (or a service account's own format) is jwt. A session's JWT stands
 * for the opaque access token login or refresh created, which never leaves the gateway: its jti is
 * the first 16 bytes of that token's SHA-256 (migration 0017), so that validation, refresh
 * rotation and revocation events treat it as they treat the opaque token. The refresh token stays
 * opaque.
 */
import { AuthError, type ClientGrant, secondsUntil, type TokenPair } from '@pgauth/client/internal';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimitConfig } from '../config.ts';
import type { Gateway } from './context.ts';
import type { Signer } from './signing.ts';

export interface AccessTokens {
  /** The `iss` of the JWTs and of discovery: the configured issuer, or the request's origin. */
  issuer(request: FastifyRequest): string;
  /** The pair of a login or refresh, its access token signed when the format is jwt. */
  session(request: FastifyRequest, pair: TokenPair): Promise<TokenPair>;
  /** The access token of a client-credentials grant: its opaque token, or a JWT. */
  client(request: FastifyRequest, grant: ClientGrant): Promise<string>;
}

/** A module of the routes that issue tokens (account, lifecycle, token): what it registers. */
export type TokenRoutes = (
  app: FastifyInstance,
  gw: Gateway,
  limits: RateLimitConfig,
  tokens: AccessTokens,
) => void;

/**
 * `issuer`, when set (--issuer), is the same for every request, so that gateways behind one load
 * balancer agree; unset, it is this gateway's origin as its client reached it (trusted proxy
 * headers apply).
 */
export function accessTokens(
  gw: Gateway,
  signer: Signer | null,
  issuer: string | null = null,
): AccessTokens {
  const issuerOf = (request: FastifyRequest): string =>
    issuer ?? `${request.protocol}://${request.host}`;
  return {
    issuer: issuerOf,
    async session(request, pair) {
      const claims = await gw.ops.sessionTokenClaims(pair.accessToken);
      if (claims?.tokenFormat !== 'jwt') return pair;
      if (!signer) {
        // Nobody will ever hold this session's tokens: end it rather than leave it live.
        await gw.ops.logout(pair.accessToken).catch(() => undefined);
        throw new AuthError('signing_unavailable');
      }
      return {
        ...pair,
        accessToken: await signer.signSession(claims, issuerOf(request)),
        expiresIn: secondsUntil(claims.expiresAt),
      };
    },
    async client(request, grant) {
      if (grant.accessToken !== null) return grant.accessToken;
      if (!signer) throw new AuthError('signing_unavailable');
      return signer.sign(grant, issuerOf(request));
    },
  };
}
