/**
 * The console's one way to the gateway: the admin HTTP API with the signed-in administrator's
 * access token, held in this module's memory only (never in localStorage, sessionStorage or a
 * cookie: a reload signs out). The refresh token is kept the same way and used before the
 * access token expires. Any 401 ends the console's session.
 */

export interface ApiError {
  status: number;
  error: string;
  message: string;
}

interface Tokens {
  access: string;
  refresh: string;
  timer: number | undefined;
}

let tokens: Tokens | null = null;
const signedOutListeners = new Set<(reason: string) => void>();

export function onSignedOut(listener: (reason: string) => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function dropTokens(reason: string): void {
  if (!tokens) return;
  clearTimeout(tokens.timer);
  tokens = null;
  for (const listener of signedOutListeners) listener(reason);
}

export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'error' in value && 'status' in value;
}

/** What the sign-in page says after a 401: revoked, expired, or the account locked. */
const ENDED = 'Your session was ended (revoked, expired or locked). Sign in again.';

/** One call; a 401 to a signed-in call ends the console's session. */
async function send<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && tokens) headers.authorization = `Bearer ${tokens.access}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw { status: 0, error: 'network', message: 'The gateway cannot be reached.' } as ApiError;
  }
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const failure: ApiError = {
      status: res.status,
      error: json?.error ?? 'error',
      message: json?.message ?? res.statusText,
    };
    if (auth && res.status === 401) dropTokens(ENDED);
    throw failure;
  }
  return json as T;
}

export const api = {
  get: <T>(path: string) => send<T>('GET', path),
  post: <T>(path: string, body?: unknown) => send<T>('POST', path, body ?? {}),
  patch: <T>(path: string, body: unknown) => send<T>('PATCH', path, body),
  delete: <T>(path: string) => send<T>('DELETE', path),
};

interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Me {
  user_id: string;
  username: string;
  session_id: string;
  roles: string[];
}

function keep(pair: TokenPair): void {
  if (tokens) clearTimeout(tokens.timer);
  tokens = { access: pair.access_token, refresh: pair.refresh_token, timer: undefined };
  // Refreshed a little before the access token expires; a failed refresh signs out.
  const delay = Math.max(5, pair.expires_in - 30) * 1000;
  tokens.timer = window.setTimeout(() => {
    const refresh = tokens?.refresh;
    if (!refresh) return;
    send<TokenPair>('POST', '/v1/refresh', { refresh_token: refresh }, false).then(keep, () =>
      dropTokens(ENDED),
    );
  }, delay);
}

/** What POST /v1/login answers for an account with a second factor: no tokens yet. */
export interface MfaChallenge {
  mfa_required: true;
  challenge: string;
  expires_in: number;
}

/** The second step of a sign-in: a TOTP code or one of the recovery codes. */
export type SecondFactor = { code: string } | { recovery_code: string };

/** Keeps a fresh pair; the session must hold the role admin, else it is ended at once. */
async function admitted(pair: TokenPair): Promise<Me> {
  keep(pair);
  const me = await send<Me>('GET', '/v1/session');
  if (!me.roles.includes('admin')) {
    await signOut('');
    throw {
      status: 403,
      error: 'forbidden',
      message: 'This account does not hold the role admin.',
    } as ApiError;
  }
  return me;
}

/**
 * The password step of a sign-in: signed in, or, for an account with a second factor, the
 * challenge that finishSignIn answers.
 */
export async function signIn(username: string, password: string): Promise<Me | MfaChallenge> {
  const answer = await send<TokenPair | MfaChallenge>(
    'POST',
    '/v1/login',
    { username, password },
    false,
  );
  if ('mfa_required' in answer) return answer;
  return admitted(answer);
}

/** The second step: the challenge of the password step and a code (POST /v1/login/mfa). */
export async function finishSignIn(challenge: string, second: SecondFactor): Promise<Me> {
  const pair = await send<TokenPair>('POST', '/v1/login/mfa', { challenge, ...second }, false);
  return admitted(pair);
}

export async function signOut(reason = 'You signed out.'): Promise<void> {
  if (!tokens) return;
  await send('POST', '/v1/logout').catch(() => undefined);
  dropTokens(reason);
}

/** Whether the session still holds (the database's word). */
async function stillSignedIn(): Promise<boolean> {
  try {
    const me = await send<Me>('GET', '/v1/session');
    return me.roles.includes('admin');
  } catch (err) {
    return !(isApiError(err) && (err.status === 401 || err.status === 403));
  }
}

/** How often the console reads again where the gateway has no revocation feed. */
const POLL_MS = 5_000;

/**
 * Calls `onEvent` for every revocation event of GET /v1/admin/revocations while signed in. The
 * gateway ends the stream when this session is revoked (then the console signs out) or when its
 * own subscription drops (then the stream is opened again). Where the gateway has no feed (503),
 * `onEvent` is called every POLL_MS instead.
 */
export function watchRevocations(onEvent: () => void): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  const loop = async (): Promise<void> => {
    while (!stopped && tokens) {
      controller = new AbortController();
      try {
        const res = await fetch('/v1/admin/revocations', {
          headers: { authorization: `Bearer ${tokens.access}` },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (res.status === 503) {
          // No revocation feed here (the embedded database as `serve` runs it): read again
          // every few seconds instead.
          onEvent();
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          continue;
        }
        if (res.ok && res.body) {
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end = buffer.indexOf('\n\n');
            while (end >= 0) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (frame.startsWith('event: revocation') || frame.startsWith('event: ready'))
                onEvent();
              end = buffer.indexOf('\n\n');
            }
          }
        }
      } catch {
        // aborted or cut: decided below
      }
      if (stopped) return;
      if (!(await stillSignedIn())) {
        dropTokens(ENDED);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  void loop();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
