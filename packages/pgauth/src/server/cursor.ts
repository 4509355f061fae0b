/**
 * The `after` of a keyset listing as the HTTP API shows it: an opaque string (base64url of the
 * sort key and id of the last row shown). Opaque so that callers pass it back unchanged rather
 * than build one; anything else given is a 400, never a query.
 */
import { AuthError } from '@pgauth/client/internal';
import type { Cursor } from '../operations.ts';

export function encodeCursor(cursor: Cursor | null): string | null {
  return cursor ? Buffer.from(JSON.stringify([cursor.key, cursor.id])).toString('base64url') : null;
}

export function decodeCursor(text: string | undefined): Cursor | null {
  if (text === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = null;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'string' ||
    typeof value[1] !== 'string' ||
    value[0].includes('\u0000')
  ) {
    throw new AuthError(
      'invalid_input',
      'The input is invalid: querystring.after is not a cursor.',
    );
  }
  return { key: value[0], id: value[1] };
}
