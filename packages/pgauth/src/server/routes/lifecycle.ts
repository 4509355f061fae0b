/**
 * The account life cycle: email verification, password reset, TOTP enrolment and removal, and
 * the second step of a login with a second factor. Each route is one call of a pgauth.* function
 * (client operations.ts); the rules, the limits that matter and the audit are in SQL.
 *
 * Threat model: enumeration and guessing. POST /v1/password/forgot answers 202 with one body
 * whatever happened (the SQL does the same statements either way but for the outbox row, and
 * limits per address and per network silently). Tokens and challenges are 256-bit, single use.
 * A wrong second factor counts as a failed login of the account (same lock) and is rate-limited
 * per client IP like a login.
 */
import { AuthError, MAX_TOKEN_LENGTH } from '@pgauth/client/internal';
import type { FastifyRequest } from 'fastify';
import type { TokenRoutes } from '../access-tokens.ts';
import { clientIp, loginContext } from '../context.ts';
import { byIp, limiter } from '../rate-limit.ts';
import { accepted, bearer, errors, noContent, text, tokenPair } from '../schemas.ts';
import { sendPair } from './account.ts';

const code = { type: 'string', pattern: '^[0-9]{6}$', description: 'a 6-digit TOTP code' };
const recoveryCode = text(64, 1);

