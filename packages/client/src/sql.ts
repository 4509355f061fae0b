/**
 * SQL mode: the SDK's methods on the service operations (operations.ts) over the client's own
 * pool. The gateway's hot path calls the same operations, so a service calling SQL and one
 * calling HTTP see the same answers.
 */

import { type CoalesceOptions, coalesce } from './batch.ts';
import type { Database } from './db/types.ts';
import { AuthError, MfaRequiredError, toAuthError } from './errors.ts';
import { type OperationHooks, type ServiceOperations, serviceOperations } from './operations.ts';
import { plausibleToken } from './tokens.ts';
import type { LoginContext, SecondFactor, Session, TokenPair } from './types.ts';

export { MAX_TOKEN_LENGTH, plausibleToken } from './tokens.ts';

export interface SqlOptions extends OperationHooks {
  /**
   * Coalesce concurrent validations into pgauth.validate_many calls (batch.ts); false sends each
   * alone. Default on.
   */
  batch?: CoalesceOptions | false;
  /**
   * What `validate` becomes for the methods that check a token first (changePassword): e.g. JWT
   * aware (jwt.ts withJwt), never cached. Default: `validate` as it is.
   */
  checkToken?: (
    validate: (token: string) => Promise<Session | null>,
  ) => (token: string) => Promise<Session | null>;
}

/** Runs an SDK call: a fault of the driver becomes AuthError `internal`, with its cause. */
async function sdkCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toAuthError(err) ?? new AuthError('internal', undefined, { cause: err });
  }
}

/**
 * pgauth.validate as the hot path runs it: an implausible token is not valid without asking, and
 * concurrent validations share round trips (pgauth.validate_many, batch.ts) unless `batch` is
 * false.
 */
export function fastValidate(
  ops: ServiceOperations,
  batch?: CoalesceOptions | false,
): (token: string) => Promise<Session | null> {
  /** False once the schema turned out to predate validate_many (migration 0005). */
  let manyExists = true;
  const validateMany = async (tokens: string[]): Promise<(Session | null)[]> => {
    if (tokens.length > 1 && manyExists) {
      try {
        return await ops.validateMany(tokens);
      } catch (err) {
        if ((err as { code?: unknown }).code !== '42883') throw err;
        manyExists = false;
      }
    }
    return Promise.all(tokens.map(ops.validate));
  };
  const batched = batch === false ? null : coalesce(validateMany, batch);
  return (token) => {
    if (!plausibleToken(token)) return Promise.resolve(null);
    return batched ? batched(token) : ops.validate(token);
  };
}

/** The SDK's uncached methods in SQL mode, on any Database (pool, PGlite, a test database). */
export function sqlOperations(db: Database, options: SqlOptions = {}) {
  const ops = serviceOperations(db, options);
  const fast = fastValidate(ops, options.batch);
  const validate = (token: string): Promise<Session | null> => sdkCall(() => fast(token));
  const check = options.checkToken ? options.checkToken(fast) : fast;
  return {
    validate,
    login: (username: string, password: string, context?: LoginContext): Promise<TokenPair> =>
      sdkCall(async () => {
        const pair = await ops.login(username, password, context);
        if (!pair) throw new AuthError('invalid_credentials');
        if ('mfaRequired' in pair) throw new MfaRequiredError(pair.challenge, pair.expiresIn);
        return pair;
      }),
    loginMfa: (
      challenge: string,
      second: SecondFactor,
      context?: LoginContext,
    ): Promise<TokenPair> =>
      sdkCall(async () => {
        const pair = await ops.loginMfa(challenge, second, context);
        if (!pair) throw new AuthError('invalid_credentials');
        return pair;
      }),
    refresh: (refreshToken: string, context?: LoginContext): Promise<TokenPair> =>
      sdkCall(async () => {
        const pair = plausibleToken(refreshToken) ? await ops.refresh(refreshToken, context) : null;
        if (!pair) throw new AuthError('invalid_token');
        return pair;
      }),
    logout: (accessToken: string): Promise<void> =>
      sdkCall(async () => {
        if (plausibleToken(accessToken)) await ops.logout(accessToken);
      }),
    changePassword: (accessToken: string, currentPassword: string, newPassword: string) =>
      sdkCall(async () => {
        const session = await check(accessToken);
        if (!session) throw new AuthError('invalid_token');
        if (!(await ops.changePassword(session.userId, currentPassword, newPassword))) {
          throw new AuthError('invalid_credentials');
        }
      }),
  };
}

export type Operations = ReturnType<typeof sqlOperations>;
