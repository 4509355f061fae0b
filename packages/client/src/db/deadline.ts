/** A client-side bound on a database call: what a server that stopped answering never sends. */

/** Thrown when a query outlives its deadline; maps to `unavailable` (SQLSTATE class 57). */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = '57014';
  constructor(ms: number) {
    super(`no answer from the database within ${ms} ms`);
  }
}

/** `p`, or a DeadlineError after `ms`; the query itself goes on and frees its connection later. */
export function withDeadline<T>(p: Promise<T>, ms: number | undefined): Promise<T> {
  if (!ms) return p;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