export const lifecycleRoutes: TokenRoutes = (app, gw, limits, tokens) => {
  const w = limits.windowMs;
  // Whatever checks a secret spends the login budget of the client's network.
  const perIp = limiter(app, 'lifecycle-ip', limits.loginPerIp, w)(byIp);
  const hashed = <T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> =>
    gw.hashing(fn, byIp(request));

  app.post(
    '/v1/email/verify/request',
    {
      schema: {
        tags: ['account'],
        summary: 'Mail a verification link to the address of the signed-in account',
        description:
          'pgauth.request_email_verification: 202 whether a mail was queued or not (already verified, or 5 this hour). 400 invalid_input when the account has no address.',
        security: bearer,
        response: { 202: accepted, ...errors(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const s = await gw.authenticate(request);
      await gw.ops.requestEmailVerification(s.userId);
      return reply.code(202).send({ status: 'accepted' });
    },
  );

  app.post<{ Body: { token: string } }>(
    '/v1/email/verify',
    {
      schema: {
        tags: ['account'],
        summary: 'Verify an email address with the token of its link (pgauth.verify_email)',
        body: {
          type: 'object',
          properties: { token: text(MAX_TOKEN_LENGTH, 1) },
          required: ['token'],
          additionalProperties: false,
        },
        response: { 204: noContent, ...errors(400, 413, 415, 429, 503) },
      },
      onRequest: [perIp],
    },
    async (request, reply) => {
      if (!(await gw.ops.verifyEmail(request.body.token))) throw new AuthError('invalid_link');
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { email?: string; username?: string } }>(
    '/v1/password/forgot',
    {
      schema: {
        tags: ['account'],
        summary: 'Mail a password-reset link (pgauth.request_password_reset)',
        description:
          'Always 202 with the same body, whether or not an account matches: the mail goes to the address of the account whose email or username is given.',
        body: {
          type: 'object',
          properties: { email: text(254, 1), username: text(256, 1) },
          oneOf: [{ required: ['email'] }, { required: ['username'] }],
          additionalProperties: false,
        },
        response: { 202: accepted, ...errors(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const who = (request.body.email ?? request.body.username) as string;
      await gw.ops.requestPasswordReset(who, { ip: clientIp(request) ?? undefined });
      return reply.code(202).send({ status: 'accepted' });
    },
  );

  app.post<{ Body: { token: string; password: string } }>(
    '/v1/password/reset',
    {
      schema: {
        tags: ['account'],
        summary: 'Set a new password with the token of a reset link (pgauth.reset_password)',
        description:
          'Revokes every session of the account and lifts a lock of too many failures. 400 invalid_link for an unknown, used or expired token; a refused password (400 with its reason) leaves the token usable.',
        body: {
          type: 'object',
          properties: { token: text(MAX_TOKEN_LENGTH, 1), password: text(1024, 1) },
          required: ['token', 'password'],
          additionalProperties: false,
        },
        response: { 204: noContent, ...errors(400, 413, 415, 429, 503) },
      },
      onRequest: [perIp],
    },
    async (request, reply) => {
      const { token, password } = request.body;
      if (!(await hashed(request, () => gw.ops.resetPassword(token, password)))) {
        throw new AuthError('invalid_link');
      }
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/mfa/totp',
    {
      schema: {
        tags: ['mfa'],
        summary: 'Start TOTP enrolment (pgauth.totp_enroll): the secret, shown once',
        description:
          'Off until POST /v1/mfa/totp/confirm. Again before confirming: a new secret. 409 mfa_already_enabled when TOTP is on.',
        security: bearer,
        response: {
          200: {
            type: 'object',
            properties: { otpauth_uri: { type: 'string' }, secret: { type: 'string' } },
            required: ['otpauth_uri', 'secret'],
          },
          ...errors(401, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const s = await gw.authenticate(request);
      const e = await gw.ops.totpEnroll(s.userId);
      return reply
        .header('cache-control', 'no-store')
        .send({ otpauth_uri: e.otpauthUri, secret: e.secret });
    },
  );

  app.post<{ Body: { code: string } }>(
    '/v1/mfa/totp/confirm',
    {
      schema: {
        tags: ['mfa'],
        summary: 'Turn TOTP on with a current code (pgauth.totp_confirm): the recovery codes, once',
        security: bearer,
        body: {
          type: 'object',
          properties: { code },
          required: ['code'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { recovery_codes: { type: 'array', items: { type: 'string' } } },
            required: ['recovery_codes'],
          },
          ...errors(400, 401, 409, 413, 415, 429, 503),
        },
      },
      onRequest: [perIp],
    },
    async (request, reply) => {
      const s = await gw.authenticate(request);
      const codes = await gw.ops.totpConfirm(s.userId, request.body.code);
      if (!codes) throw new AuthError('invalid_code');
      return reply.header('cache-control', 'no-store').send({ recovery_codes: codes });
    },
  );

  app.delete<{ Body: { code: string } }>(
    '/v1/mfa/totp',
    {
      schema: {
        tags: ['mfa'],
        summary: 'Turn TOTP off with a current code or a recovery code (pgauth.totp_remove)',
        security: bearer,
        body: {
          type: 'object',
          properties: { code: text(64, 1) },
          required: ['code'],
          additionalProperties: false,
        },
        response: { 204: noContent, ...errors(400, 401, 409, 413, 415, 429, 503) },
      },
      onRequest: [perIp],
    },
    async (request, reply) => {
      const s = await gw.authenticate(request);
      if (!(await gw.ops.totpRemove(s.userId, request.body.code))) {
        throw new AuthError('invalid_code');
      }
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { challenge: string; code?: string; recovery_code?: string } }>(
    '/v1/login/mfa',
    {
      schema: {
        tags: ['account'],
        summary: 'Finish a login with a second factor (pgauth.login_mfa_durably): a token pair',
        description:
          'The challenge of POST /v1/login and a TOTP code, or one of the recovery codes. The session has aal 2. Every failure (wrong or used code, dead challenge) is the same 401.',
        body: {
          type: 'object',
          properties: { challenge: text(MAX_TOKEN_LENGTH, 1), code, recovery_code: recoveryCode },
          required: ['challenge'],
          oneOf: [{ required: ['code'] }, { required: ['recovery_code'] }],
          additionalProperties: false,
        },
        response: { 200: tokenPair, ...errors(400, 401, 413, 415, 429, 503) },
      },
      onRequest: [perIp],
    },
    async (request, reply) => {
      const { challenge, code: totp, recovery_code } = request.body;
      const second =
        totp !== undefined ? { code: totp } : { recoveryCode: recovery_code as string };
      const pair = await gw.ops.loginMfa(challenge, second, loginContext(request));
      gw.metrics.logins.inc({ outcome: pair ? 'success' : 'failure' });
      if (!pair) throw new AuthError('invalid_credentials');
      return sendPair(reply, await tokens.session(request, pair));
    },
  );
};
