/**
 * Builds the gateway: a Fastify instance whose routes each call one pgauth.* SQL function. The
 * app adds transport concerns only: schemas, body limit, rate limits, headers, status mapping,
 * logs, metrics and the OpenAPI document. It does not own the database: the caller closes it.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { CacheOptions, Database } from '@pgauth/client/internal';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { DestinationStream } from 'pino';
import { DEFAULT_RATE_LIMITS, defaultHashConcurrency, type RateLimitConfig } from '../config.ts';
import { type MailConfig, MailSender } from '../mail/sender.ts';
import { adminOperations } from '../operations.ts';
import { VERSION } from '../version.ts';
import { accessTokens } from './access-tokens.ts';
import { clientError, frameworkError, refuseExpectation, registerBodyParsers } from './bodies.ts';
import { schemaController } from './compilers.ts';
import type { consoleHandler } from './console.ts';
import { createGateway } from './context.ts';
import { registerCors } from './cors.ts';
import { handleError, sendError } from './errors.ts';
import { createMetrics, requestMetrics } from './metrics.ts';
import { registerRateLimit } from './rate-limit.ts';
import { requestId } from './request-id.ts';
import { requestLogger } from './request-logger.ts';
import { type RetentionJob, startRetention } from './retention.ts';
import { accountRoutes } from './routes/account.ts';
import { adminRoutes } from './routes/admin.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { lifecycleRoutes } from './routes/lifecycle.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { opsRoutes } from './routes/ops.ts';
import { revocationRoutes } from './routes/revocations.ts';
import { tokenRoutes } from './routes/token.ts';
import { errorSchema } from './schemas.ts';
import { securityHeaders } from './security-headers.ts';
import { createSigner } from './signing.ts';

export interface AppOptions {
  db: Database;
  /** Largest request body in bytes (default 16 KiB). */
  bodyLimit?: number;
  /**
   * Whether X-Forwarded-For gives the client IP: a hop count, or addresses/CIDRs of the trusted
   * proxies; true believes every entry (the client's own included) and is warned about.
   */
  trustProxy?: boolean | number | string;
  rateLimit?: Partial<RateLimitConfig>;
  /** The database pool size, reported in the metrics. */
  poolSize?: number;
  /** Concurrent password-hashing calls before queueing (default: defaultHashConcurrency). */
  hashConcurrency?: number;
  /** pino settings; false for no logs. */
  logger?: false | { level?: string; stream?: DestinationStream };
  /** Process metrics (CPU, memory, event loop) in /metrics too. */
  defaultMetrics?: boolean;
  /**
   * Subscribe to revocation events (default true): the cache and GET /v1/revocations need it.
   * False where the database cannot deliver NOTIFY to this process (embedded over its socket).
   */
  revocations?: boolean;
  /** The validation cache of GET /v1/session and /v1/auth/check; false turns it off. */
  cache?: CacheOptions | false;
  /** Origins whose pages may call the gateway (CORS), each exactly scheme://host[:port]. */
  corsOrigins?: readonly string[];
  /**
   * Who may read GET /metrics on this app's port: 'loopback' (default) answers clients on this
   * host only; false serves none (it has its own listener: listenMetrics).
   */
  metricsOnMainPort?: 'loopback' | false;
  /** Heartbeat of GET /v1/revocations (default 1,000 ms). */
  revocationHeartbeatMs?: number;
  /** The probes the cache must pass to serve (client probe.ts; defaults 500 and 1,000 ms). */
  probe?: { intervalMs?: number; timeoutMs?: number };
  /** Read replicas for validation and introspection (the caller closes them). */
  replicas?: Database[];
  /** A replica further behind the primary than this is not asked (default 1,000 ms). */
  maxReplicaLagMs?: number;
  /** Deliver the mail outbox over SMTP from this process (--smtp-url); off when unset. */
  mail?: MailConfig & { pollMs?: number };
  /** The key-encryption key of the JWT signing keys; without it no JWT access token is issued. */
  keyEncryptionKey?: Buffer | null;
  /** Run pgauth's retention (adminOperations.purge) this often; 0 or unset: not here. */
  purgeIntervalMs?: number;
  /**
   * The issuer (`iss` of JWT access tokens, `issuer` of discovery), e.g. https://auth.example.com;
   * unset: the origin each request reached (scheme and host, trusted proxy headers applied).
   */
  issuer?: string | null;
}

