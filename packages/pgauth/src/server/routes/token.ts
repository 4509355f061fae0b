/**
 * OAuth 2 client credentials (RFC 6749 §4.4): POST /oauth2/token. The client is a service account
 * (client_id: its name) authenticating with one of its API keys (client_secret), by HTTP Basic
 * (client_secret_basic) or in the form (client_secret_post), never both. The answer is an access
 * token (opaque pgs_…, or a JWT signed by the gateway) without a refresh token (§4.4.3).
 *
 * Errors follow RFC 6749 §5.2, not the gateway's usual shape: {"error", "error_description"}, 400
 * except invalid_client (401 with WWW-Authenticate: Basic). The parameters come in a form body
 * (§4.4.2): another body (JSON) is invalid_request. Every answer carries Cache-Control: no-store
 * and Pragma: no-cache (§5.1, set for every /oauth2/ route in app.ts). Attempts are counted per
 * client network and per client_id with the login limits (pgauth.throttle, scope
 * client_credentials): a guessed secret is refused before the database is asked, once over the
 * limit.
 */
import { AuthError, type ClientGrant, ERRORS, type ErrorCode } from '@pgauth/client/internal';
import type { FastifyReply } from 'fastify';
import type { TokenRoutes } from '../access-tokens.ts';
import { clientIp } from '../context.ts';
import { byIp } from '../rate-limit.ts';

type TokenError =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_scope'
  | 'unsupported_grant_type'
  | 'rate_limited'
  | 'signing_unavailable'
  | 'unavailable';

interface TokenForm {
  grant_type?: string;
  scope?: string;
  client_id?: string;
  client_secret?: string;
}

/**
 * The endpoint's own refusals carry error_description; what is refused before it runs (a body that
 * does not parse or is not UTF-8, a credential in the query string) keeps the gateway's
 * {error, message}, which this schema must let through whole.
 */
const oauthError = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    error_description: { type: 'string' },
    message: {
      type: 'string',
      description:
        'Instead of error_description when the request was refused before the endpoint read it (a malformed body, a credential in the query string)',
    },
  },
  required: ['error'],
} as const;

const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** RFC 6749 appendix A.4: scope tokens are NQCHAR runs, separated by single spaces. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/** One credential as §2.3.1 sends it in Basic: form-urlencoded, then joined by ':'. */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

/**
 * The client_id and client_secret of an `Authorization: Basic` header; null when there is none,
 * 'malformed' when it is there and cannot be read.
 */
export function basicCredentials(
  header: string | undefined,
): { id: string; secret: string } | null | 'malformed' {
  if (header === undefined) return null;
  const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!m?.[1]) return 'malformed';
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return 'malformed';
  const id = formDecode(text.slice(0, colon));
  const secret = formDecode(text.slice(colon + 1));
  if (id === null || secret === null) return 'malformed';
  return { id, secret };
}

export const tokenRoutes: TokenRoutes = (app, gw, limits, tokens) => {
  const refuse = (reply: FastifyReply, code: TokenError, usedBasic = false): FastifyReply => {
    const status = ERRORS[code as ErrorCode].status;
    reply.code(status);
    if (status === 401 || usedBasic) {
      reply.header('www-authenticate', 'Basic realm="pgauth", charset="UTF-8"');
    }
    return reply.send({ error: code, error_description: ERRORS[code as ErrorCode].message });
  };

  app.post<{ Body: TokenForm }>(
    '/oauth2/token',
    {
      config: { formBody: true },
      attachValidation: true,
      schema: {
        tags: ['oauth2'],
        summary: 'RFC 6749 §4.4 client credentials (pgauth.client_credentials)',
        description:
          "client_id is a service account name, client_secret one of its API keys (pgk_…), by HTTP Basic or in the form. The scope (space-separated roles) is limited to the roles the account holds; without one, the token carries all of them. The access token is opaque (pgs_…) or a JWT (settings.access_token_format, or the account's own). Errors as RFC 6749 §5.2.",
        consumes: ['application/x-www-form-urlencoded'],
        body: {
          type: 'object',
          properties: {
            grant_type: { type: 'string', maxLength: 64 },
            scope: { type: 'string', maxLength: 4096 },
            client_id: { type: 'string', maxLength: 200 },
            client_secret: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string', enum: ['Bearer'] },
              expires_in: { type: 'integer' },
              scope: { type: 'string' },
            },
            required: ['access_token', 'token_type', 'expires_in', 'scope'],
          },
          400: oauthError,
          401: oauthError,
          429: oauthError,
          503: oauthError,
        },
      },
    },
    async (request, reply) => {
      const basic = basicCredentials(request.headers.authorization);
      const usedBasic = basic !== null;
      // A parameter sent twice, too long, or not a string: §5.2 invalid_request.
      if (request.validationError || basic === 'malformed') {
        return refuse(reply, 'invalid_request', usedBasic);
      }
      // §4.4.2: the parameters are form-encoded; a JSON body is not read as if it were a form.
      if (request.body !== undefined && !FORM.test(request.headers['content-type'] ?? '')) {
        return refuse(reply, 'invalid_request', usedBasic);
      }
      const form = request.body ?? {};
      if (form.grant_type === undefined) return refuse(reply, 'invalid_request', usedBasic);
      if (form.grant_type !== 'client_credentials') {
        return refuse(reply, 'unsupported_grant_type', usedBasic);
      }
      // §2.3: one authentication method per request.
      if (basic && (form.client_secret !== undefined || form.client_id !== undefined)) {
        if (form.client_secret !== undefined || form.client_id !== basic.id) {
          return refuse(reply, 'invalid_request', usedBasic);
        }
      }
      const id = basic ? basic.id : form.client_id;
      const secret = basic ? basic.secret : form.client_secret;
      if (!id || !secret) return refuse(reply, 'invalid_client', usedBasic);
      if (form.scope !== undefined && !SCOPE.test(form.scope)) {
        return refuse(reply, 'invalid_scope', usedBasic);
      }
      const wait = await gw.ops.throttle('client_credentials', {
        ip: byIp(request) ?? undefined,
        ipMax: limits.loginPerIp,
        username: id.slice(0, 256),
        userMax: limits.loginPerUser,
        windowMs: limits.windowMs,
      });
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        return refuse(reply, 'rate_limited', usedBasic);
      }
      let grant: ClientGrant | null;
      try {
        grant = await gw.ops.clientCredentials(
          id,
          secret,
          form.scope ? [...new Set(form.scope.split(' '))] : null,
          clientIp(request) ?? undefined,
        );
      } catch (err) {
        if (err instanceof AuthError && err.code === 'invalid_scope') {
          return refuse(reply, 'invalid_scope', usedBasic);
        }
        if (err instanceof AuthError && err.code === 'invalid_input') {
          return refuse(reply, 'invalid_request', usedBasic);
        }
        throw err;
      }
      if (!grant) return refuse(reply, 'invalid_client', usedBasic);
      let accessToken: string;
      try {
        accessToken = await tokens.client(request, grant);
      } catch (err) {
        if (err instanceof AuthError) return refuse(reply, err.code as TokenError, usedBasic);
        throw err;
      }
      return reply.send({
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: Math.max(0, Math.floor((grant.expiresAt.getTime() - Date.now()) / 1000)),
        scope: grant.roles.join(' '),
      });
    },
  );
};
