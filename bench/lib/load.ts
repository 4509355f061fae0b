/** The load generator, in a process of its own so that it shares an event loop with nothing it
 * measures: autocannon's API, which sends a list of requests (a token or a login each) where its
 * CLI sends one. Connection k starts at request k·n/connections, so that they do not ask for the
 * same one at once. Prints {rps, requests, p50, p99}; exits 1 on any non-2xx answer or error.
 *
 *   node --import tsx bench/lib/load.ts -c CONNECTIONS -d SECONDS URL < requests.json */
import { createRequire } from 'node:module';
import { json } from 'node:stream/consumers';
import { parseArgs } from 'node:util';

// autocannon is CommonJS without type declarations: what is read of its result.
type Result = Record<'non2xx' | 'errors' | 'timeouts', number> & {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
};
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<Result>;

const options = { c: { type: 'string' }, d: { type: 'string' } } as const;
const { values, positionals } = parseArgs({ allowPositionals: true, options });
const [url, connections, duration] = [positionals[0], Number(values.c), Number(values.d)];
const requests = (await json(process.stdin)) as object[];
let next = 0;
const r = await autocannon({
  url,
  connections,
  duration,
  requests,
  setupClient(client: { setRequests(requests: object[]): void }) {
    const k = Math.floor((next++ * requests.length) / connections) % requests.length;
    client.setRequests([...requests.slice(k), ...requests.slice(0, k)]);
  },
});
if (r.non2xx + r.errors + r.timeouts > 0) {
  console.error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`);
  process.exit(1);
}
const { average: rps, total } = r.requests;
console.log(JSON.stringify({ rps, requests: total, p50: r.latency.p50, p99: r.latency.p99 }));
