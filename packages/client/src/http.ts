/**
 * HTTP mode: each call is one gateway route, over keep-alive connections; the revocation feed is
 * the gateway's Server-Sent Events stream `GET /v1/revocations` (role `introspect`).
 */
import http from 'node:http';
import https from 'node:https';
import { createParser } from 'eventsource-parser';
import { AuthError, ERRORS, type ErrorCode, MfaRequiredError } from './errors.ts';
import { JTI_PREFIX, sessionJwtIds } from './jwt.ts';
import { type OperationHooks, type Revoked, revoking } from './operations.ts';
import type { RevocationSource } from './revocations.ts';
import { plausibleToken } from './tokens.ts';
import type { SecondFactor, Session, SubjectType, TokenPair } from './types.ts';

export interface HttpOptions {
  /** The gateway, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** Per-request timeout (default 10,000 ms): a request past it fails with `unavailable`. */
  timeoutMs?: number;
}

interface Reply {
  status: number;
  body: unknown;
}

function authErrorOf(reply: Reply): AuthError {
  const { error, message } = (reply.body ?? {}) as { error?: unknown; message?: unknown };
  if (typeof error === 'string' && error in ERRORS) {
    return new AuthError(error as ErrorCode, typeof message === 'string' ? message : undefined);
  }
  return new AuthError(reply.status >= 500 ? 'unavailable' : 'internal');
}

interface PairBody {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user_id: string;
  session_id: string;
}

function pairOf(b: PairBody): TokenPair {
  return {
    accessToken: b.access_token,
    tokenType: 'Bearer',
    expiresIn: b.expires_in,
    refreshToken: b.refresh_token,
    refreshExpiresIn: b.refresh_expires_in,
    userId: b.user_id,
    sessionId: b.session_id,
  };
}

export function httpOperations(options: HttpOptions, hooks: OperationHooks = {}) {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`baseUrl must be an http or https URL, not ${base.protocol}`);
  }
  const lib = base.protocol === 'https:' ? https : http;
  const agent = new lib.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const prefix = base.pathname.replace(/\/$/, '');

  const send = (method: string, path: string, token?: string, json?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const body = json === undefined ? undefined : JSON.stringify(json);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = lib.request(
        new URL(prefix + path, base),
        { method, headers, agent, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new AuthError('unavailable', undefined, { cause: err })));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new AuthError('unavailable', undefined, { cause: err })));
      req.end(body);
    });

  return {
    async validate(token: string): Promise<Session | null> {
      if (!plausibleToken(token)) return null;
      const r = await send('GET', '/v1/session', token);
      if (r.status === 401) return null;
      if (r.status !== 200) throw authErrorOf(r);
      const b = r.body as {
        user_id: string;
        username: string;
        session_id: string;
        roles: string[];
        expires_at: string;
        aal?: number;
        subject_type?: SubjectType;
      };
      return {
        userId: b.user_id,
        username: b.username,
        sessionId: b.session_id,
        subjectType: b.subject_type ?? 'user',
        roles: b.roles,
        expiresAt: new Date(b.expires_at),
        aal: b.aal === 2 ? 2 : 1,
      };
    },
    async login(username: string, password: string): Promise<TokenPair> {
      const r = await send('POST', '/v1/login', undefined, { username, password });
      if (r.status !== 200) throw authErrorOf(r);
      const b = r.body as PairBody & {
        mfa_required?: boolean;
        challenge?: string;
        expires_in: number;
      };
      if (b.mfa_required === true && typeof b.challenge === 'string') {
        throw new MfaRequiredError(b.challenge, b.expires_in);
      }
      return pairOf(b);
    },
    async loginMfa(challenge: string, second: SecondFactor): Promise<TokenPair> {
      const body =
        'code' in second
          ? { challenge, code: second.code }
          : { challenge, recovery_code: second.recoveryCode };
      const r = await send('POST', '/v1/login/mfa', undefined, body);
      if (r.status !== 200) throw authErrorOf(r);
      return pairOf(r.body as PairBody);
    },
    async refresh(refreshToken: string): Promise<TokenPair> {
      if (!plausibleToken(refreshToken)) throw new AuthError('invalid_token');
      const r = await send('POST', '/v1/refresh', undefined, { refresh_token: refreshToken });
      if (r.status !== 200) throw authErrorOf(r);
      const pair = pairOf(r.body as PairBody);
      hooks.onRevoked?.({ sessionId: pair.sessionId });
      return pair;
    },
    async logout(accessToken: string): Promise<void> {
      if (!plausibleToken(accessToken)) return;
      // A session's JWT is cached under its jti (jwt.ts), not under the token itself.
      const jwt = sessionJwtIds(accessToken);
      const revoked: Revoked = jwt ? { sessionId: jwt.sid } : { token: accessToken };
      const r = await revoking(hooks, revoked, () => send('POST', '/v1/logout', accessToken));
      if (r.status !== 204 && r.status !== 401) throw authErrorOf(r);
    },
    async changePassword(accessToken: string, currentPassword: string, newPassword: string) {
      if (!plausibleToken(accessToken)) throw new AuthError('invalid_token');
      const jwt = sessionJwtIds(accessToken);
      const revoked: Revoked = { userOf: jwt ? `${JTI_PREFIX}${jwt.jti}` : accessToken };
      const r = await revoking(hooks, revoked, () =>
        send('POST', '/v1/password', accessToken, {
          current_password: currentPassword,
          new_password: newPassword,
        }),
      );
      if (r.status !== 204) throw authErrorOf(r);
    },
    close(): void {
      agent.destroy();
    },
  };
}

