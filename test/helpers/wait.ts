/** Waiting for something that must happen: polled, with a bound and a message when it does not. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Asks `probe` every `everyMs` until it answers something other than undefined or false; resolves
 * with that answer. Fails after `ms`, naming `what`; a probe that throws fails at once.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  everyMs = 20,
): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== false) return answer;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * waitFor, and how long the wait took (ms, from the first probe to the answer), for tests that
 * report or bound the time something took to become true.
 */
export async function waitForTimed<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  everyMs = 20,
): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await waitFor(what, probe, ms, everyMs);
  return { value, ms: performance.now() - start };
}
