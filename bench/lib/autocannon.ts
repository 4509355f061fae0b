/**
 * Running autocannon in its own process (the load generator must not share the event loop of
 * anything it measures) and reading its JSON result. Any non-2xx answer, error or timeout is an
 * error: a 401 is cheaper than a validation and would inflate the figure.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TOKENS_LOAD = fileURLToPath(new URL('./autocannon-tokens.ts', import.meta.url));

export interface Load {
  rps: number;
  /** Requests answered in the run (autocannon's requests.total). */
  requests: number;
  p50: number;
  p99: number;
  /** The command line, for the record (tokens replaced by a placeholder). */
  command: string;
}

export interface LoadOptions {
  connections: number;
  /** Seconds. */
  duration: number;
}

/** The `node` arguments of the load process, and the command line reported for it. */
const loadArgs = (url: string, o: LoadOptions): string[] => [
  '--import',
  'tsx',
  TOKENS_LOAD,
  '-c',
  String(o.connections),
  '-d',
  String(o.duration),
  url,
];
const loadCommand = (url: string, o: LoadOptions, stdin: string): string =>
  `node --import tsx bench/lib/autocannon-tokens.ts -c ${o.connections} -d ${o.duration} ${url} < ${stdin}`;

/**
 * autocannon through its programmatic API (autocannon-tokens.ts), each request with its own
 * `Authorization: Bearer` token: every connection cycles through all `tokens`, starting at its own
 * offset, so that the connections do not ask for the same token at the same time.
 */
export async function autocannonTokens(
  url: string,
  options: LoadOptions & { tokens: readonly string[] },
  signal: AbortSignal,
): Promise<Load> {
  const input = JSON.stringify(options.tokens);
  const command = loadCommand(url, options, `tokens.json (${options.tokens.length} tokens)`);
  return { ...(await run(loadArgs(url, options), input, url, signal)), command };
}

/** As autocannonTokens, with requests of any shape (method, headers, body). */
export async function autocannonRequests(
  url: string,
  options: LoadOptions & {
    requests: readonly { method: string; headers?: Record<string, string>; body?: string }[];
    /** What the command line says the requests are, e.g. "1,000 logins". */
    describe: string;
  },
  signal: AbortSignal,
): Promise<Load> {
  const input = JSON.stringify({ requests: options.requests });
  const command = loadCommand(url, options, `requests.json (${options.describe})`);
  return { ...(await run(loadArgs(url, options), input, url, signal)), command };
}

async function run(
  args: string[],
  stdin: string | null,
  url: string,
  signal: AbortSignal,
): Promise<Omit<Load, 'command'>> {
  const child = spawn(process.execPath, args, {
    stdio: [stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    signal,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  if (stdin !== null) child.stdin?.end(stdin);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  signal.throwIfAborted();
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err}`);
  const r = JSON.parse(out) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx?: number;
    errors?: number;
    timeouts?: number;
  };
  const bad = (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0);
  if (bad > 0) {
    throw new Error(`autocannon on ${url}: ${bad} non-2xx answers, errors or timeouts`);
  }
  return {
    rps: r.requests.average,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}