/** Log paths that may hold a secret; pino replaces their values with "[Redacted]". */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'password',
  'token',
  'access_token',
  'refresh_token',
  'current_password',
  'new_password',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.current_password',
  '*.new_password',
  '*.*.password',
  '*.*.token',
  '*.*.access_token',
  '*.*.refresh_token',
];

/** Query parameters that look like a credential: refused, never read (tokens never go in URLs). */
const SECRET_QUERY = /token|password|secret|assertion|code_verifier/i;

/** A URL fit for a log line: the value of every query parameter is dropped. */
function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const names = url
    .slice(q + 1)
    .split('&')
    .map((p) => p.split('=')[0]);
  return `${url.slice(0, q)}?${names.map((n) => `${n}=[Redacted]`).join('&')}`;
}

/** One log line per request, at info when it completes; the incoming request alone at debug. */
class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) super.requestCompleted(error, request, reply);
    else
      reply.log.info(
        { req: request, res: reply, responseTime: reply.elapsedTime },
        'request completed',
      );
  }
}

/**
 * Fastify's form of --trust-proxy. A hop count becomes a function that trusts that many hops
 * from the socket outwards: Fastify itself ignores a bare number (it cannot tell whether the TCP
 * peer is a proxy, so a client that reaches the gateway directly could name its own IP), which
 * is why docs/http.md asks for a hop count only where every client comes through the proxies.
 */
