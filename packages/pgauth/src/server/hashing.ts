/**
 * The bound on concurrent password hashing, shared fairly between clients.
 *
 * A login, a registration or a password change costs one slow hash, and the slots for them are
 * few (half the pool, one fewer than the cores) so that validations always find a connection and
 * a core. Calls beyond the slots wait in a bounded queue; past it they are refused at once (503),
 * so a wait stays short.
 *
 * Threat model: with one first-come queue, one client's flood fills every place in it and
 * everyone else's logins get 503 until the flood stops (the per-IP rate limit bounds a flood per
 * window, not its burst, and not a flood from many users behind one address). So each client
 * (its IP, or its IPv6 /64) has a queue of its own, at most `perClient` deep, and a freed slot
 * goes to the clients in turn (round robin). When the whole queue is full, a newcomer takes the
 * place of the newest call of the longest queue, which is refused instead. A flooding client
 * therefore gets one turn in each round like any other, and cannot push anyone out.
 */
import { AuthError, isUnavailable } from '@pgauth/client/internal';

export interface HashingBounds {
  /** Hashing calls at once. */
  slots: number;
  /** Calls that may wait, all clients together. */
  queue: number;
  /** Calls that may wait, per client. */
  perClient: number;
}

interface Waiter {
  go(): void;
  fail(err: unknown): void;
}

export type Hashing = (<T>(fn: () => Promise<T>, client?: string) => Promise<T>) & {
  /**
   * Admits a request of `client` that will hash, before the route does any other work (such as
   * asking the database for a username's folding): false when its call would be refused, so the
   * excess of a flood is refused at once. An admitted request counts as waiting from then on;
   * its call, or `settle` when it ends without one, ends that.
   */
  admit(client: string): boolean;
  settle(client: string): void;
};

export function fairHashing(bounds: HashingBounds): Hashing {
  let busy = 0;
  let queued = 0;
  // Insertion order is the turn order: a client served goes to the back.
  const queues = new Map<string, Waiter[]>();

  const refuse = (): AuthError => new AuthError('unavailable');

  const next = (): Waiter | undefined => {
    for (const [client, waiting] of queues) {
      queues.delete(client);
      const w = waiting.shift();
      if (waiting.length > 0) queues.set(client, waiting);
      if (w) {
        queued--;
        return w;
      }
    }
    return undefined;
  };

  /** Frees a place for `client` when the queue is full: false when it has no fair claim. */
  const makeRoom = (client: string): boolean => {
    const own = queues.get(client)?.length ?? 0;
    let longest: [string, Waiter[]] | undefined;
    for (const entry of queues) {
      if (!longest || entry[1].length > longest[1].length) longest = entry;
    }
    if (!longest || longest[1].length <= own + 1) return false;
    longest[1].pop()?.fail(refuse());
    queued--;
    return true;
  };

  // Requests admitted at the door and not yet at their call, per client and in all.
  const admitted = new Map<string, number>();
  let admittedAll = 0;

  const admit = (client: string): boolean => {
    const early = admitted.get(client) ?? 0;
    // Free slots are shared by everyone admitted and not yet hashing.
    if (busy + admittedAll >= bounds.slots) {
      const own = (queues.get(client)?.length ?? 0) + early;
      if (own >= bounds.perClient) return false;
      if (queued + admittedAll >= bounds.queue + bounds.slots - busy) {
        let room = false;
        for (const waiting of queues.values()) if (waiting.length > own + 1) room = true;
        if (!room) return false;
      }
    }
    admitted.set(client, early + 1);
    admittedAll++;
    return true;
  };

  const settle = (client: string): void => {
    const early = admitted.get(client) ?? 0;
    if (early === 0) return;
    if (early === 1) admitted.delete(client);
    else admitted.set(client, early - 1);
    admittedAll--;
  };

  const run = async <T>(fn: () => Promise<T>, client = ''): Promise<T> => {
    if (busy >= bounds.slots) {
      const own = queues.get(client);
      if ((own?.length ?? 0) >= bounds.perClient) throw refuse();
      if (queued >= bounds.queue && !makeRoom(client)) throw refuse();
      await new Promise<void>((go, fail) => {
        const waiting = queues.get(client);
        if (waiting) waiting.push({ go, fail });
        else queues.set(client, [{ go, fail }]);
        queued++;
      });
    } else {
      busy++;
    }
    let unavailable = false;
    try {
      return await fn();
    } catch (err) {
      unavailable = isUnavailable(err) || (err instanceof AuthError && err.code === 'unavailable');
      throw err;
    } finally {
      // The database just failed to answer in time: the calls waiting behind this one would only
      // wait for the same failure, one deadline after another. They fail now.
      if (unavailable) {
        for (const waiting of queues.values()) for (const w of waiting) w.fail(refuse());
        queues.clear();
        queued = 0;
      }
      const w = next();
      if (w) w.go();
      else busy--;
    }
  };
  return Object.assign(run, { admit, settle });
}
