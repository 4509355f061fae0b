/**
 * The benchmark's side of Better Auth in scenario `peer`: its setup steps (run as processes of
 * their own, better-auth-setup.ts), sign-ups over HTTP, and the cookies a browser would hold for
 * each session. Better Auth itself is never loaded in the benchmark process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SETUP = fileURLToPath(new URL('./better-auth-setup.ts', import.meta.url));
const run = promisify(execFile);

export const SESSION_COOKIE = 'better-auth.session_token';
export const CACHE_COOKIE = 'better-auth.session_data';

export interface ServerStats {
  sessions: number;
  unauthorized: number;
  cacheFills: number;
}

/** Runs one step of better-auth-setup.ts and returns the JSON it printed. */
export async function setupStep<T>(
  command: 'migrate' | 'sessions',
  args: string[],
  signal: AbortSignal,
): Promise<T> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', SETUP, command, ...args], {
    signal,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as T;
}

/** The value of cookie `name` among the Set-Cookie headers of a response, or null. */
function setCookieValue(res: Response, name: string): string | null {
  for (const c of res.headers.getSetCookie()) {
    if (c.startsWith(`${name}=`)) return c.slice(name.length + 1).split(';', 1)[0] ?? null;
  }
  return null;
}

/** Runs `task` for every index below `count`, `concurrency` at a time. */
async function eachConcurrently(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/**
 * Signs up `emails` over HTTP (POST /api/auth/sign-up/email, which signs the user in too) and
 * returns the session cookie value of each. Four at a time: each sign-up is one scrypt hash, run
 * on libuv's thread pool (four threads).
 */
export async function signUp(
  url: string,
  emails: readonly string[],
  password: string,
  signal: AbortSignal,
): Promise<string[]> {
  const cookies: string[] = new Array(emails.length);
  await eachConcurrently(emails.length, 4, async (i) => {
    const email = emails[i] as string;
    const res = await fetch(`${url}/api/auth/sign-up/email`, {
      method: 'POST',
      // Node's fetch sends Sec-Fetch-Mode, so Better Auth's CSRF check wants the Origin a
      // browser would send with it.
      headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ email, password, name: email.split('@', 1)[0] }),
      signal,
    });
    const cookie = setCookieValue(res, SESSION_COOKIE);
    await res.arrayBuffer();
    if (res.status !== 200 || !cookie) throw new Error(`sign-up of ${email}: ${res.status}`);
    cookies[i] = cookie;
  });
  return cookies;
}

/** Checks that GET /session answers 200 to every cookie header. */
export async function checkSessions(
  url: string,
  cookieHeaders: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  await eachConcurrently(cookieHeaders.length, 8, async (i) => {
    const res = await fetch(`${url}/session`, {
      headers: { cookie: cookieHeaders[i] as string },
      signal,
    });
    await res.arrayBuffer();
    if (res.status !== 200)
      throw new Error(`GET /session of session ${i} on ${url}: ${res.status}`);
  });
}

/**
 * The cookies a browser holds for each session on a server with the cookie cache on: the session
 * token and the session_data cookie that Better Auth's own GET /api/auth/get-session sets (as
 * its sign-in would), as one Cookie header each.
 */
export async function cacheCookieHeaders(
  url: string,
  sessionCookies: readonly string[],
  signal: AbortSignal,
): Promise<string[]> {
  const headers: string[] = new Array(sessionCookies.length);
  await eachConcurrently(sessionCookies.length, 8, async (i) => {
    const token = `${SESSION_COOKIE}=${sessionCookies[i] as string}`;
    const res = await fetch(`${url}/api/auth/get-session`, { headers: { cookie: token }, signal });
    const data = setCookieValue(res, CACHE_COOKIE);
    await res.arrayBuffer();
    if (res.status !== 200 || !data) {
      throw new Error(`no ${CACHE_COOKIE} cookie for session ${i} from ${url}: ${res.status}`);
    }
    headers[i] = `${token}; ${CACHE_COOKIE}=${data}`;
  });
  return headers;
}

export async function serverStats(url: string, signal: AbortSignal): Promise<ServerStats> {
  const res = await fetch(`${url}/bench/stats`, { signal });
  if (res.status !== 200) throw new Error(`GET /bench/stats on ${url}: ${res.status}`);
  return (await res.json()) as ServerStats;
}
