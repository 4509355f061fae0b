/**
 * Real processes for the revocation tests: `pgauth serve` gateways on a PostgreSQL URL, psql, and
 * a reader of a gateway's revocation stream (GET /v1/revocations), which tells from outside when
 * a gateway's own subscription is live and which events it received.
 */
import { execFile } from 'node:child_process';
import { openRevocationStream } from '../helpers/sse.ts';

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
  const stream = await openRevocationStream(baseUrl, token);
  if (!stream) return null;
  return {
    get keys() {
      return new Set(
        stream.events.flatMap((e) =>
          e.event === 'revocation' && Array.isArray(e.data.keys) ? (e.data.keys as string[]) : [],
        ),
      );
    },
    get ended() {
      return stream.ended;
    },
    close: () => stream.close(),
  };
}
