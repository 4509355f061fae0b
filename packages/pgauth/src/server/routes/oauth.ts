/**
 * OAuth 2 token introspection (RFC 7662) and revocation (RFC 7009), form-encoded as the RFCs
 * require (JSON accepted too), like the token endpoint (routes/token.ts). Introspection needs a
 * caller holding the role `introspect`, and answers exactly `{"active":false}` for every token
 * that is not a valid access token, whatever the reason.
 */
import { MAX_TOKEN_LENGTH } from '@pgauth/client/internal';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../context.ts';
import { bearer, errors, text } from '../schemas.ts';

const tokenForm = {
  type: 'object',
  properties: {
    token: text(4096, 1),
    token_type_hint: text(64),
  },
  required: ['token'],
} as const;

type TokenForm = { Body: { token: string; token_type_hint?: string } };

/** A route's options for a token posted as a form (or JSON), tagged oauth2. */
function tokenFormRoute(schema: {
  summary: string;
  description?: string;
  security?: typeof bearer;
  response: Record<number, unknown>;
}) {
  return {
    config: { formBody: true },
    schema: {
      tags: ['oauth2'],
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: tokenForm,
      ...schema,
    },
  };
}

export function oauthRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<TokenForm>(
    '/oauth2/introspect',
    tokenFormRoute({
      summary: 'RFC 7662 token introspection (pgauth.validate); caller needs role introspect',
      security: bearer,
      response: {
        200: {
          type: 'object',
          properties: {
            active: { type: 'boolean' },
            sub: { type: 'string' },
            username: { type: 'string' },
            client_id: { type: 'string' },
            subject_type: { type: 'string', enum: ['user', 'service_account'] },
            sid: { type: 'string' },
            roles: { type: 'array', items: { type: 'string' } },
            scope: { type: 'string' },
            token_type: { type: 'string' },
            exp: { type: 'integer' },
            aal: {
              type: 'integer',
              enum: [1, 2],
              description: 'assurance level of the login: 2 with a second factor',
            },
          },
          required: ['active'],
        },
        ...errors(400, 401, 403, 413, 415, 503),
      },
    }),
    async (request, reply) => {
      await gw.authorize(request, 'introspect');
      reply.header('cache-control', 'no-store');
      const s = await gw.validate(request.body.token);
      gw.metrics.validations.inc({ outcome: s ? 'valid' : 'invalid' });
      if (!s) return { active: false };
      return {
        active: true,
        sub: s.userId,
        username: s.username,
        ...(s.subjectType === 'service_account' ? { client_id: s.username } : {}),
        subject_type: s.subjectType,
        sid: s.sessionId,
        roles: s.roles,
        scope: s.roles.join(' '),
        token_type: 'Bearer',
        exp: Math.floor(s.expiresAt.getTime() / 1000),
        aal: s.aal,
      };
    },
  );

  app.post<TokenForm>(
    '/oauth2/revoke',
    tokenFormRoute({
      summary: 'RFC 7009 token revocation (pgauth.revoke_token): access or refresh token',
      description:
        'Revokes the whole session of the token. 200 for unknown tokens too; the hint is ignored (both kinds are searched).',
      response: {
        200: { type: 'object', properties: {}, additionalProperties: false },
        ...errors(400, 413, 415, 503),
      },
    }),
    async (request, reply) => {
      const token = request.body.token;
      if (token.length <= MAX_TOKEN_LENGTH) {
        await gw.ops.revokeToken(token);
      }
      return reply.header('cache-control', 'no-store').send({});
    },
  );
}
