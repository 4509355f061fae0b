/** What a pgauth token can look like, and where a request carries one. */

/**
 * The longest token pgauth ever looks up: opaque ones have 47 characters, a JWT access token
 * several hundred.
 */
export const MAX_TOKEN_LENGTH = 4096;
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

/** Whether `token` could be a pgauth token at all; anything else is not valid without asking. */
export function plausibleToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH && TOKEN_SHAPE.test(token);
}

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/**
 * The token of an `Authorization: Bearer <token>` header, or null when the header is missing,
 * names another scheme, holds more than one token or is implausibly long. Tokens are read from
 * this header only: a query string ends up in access logs, proxies and browser history.
 */
export function parseBearer(header: string | readonly string[] | null | undefined): string | null {
  if (typeof header !== 'string') return null;
  const token = BEARER.exec(header)?.[1];
  return token && token.length <= MAX_TOKEN_LENGTH ? token : null;
}
