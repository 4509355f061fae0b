/**
 * Real processes for the revocation tests: `pgauth serve` gateways on a PostgreSQL URL, psql, and
 * a reader of a gateway's revocation stream (GET /v1/revocations), which tells from outside when
 * a gateway's own subscription is live and which events it received.
 */
import { execFile } from 'node:child_process';

// Gateways are started by the shared helper, the same for every test that runs real processes.
export { type GatewayProcess, startGateway } from '../helpers/cluster.ts';

/** Runs one SQL command through psql, as an operator would; resolves with its unaligned output. */
export function psql(databaseUrl: string, sql: string): Promise<string> {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', sql];
  return new Promise((resolve, reject) => {
    execFile('psql', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`psql failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export interface RevocationWatch {
  /** Cache keys (cacheKey of an access token) named by the `revocation` events received so far. */
  readonly keys: ReadonlySet<string>;
  /** Whether the gateway ended the stream (it lost or resynchronised its subscription). */
  readonly ended: boolean;
  close(): void;
}

/**
 * Opens a gateway's GET /v1/revocations with a token of role introspect. The gateway offers the
 * stream only while its own LISTEN subscription is live, so null (503) means "not subscribed";
 * once open, every revocation event it hears is read here, and the stream ends when the
 * subscription drops.
 */
export async function watchRevocations(
  baseUrl: string,
  token: string,
): Promise<RevocationWatch | null> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/v1/revocations`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status === 503) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200 || !res.body) {
    throw new Error(`GET /v1/revocations answered ${res.status}: ${await res.text()}`);
  }
  const keys = new Set<string>();
  const watch = { keys, ended: false, close: () => abort.abort() };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const frames = buffer.split('\n\n');
        buffer = frames.pop() ?? '';
        for (const frame of frames) {
          const lines = frame.split('\n');
          if (!lines.includes('event: revocation')) continue;
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '{}';
          for (const key of (JSON.parse(data) as { keys?: string[] }).keys ?? []) keys.add(key);
        }
      }
    } catch {
      // Aborted by close(), or the connection was cut: either way the stream is over.
    }
    watch.ended = true;
  })();
  return watch;
}