function proxyTrust(
  value: boolean | number | string | undefined,
): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value ?? false;
  return (_address, hop) => hop < value;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const limits: RateLimitConfig = { ...DEFAULT_RATE_LIMITS, ...options.rateLimit };
  const poolSize = options.poolSize ?? 10;
  const logger =
    options.logger === false
      ? false
      : {
          level: options.logger?.level ?? 'info',
          ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
          redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
          serializers: {
            req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
              method: req.method,
              url: loggableUrl(req.url),
              remoteAddress: req.ip,
            }),
          },
        };
  const app = Fastify({
    logger,
    bodyLimit: options.bodyLimit ?? 16_384,
    trustProxy: proxyTrust(options.trustProxy),
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    logController: new RequestLog(),
    // Without a logger Fastify hands every request the app's own no-op logger: nothing to defer.
    ...(logger ? { childLoggerFactory: requestLogger } : {}),
    // The client's X-Request-Id is read by requestId, which takes only a safe one.
    requestIdHeader: false,
    genReqId: requestId,
    // removeAdditional off: a field the schema does not name is a 400, not silently dropped.
    ajv: { customOptions: { allErrors: false, removeAdditional: false } },
    schemaController,
  });

  if (options.trustProxy === true) {
    app.log.warn(
      'trust-proxy is true: the client IP is the leftmost X-Forwarded-For entry, which any client can write, so it can choose the IP its rate limits and audit rows use; give --trust-proxy the hop count or the addresses of your proxies instead',
    );
  }

  const metrics = createMetrics(poolSize, options.defaultMetrics ?? false);
  const revocations = options.revocations ?? true;
  const hashConcurrency = options.hashConcurrency ?? defaultHashConcurrency(poolSize);
  const gw = createGateway(options.db, metrics, {
    hashConcurrency,
    // A burst of logins waits rather than fails, up to a bound that keeps each wait short.
    hashQueue: Math.max(hashConcurrency * 8, poolSize * 4),
    revocations,
    cache: revocations ? (options.cache ?? {}) : false,
    onSubscriptionError: (err) =>
      app.log.warn({ cause: { message: err.message } }, 'revocation subscription lost; retrying'),
    probe: options.probe,
    replicas: options.replicas,
    maxReplicaLagMs: options.maxReplicaLagMs,
    onReplicaError: (replica, err) =>
      app.log.warn({ replica, cause: { message: err.message } }, 'read replica not answering'),
    onCacheChange: (enabled, cause, deaf) => {
      if (enabled) app.log.info('validation cache on: revocation notifications arrive');
      // Deaf: the database answers but notifications do not arrive, which only configuration
      // fixes (an error); otherwise an outage that ends by itself (a warning, as the others).
      else if (deaf) app.log.error({ cause }, `validation cache off: ${cause}`);
      else app.log.warn({ cause }, `validation cache off: ${cause}`);
    },
  });
  app.addHook('onClose', () => gw.close());
  const closers: (() => Promise<void>)[] = [];
  app.decorate('pgauthMetrics', {
    registry: metrics.registry,
    onClose: (close: () => Promise<void>) => closers.push(close),
  });
  app.addHook('onClose', async () => {
    await Promise.all(closers.map((close) => close()));
  });
  if (options.mail) {
    const sender = new MailSender(options.db, options.mail, {
      listen: revocations,
      pollMs: options.mail.pollMs,
      // Ids and kinds only: never the text, the address or the SMTP server's words.
      onResult: (r) =>
        r.sent
          ? app.log.info({ mail_id: r.id, kind: r.kind }, 'mail sent')
          : app.log.warn(
              { mail_id: r.id, kind: r.kind, error: r.error },
              'mail not sent; retrying later',
            ),
      onError: (err) =>
        app.log.warn({ cause: { code: (err as { code?: unknown })?.code } }, 'mail round failed'),
    });
    app.addHook('onReady', () => sender.start());
    app.addHook('onClose', () => sender.stop());
  }

  if (options.purgeIntervalMs) {
    const intervalMs = options.purgeIntervalMs;
    let job: RetentionJob | undefined;
    app.addHook('onReady', async () => {
      job = startRetention(adminOperations(options.db), intervalMs, app.log, {
        report(report) {
          metrics.purged.inc({ kind: 'sessions' }, report.sessions ?? 0);
          metrics.purged.inc({ kind: 'service_tokens' }, report.serviceTokens ?? 0);
        },
        round: (outcome) => metrics.retentionRounds.inc({ outcome }),
        running: (on) => metrics.retentionRunning.set(on ? 1 : 0),
      });
    });
    app.addHook('onClose', async () => job?.stop());
  }

  // JSON and form bodies only, strictly UTF-8: anything else is 415, not a schema error.
  registerBodyParsers(app, options.bodyLimit ?? 16_384);
  refuseExpectation(app);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'not_found'));
  app.addSchema(errorSchema);

  registerCors(app, options.corsOrigins ?? []);
  // One hook in callback style for what every answer carries: it runs on every request, and each
  // hook, or an async one, costs Fastify a step (and a promise) each time.
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.url;
    // The security headers first, so that errors and 404s carry them too (security-headers.ts).
    reply.headers(securityHeaders(url));
    reply.header('x-request-id', request.id);
    if (url.startsWith('/v1/')) {
      // Routes may set their own cache-control; this is the default of every API answer.
      reply.header('cache-control', 'no-store');
    } else if (url.startsWith('/oauth2/')) {
      // RFC 6749 §5.1 for the token endpoint, and alike for introspection and revocation: on
      // every answer, refusals before the route runs included (a body that does not parse).
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    }
    if (url.includes('?')) {
      const query = request.query as Record<string, unknown> | undefined;
      if (query && Object.keys(query).some((k) => SECRET_QUERY.test(k))) {
        sendError(
          reply,
          'bad_request',
          'The request is malformed: credentials are never accepted in the query string.',
        );
        return;
      }
    }
    done();
  });

  await app.register(requestMetrics, { metrics });
  await registerRateLimit(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'pgauth gateway',
        description:
          'Authentication for microservices: every route is one call of a pgauth.* PostgreSQL function. Errors are {"error": code, "message": text}.',
        version: VERSION,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const signer = options.keyEncryptionKey
    ? createSigner(gw.ops, gw.admin, options.keyEncryptionKey)
    : null;
  const tokens = accessTokens(gw, signer, options.issuer ?? null);
  accountRoutes(app, gw, limits, tokens);
  lifecycleRoutes(app, gw, limits, tokens);
  oauthRoutes(app, gw);
  tokenRoutes(app, gw, limits, tokens);
  discoveryRoutes(app, gw, tokens);
  await app.register(adminRoutes(gw));
  opsRoutes(app, gw, { metrics: options.metricsOnMainPort ?? 'loopback' });
  revocationRoutes(app, gw, { heartbeatMs: options.revocationHeartbeatMs });
  // The admin console: its module and files are loaded at its first request, not at start.
  let serveConsole: Promise<ReturnType<typeof consoleHandler>> | null = null;
  const consoleRoute = async (request: FastifyRequest, reply: FastifyReply) => {
    serveConsole ??= import('./console.ts').then((m) => m.consoleHandler(m.loadConsole()));
    return (await serveConsole)(request, reply);
  };
  app.get('/console', { schema: { hide: true } }, consoleRoute);
  app.get('/console/*', { schema: { hide: true } }, consoleRoute);
  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['ops'],
        summary: 'This OpenAPI 3 document',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => app.swagger(),
  );
  return app;
}
