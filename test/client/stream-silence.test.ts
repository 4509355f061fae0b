// timing-sensitive: how soon a silent stream turns the cache off
/**
 * The SDK in HTTP mode caches validations while it hears the gateway's event stream. A stream
 * cut silently on the network (no FIN, no RST: a dead NAT entry, a partition) delivers nothing,
 * so the only sign is silence: the gateway pings every second and the SDK counts the stream lost
 * after 2 s without a byte, empties its cache and asks the gateway again. That is the bound on
 * serving a token revoked while the stream was cut.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type AuthClient, AuthError, createAuthClient } from '@pgauth/client';
import { createUser, login, startApp, type TestApp } from '../http/helpers.ts';

/** A TCP relay whose open connections can be cut silently: bytes are dropped, none closed. */
interface Relay {
  url: string;
  cut(): void;
  close(): Promise<void>;
}

async function relay(target: string): Promise<Relay> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<{ cut: boolean; sockets: Socket[] }>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(port), hostname);
    const pair = { cut: false, sockets: [inbound, outbound] };
    pairs.add(pair);
    inbound.on('data', (d) => {
      if (!pair.cut) outbound.write(d);
    });
    outbound.on('data', (d) => {
      if (!pair.cut) inbound.write(d);
    });
    const done = (): void => {
      if (pair.cut) return;
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    inbound.on('close', done).on('error', done);
    outbound.on('close', done).on('error', done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const p = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${p}`,
    cut() {
      for (const pair of pairs) pair.cut = true;
    },
    async close() {
      for (const pair of pairs) for (const s of pair.sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let app: TestApp;
before(async () => {
  // The gateway's default heartbeat.
  app = await startApp();
});
after(() => app.close());

test('a silently cut event stream is counted lost within 2 s: the SDK in HTTP mode stops serving a token revoked meanwhile', async () => {
  await createUser(app, 'silence_service', ['introspect']);
  await createUser(app, 'silence_victim');
  const service = await login(app, 'silence_service');
  const victim = await login(app, 'silence_victim');
  const net = await relay(app.url);
  let client: AuthClient | undefined;
  try {
    client = createAuthClient({
      baseUrl: net.url,
      cache: true,
      serviceToken: service.access_token,
      timeoutMs: 1_000,
    });
    const cache = client.cache;
    assert.ok(cache);
    await cache.ready();
    assert.ok(await client.validate(victim.access_token), 'cached while the stream is heard');

    net.cut();
    const cutAt = performance.now();
    await app.t.db.query('select pgauth.logout($1)', [victim.access_token]);
    // Until the silence is noticed the cache may still answer; then it empties itself.
    while (cache.subscribed) {
      if (performance.now() - cutAt > 5_000) assert.fail('still subscribed 5 s after the cut');
      await new Promise((r) => setTimeout(r, 20));
    }
    const noticed = performance.now() - cutAt;
    assert.ok(noticed <= 2_500, `the cut was noticed after ${Math.round(noticed)} ms`);
    assert.equal(cache.size, 0);
    // From now on the revoked token is never served: the gateway is asked (through the cut
    // relay it cannot answer, which is unavailable, never a session).
    const answer = await client.validate(victim.access_token).catch((err: unknown) => err);
    assert.ok(
      answer === null || (answer instanceof AuthError && answer.code === 'unavailable'),
      `after the loss: ${JSON.stringify(answer)}`,
    );
  } finally {
    await client?.close();
    await net.close();
  }
});

test('the stream announces a heartbeat of 1 s by default', async () => {
  await createUser(app, 'silence_reader', ['introspect']);
  const reader = await login(app, 'silence_reader');
  const controller = new AbortController();
  const r = await fetch(`${app.url}/v1/revocations`, {
    headers: { authorization: `Bearer ${reader.access_token}` },
    signal: controller.signal,
  });
  const body = (r.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!/data: .*\n\n/.test(text)) {
    const { value, done } = await body.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  controller.abort();
  assert.match(text, /event: ready\ndata: \{"heartbeat_ms":1000[,}]/);
});
