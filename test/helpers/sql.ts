/** Assertions and fixtures the SQL-level test files share. */
import assert from 'node:assert/strict';
import type { Database } from '../../packages/client/src/db/types.ts';

/** Asserts that a call fails with a pgauth SQLSTATE and its stable message (the error code). */
export async function rejects(
  p: Promise<unknown>,
  sqlstate: string,
  message: string,
): Promise<void> {
  await assert.rejects(p, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, sqlstate);
    assert.equal(err.message, message);
    return true;
  });
}

/** Runs `fn` with pgauth.clock() shifted by `offset` (settings.clock_offset), then shifts it back. */
export async function withClock<T>(db: Database, offset: string, fn: () => Promise<T>): Promise<T> {
  await db.query('update pgauth.settings set clock_offset = $1::interval', [offset]);
  try {
    return await fn();
  } finally {
    await db.exec(`update pgauth.settings set clock_offset = '0'`);
  }
}
