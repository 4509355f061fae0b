/**
 * /metrics on an address of its own (--metrics-listen), for a Prometheus that scrapes from
 * another host: the numbers of the gateway's registry, and nothing else on that listener. It is
 * closed with the gateway.
 *
 * Threat model: the metrics tell an outsider how many logins fail and how busy the pool is,
 * which helps to time an attack. The main port answers /metrics to loopback clients only (see
 * routes/ops.ts), and not at all once this listener exists; keep this one on a private network.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { sendError } from './errors.ts';
import { registerSecurityHeaders } from './security-headers.ts';

export interface MetricsListener {
  /** e.g. http://127.0.0.1:9464 (the path is /metrics). */
  url: string;
}

/** Serves GET /metrics of `app` on host:port (0: any free port). */
export async function listenMetrics(
  app: FastifyInstance,
  address: { host: string; port: number },
): Promise<MetricsListener> {
  const { registry } = app.pgauthMetrics;
  const server = Fastify({ logger: false });
  registerSecurityHeaders(server);
  server.setNotFoundHandler((_request, reply) => sendError(reply, 'not_found'));
  server.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).header('cache-control', 'no-store').send(body);
  });
  await server.listen({ host: address.host, port: address.port });
  app.pgauthMetrics.onClose(() => server.close());
  const bound = server.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return { url: `http://${host}:${port}` };
}
