/**
 * A load generator process: autocannon's programmatic API with one `Authorization: Bearer` token
 * per request, which the CLI cannot do (its -H is one header for every request).
 *
 *   node --import tsx bench/lib/autocannon-tokens.ts -c CONNECTIONS -d SECONDS URL < tokens.json
 *
 * stdin: a JSON array of tokens, or `{"requests": [{method, headers?, body?}, …]}` for requests of
 * any shape (logins with a username each). Every connection cycles through all of them,
 * connection k starting at request k·n/connections, so that the connections spread over them
 * instead of sending the same one at once. Prints autocannon's result as JSON (what `autocannon -j`
 * prints). The requests are built once per connection, as for a single header: a token per
 * request costs the generator nothing per request.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

interface Client {
  setRequests(requests: object[]): void;
}
type Autocannon = (options: Record<string, unknown>) => Promise<unknown>;

// autocannon is CommonJS without type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface RequestSpec {
  method: string;
  headers?: Record<string, string>;
  body?: string;
}

function requestsOf(input: unknown): RequestSpec[] {
  if (Array.isArray(input) && input.length > 0 && input.every((t) => typeof t === 'string')) {
    return input.map((token: string) => ({
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
    }));
  }
  const requests = (input as { requests?: unknown } | null)?.requests;
  if (
    Array.isArray(requests) &&
    requests.length > 0 &&
    requests.every((r) => typeof (r as RequestSpec)?.method === 'string')
  ) {
    return requests as RequestSpec[];
  }
  throw new Error('stdin must be a JSON array of tokens or {"requests": [{method, …}, …]}');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      connections: { type: 'string', short: 'c' },
      duration: { type: 'string', short: 'd' },
    },
  });
  const url = positionals[0];
  const connections = Number(values.connections);
  const duration = Number(values.duration);
  if (!url || !(connections >= 1) || !(duration > 0)) {
    throw new Error('usage: autocannon-tokens.ts -c CONNECTIONS -d SECONDS URL < tokens.json');
  }
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const requests = requestsOf(JSON.parse(input) as unknown);
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration,
    requests,
    setupClient(client: Client) {
      const offset = Math.floor((next++ * requests.length) / connections) % requests.length;
      client.setRequests([...requests.slice(offset), ...requests.slice(0, offset)]);
    },
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