/** A bearer token, or a function that gives a fresh one (called at every subscription). */
export type TokenProvider = string | (() => string | Promise<string>);

export interface EventStreamOptions {
  /**
   * The longest the stream may stay silent before it counts as lost (default 2,000 ms), and so
   * the longest a stream cut silently on the network lets a cache serve a revoked token. Within
   * it, twice the heartbeat the gateway announces (1 s by default), and at least a second more
   * than one heartbeat.
   */
  maxSilenceMs?: number;
}

/** The default of EventStreamOptions.maxSilenceMs. */
export const MAX_STREAM_SILENCE_MS = 2_000;

/**
 * The gateway's revocation stream as a source. Live once the gateway sends its `ready` event;
 * lost when the stream ends or errs, or when it stays silent past twice the heartbeat interval
 * the gateway announced (at least the heartbeat and a second), never longer than `maxSilenceMs`: a stream cut without a FIN or
 * RST (a partition, a dropped NAT entry) is only ever noticed by its silence.
 */
export function eventStreamSource(
  baseUrl: string,
  token: TokenProvider,
  options: EventStreamOptions = {},
): RevocationSource {
  const maxSilenceMs = options.maxSilenceMs ?? MAX_STREAM_SILENCE_MS;
  const base = new URL(baseUrl);
  const lib = base.protocol === 'https:' ? https : http;
  const url = new URL(`${base.pathname.replace(/\/$/, '')}/v1/revocations`, base);
  return async ({ onPayload, onProbe, onLost }) => {
    const bearer = typeof token === 'function' ? await token() : token;
    return new Promise((resolve, reject) => {
      let live = false;
      let silence: NodeJS.Timeout | undefined;
      let silenceMs = maxSilenceMs;
      const req = lib.request(url, {
        method: 'GET',
        headers: { accept: 'text/event-stream', authorization: `Bearer ${bearer}` },
      });
      const end = (err: Error): void => {
        clearTimeout(silence);
        req.destroy();
        if (live) {
          live = false;
          onLost(err);
        } else {
          reject(err);
        }
      };
      const heard = (): void => {
        clearTimeout(silence);
        silence = setTimeout(
          () => end(new Error(`the revocation stream was silent for ${silenceMs} ms`)),
          silenceMs,
        );
        silence.unref();
      };
      const parser = createParser({
        onEvent(event) {
          heard();
          if (event.event === 'ready' && !live) {
            const { heartbeat_ms } = JSON.parse(event.data || '{}') as { heartbeat_ms?: unknown };
            if (typeof heartbeat_ms === 'number' && heartbeat_ms > 0) {
              // Twice the heartbeat and a second's slack for a busy event loop, within the
              // bound. A gateway whose heartbeat is that long gets the bound anyway: the stream
              // then counts as lost at each long silence and is opened again.
              silenceMs = Math.min(Math.max(heartbeat_ms * 2, heartbeat_ms + 1_000), maxSilenceMs);
              heard();
            }
            live = true;
            resolve(async () => {
              live = false;
              clearTimeout(silence);
              req.destroy();
            });
          } else if (event.event === 'revocation' && live) {
            onPayload(event.data);
          } else if (event.event === 'probe' && live) {
            onProbe?.('');
          }
        },
        onComment: heard,
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            end(authErrorOf({ status: res.statusCode ?? 0, body }));
          });
          return;
        }
        heard();
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('end', () => end(new Error('the revocation stream ended')));
        res.on('error', (err) => end(err));
      });
      req.on('error', (err) => end(err));
      req.end();
    });
  };
}
