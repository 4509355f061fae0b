/**
 * What a NOTIFY channel carried, for tests that must show that something was sent, or was not.
 *
 * Absence is proven by presence: settle() sends a marker on the same channel from a transaction
 * of its own and waits for it. PostgreSQL delivers the notifications of different transactions
 * in the order they committed, so once the marker is in, everything committed before it is in
 * too; whatever is still missing was never sent.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../packages/client/src/db/types.ts';

/** The longest settle() waits for its own marker before it fails. */
const SETTLE_MS = 10_000;

export interface NotificationLog<T> {
  /** Every payload received so far, parsed, in order of arrival; markers left out. */
  readonly received: readonly T[];
  /** Sends a marker and waits for it; resolves with everything received before it. */
  settle(): Promise<T[]>;
  close(): Promise<void>;
}

/** LISTENs on `channel` of `db` and records every payload, parsed by `parse` (JSON by default). */
export async function recordNotifications<T = unknown>(
  db: Database,
  channel: string,
  parse: (payload: string) => T = (payload) => JSON.parse(payload) as T,
): Promise<NotificationLog<T>> {
  const prefix = `pgauth-test-marker:${randomBytes(6).toString('hex')}:`;
  const received: T[] = [];
  const waiting = new Map<string, () => void>();
  let sent = 0;
  const unlisten = await db.listen(channel, (payload) => {
    if (payload.startsWith(prefix)) waiting.get(payload)?.();
    else received.push(parse(payload));
  });
  return {
    received,
    async settle() {
      const marker = `${prefix}${++sent}`;
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<void>((resolve, reject) => {
        waiting.set(marker, resolve);
        timer = setTimeout(
          () => reject(new Error(`the marker sent on ${channel} did not come back`)),
          SETTLE_MS,
        );
      });
      try {
        await Promise.all([db.query('select pg_notify($1, $2)', [channel, marker]), arrived]);
      } finally {
        clearTimeout(timer);
        waiting.delete(marker);
      }
      return [...received];
    },
    close: unlisten,
  };
}
