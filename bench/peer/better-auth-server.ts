/**
 * Better Auth served over node:http, for scenario `peer`: its own routes through
 * `toNodeHandler(auth)` (sign-up and sign-in under /api/auth/…), plus the session check an
 * application would write, `GET /session`: `auth.api.getSession({ headers })`, 200 with its JSON
 * or 401. `GET /bench/stats` counts what `/session` did, so that the benchmark can check that a
 * cookie-cache run was answered from the cookie and not from the database.
 *
 *   node --import tsx bench/peer/better-auth-server.ts --database-url URL --secret-file FILE \
 *     [--cookie-cache-max-age SECONDS]
 *
 * Prints `better-auth listening on http://127.0.0.1:PORT`, then `cookie cache: off` or
 * `cookie cache: on (maxAge N s)`.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import { createBenchAuth } from './better-auth.ts';

interface Stats {
  /** Answers of GET /session. */
  sessions: number;
  /** Of those, 401s. */
  unauthorized: number;
  /**
   * Of those, answers that set a new session_data cookie: with the cookie cache on, the session
   * came from the database (no cookie, an expired or an invalid one).
   */
  cacheFills: number;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      'secret-file': { type: 'string' },
      'cookie-cache-max-age': { type: 'string' },
    },
  });
  const databaseUrl = values['database-url'];
  const secretFile = values['secret-file'];
  const maxAgeArg = values['cookie-cache-max-age'];
  const cookieCacheMaxAge = maxAgeArg === undefined ? null : Number(maxAgeArg);
  if (
    !databaseUrl ||
    !secretFile ||
    (cookieCacheMaxAge !== null && !(Number.isInteger(cookieCacheMaxAge) && cookieCacheMaxAge > 0))
  ) {
    throw new Error(
      'usage: better-auth-server.ts --database-url URL --secret-file FILE [--cookie-cache-max-age SECONDS]',
    );
  }
  const secret = (await readFile(secretFile, 'utf8')).trim();

  // Listen first: the base URL (which Better Auth wants, for its origin checks) has the port.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    json(res, 503, { error: 'starting' });
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { auth, pool } = createBenchAuth({ databaseUrl, secret, baseURL, cookieCacheMaxAge });
  await auth.$context; // initialised before the first request, not during the warm-up
  const authHandler = toNodeHandler(auth);
  const stats: Stats = { sessions: 0, unauthorized: 0, cacheFills: 0 };

  const session = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // returnHeaders only to count cache fills: the answer is the session JSON, as an app's.
    const { headers, response } = await auth.api.getSession({
      headers: fromNodeHeaders(req.headers),
      returnHeaders: true,
    });
    stats.sessions++;
    if (headers.getSetCookie().some((c) => c.startsWith('better-auth.session_data='))) {
      stats.cacheFills++;
    }
    if (response === null) {
      stats.unauthorized++;
      json(res, 401, { error: 'unauthorized' });
      return;
    }
    json(res, 200, response);
  };

  handle = (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (req.method === 'GET' && path === '/session') {
      session(req, res).catch((err: unknown) => {
        console.error(err);
        if (!res.headersSent) json(res, 500, { error: 'internal' });
      });
    } else if (req.method === 'GET' && path === '/bench/stats') {
      json(res, 200, stats);
    } else {
      void authHandler(req, res);
    }
  };

  console.log(`better-auth listening on ${baseURL}`);
  console.log(
    `cookie cache: ${cookieCacheMaxAge === null ? 'off' : `on (maxAge ${cookieCacheMaxAge} s)`}`,
  );
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    pool.end().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
