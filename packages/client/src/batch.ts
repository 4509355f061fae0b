/**
 * Request coalescing for the hot path. While fewer than `maxInFlight` calls are out, a lookup
 * goes out at once, alone: no added latency when the load is light. When all are out, lookups
 * wait for the next free slot and leave together, in one call of at most `maxBatch`: under load a
 * gateway makes one round trip for many validations instead of one each. Identical tokens in one
 * batch are asked once.
 */

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export interface CoalesceOptions {
  /** Calls out at once (default 4). */
  maxInFlight?: number;
  /** Keys a call at most (default 100). */
  maxBatch?: number;
}

/**
 * Wraps `many` (answers for a list of distinct keys, in order) as a function of one key.
 * A failed call fails every lookup of its batch with the same error.
 */
export function coalesce<T>(
  many: (keys: string[]) => Promise<T[]>,
  options: CoalesceOptions = {},
): (key: string) => Promise<T> {
  const maxInFlight = options.maxInFlight ?? 4;
  const maxBatch = options.maxBatch ?? 100;
  let inFlight = 0;
  /** Waiting lookups by key, in arrival order (Map keeps insertion order). */
  let waiting = new Map<string, Waiter<T>[]>();

  const dispatch = (): void => {
    while (inFlight < maxInFlight && waiting.size > 0) {
      let batch: Map<string, Waiter<T>[]>;
      if (waiting.size <= maxBatch) {
        batch = waiting;
        waiting = new Map();
      } else {
        batch = new Map();
        for (const [key, waiters] of waiting) {
          batch.set(key, waiters);
          waiting.delete(key);
          if (batch.size === maxBatch) break;
        }
      }
      inFlight++;
      const keys = [...batch.keys()];
      many(keys)
        .then(
          (answers) => {
            keys.forEach((key, i) => {
              for (const w of batch.get(key) ?? []) w.resolve(answers[i] as T);
            });
          },
          (err: unknown) => {
            for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
          },
        )
        .finally(() => {
          inFlight--;
          dispatch();
        });
    }
  };

  return (key) =>
    new Promise<T>((resolve, reject) => {
      const waiters = waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
      dispatch();
    });
}
