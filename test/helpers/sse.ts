/**
 * A reader of the gateway's event stream GET /v1/revocations (Server-Sent Events), for tests that
 * watch what it carries: `revocation` events, `probe` events (each probe of the gateway's that
 * came back on its LISTEN connection), and when it ends.
 *
 *   const stream = await openRevocationStream(app.url, token);   // after its `ready` event
 *   const i = await stream.next(0, (e) => e.event === 'revocation' && e.data.flush === true);
 *   await stream.end;                                            // the gateway ended it
 */
import assert from 'node:assert/strict';

export interface StreamEvent {
  /** The event name (`ready`, `probe`, `revocation`). */
  event: string;
  /** Its data, parsed as JSON ({} when there is none). */
  data: Record<string, unknown>;
}

export interface EventStream {
  /** Every event received so far, in order of arrival, `ready` first; comments left out. */
  readonly events: readonly StreamEvent[];
  /** Whether the stream is over (ended by the gateway, cut, or closed here). */
  readonly ended: boolean;
  /** Resolves with the time (performance.now()) the stream ended. */
  readonly end: Promise<number>;
  /**
   * Waits for the first event at index `from` or later that `matches`; resolves with its index,
   * rejects when the stream ends first.
   */
  next(from: number, matches: (e: StreamEvent) => boolean): Promise<number>;
  /** How many events named `event` have arrived so far. */
  count(event: string): number;
  /** Ends the stream from this side. */
  close(): void;
}

/** Parses one frame (the lines between two blank lines); null for a comment such as `: ping`. */
function parseFrame(frame: string): StreamEvent | null {
  const lines = frame.split('\n');
  const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
  if (!event) return null;
  const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
  return { event, data: data ? (JSON.parse(data) as Record<string, unknown>) : {} };
}

/**
 * Opens `${baseUrl}/v1/revocations` with `token` (a token of role introspect) and resolves once
 * its `ready` event arrived; null when the gateway answers 503 (its own subscription is not live
 * yet); fails on any other status.
 */
export async function openRevocationStream(
  baseUrl: string,
  token: string,
): Promise<EventStream | null> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/v1/revocations`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status === 503) {
    await res.body?.cancel();
    return null;
  }
  assert.equal(res.status, 200, `GET /v1/revocations answered ${res.status}`);
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  let ended = false;
  const end = (async () => {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const frames = buffer.split('\n\n');
        buffer = frames.pop() ?? '';
        for (const frame of frames) {
          const e = parseFrame(frame);
          if (e) events.push(e);
        }
        wake();
      }
    } catch {
      // Aborted by close(), or the connection was cut: either way the stream is over.
    }
    ended = true;
    wake();
    return performance.now();
  })();
  const stream: EventStream = {
    events,
    get ended() {
      return ended;
    },
    end,
    close: () => abort.abort(),
    count: (event) => events.filter((e) => e.event === event).length,
    next(from, matches) {
      return new Promise((resolve, reject) => {
        const look = (): void => {
          const i = events.findIndex((e, j) => j >= from && matches(e));
          if (i >= 0) {
            waiters.delete(look);
            resolve(i);
          } else if (ended) {
            waiters.delete(look);
            reject(new Error(`the stream ended first; events: ${JSON.stringify(events)}`));
          }
        };
        waiters.add(look);
        look();
      });
    },
  };
  await stream.next(0, (e) => e.event === 'ready');
  return stream;
}
