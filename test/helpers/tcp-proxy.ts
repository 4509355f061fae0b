/**
 * A TCP proxy on 127.0.0.1 in front of one port, for tests that need a connection that stalls
 * without closing (a stuck middlebox, a frozen peer): stall() stops passing bytes on the chosen
 * connections, in both directions, while every socket stays open.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface Proxy {
  port: number;
  /**
   * Stops passing bytes on every connection whose first bytes from the client match `first`
   * (every connection when omitted), now and for those opened later; unstall() resumes.
   */
  stall(first?: RegExp): void;
  unstall(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  server: Socket;
  head: string;
  stalled: boolean;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const links = new Set<Link>();
  let rule: RegExp | null | undefined;
  const matches = (link: Link): boolean =>
    rule !== undefined && (rule === null || rule.test(link.head));
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const link: Link = { client, server: upstream, head: '', stalled: false };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.head.length < 256) link.head += chunk.toString('latin1');
      if (!link.stalled && matches(link)) link.stalled = true;
      if (!link.stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!link.stalled && matches(link)) link.stalled = true;
      if (!link.stalled) client.write(chunk);
    });
    const end = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stall(first) {
      rule = first ?? null;
      for (const link of links) if (matches(link)) link.stalled = true;
    },
    unstall() {
      rule = undefined;
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
