/**
 * Discovery for verifiers in any language: the JWKS (the public keys that verify JWT access
 * tokens: the active one and each retired one until the last token it signed has expired) and the
 * authorization server metadata (RFC 8414), also served at the OpenID Connect discovery path for
 * libraries that only look there. pgauth issues no ID tokens: the OpenID document describes the
 * same OAuth 2 endpoints.
 */
import type { FastifyInstance } from 'fastify';
import type { AccessTokens } from '../access-tokens.ts';
import type { Gateway } from '../context.ts';
import { SIGNING_ALGS } from '../signing-keys.ts';

/** What the metadata says, in its own member, about revocation and third-party verifiers. */
export const REVOCATION_NOTICE =
  "JWT access tokens are verified offline against jwks_uri. pgauth's own verifiers (the gateway and the @pgauth/client SDK) also reject a token whose session (sid), API key or jti was revoked, at once; any other verifier learns of a revocation only when the token expires (exp, 5 minutes by default), unless it asks introspection_endpoint.";

const metadata = {
  type: 'object',
  properties: {
    issuer: { type: 'string' },
    token_endpoint: { type: 'string' },
    jwks_uri: { type: 'string' },
    introspection_endpoint: { type: 'string' },
    revocation_endpoint: { type: 'string' },
    grant_types_supported: { type: 'array', items: { type: 'string' } },
    response_types_supported: { type: 'array', items: { type: 'string' } },
    token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
    introspection_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
    revocation_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
    access_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
    id_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
    subject_types_supported: { type: 'array', items: { type: 'string' } },
    pgauth_revocation_notice: { type: 'string' },
  },
  required: ['issuer', 'token_endpoint', 'jwks_uri', 'grant_types_supported'],
} as const;

function metadataOf(issuer: string) {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    revocation_endpoint_auth_methods_supported: ['none'],
    access_token_signing_alg_values_supported: [...SIGNING_ALGS],
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    subject_types_supported: ['public'],
    pgauth_revocation_notice: REVOCATION_NOTICE,
  };
}

export function discoveryRoutes(app: FastifyInstance, gw: Gateway, tokens: AccessTokens): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'The public keys that verify JWT access tokens (pgauth.published_signing_keys)',
        response: {
          200: {
            type: 'object',
            properties: {
              keys: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
            required: ['keys'],
          },
        },
      },
    },
    async (_request, reply) => {
      const keys = await gw.ops.publishedSigningKeys();
      // Short: a new key signs at once after a rotation; verifiers fetch again on an unknown kid.
      reply.header('cache-control', 'public, max-age=60');
      return { keys: keys.map((k) => k.public_jwk) };
    },
  );

  for (const path of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
  ]) {
    app.get(
      path,
      {
        schema: {
          tags: ['discovery'],
          summary: path.endsWith('openid-configuration')
            ? 'The same metadata at the OpenID Connect discovery path (no ID tokens are issued)'
            : 'RFC 8414 authorization server metadata',
          response: { 200: metadata },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'public, max-age=300');
        return metadataOf(tokens.issuer(request));
      },
    );
  }
}
