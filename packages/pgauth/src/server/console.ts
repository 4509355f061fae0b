/**
 * The admin console's files (built by scripts/build.js into console-dist/: index.html and
 * content-hashed assets, each beside its .br and .gz compressed at build time), served at
 * /console. They are read once, at the first request for the console, and then answered from
 * memory: the bundle is small and fixed, so nothing is read, compressed or built while serving,
 * and a gateway whose console is never opened never reads them.
 *
 * Caching: assets carry a hash of their content in their names, so they are immutable for a
 * year; index.html names the assets of this build and is revalidated on every load (no-cache,
 * with an ETag).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.ts';

/** Where scripts/build.js writes the bundle: packages/pgauth/console-dist/. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console-dist/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

interface ConsoleFile {
  type: string;
  etag: string;
  cacheControl: string;
  identity: Buffer;
  br: Buffer | null;
  gzip: Buffer | null;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

function readBeside(path: string): Buffer | null {
  return existsSync(path) ? readFileSync(path) : null;
}

/** Every file of the bundle by its path under /console/ ('' for index.html); empty if unbuilt. */
export function loadConsole(dir: string = CONSOLE_DIR): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(dir)) return files;
  for (const path of walk(dir)) {
    const type = TYPES[extname(path)];
    if (!type) continue;
    const name = relative(dir, path).split('\\').join('/');
    const identity = readFileSync(path);
    const index = name === 'index.html';
    files.set(index ? '' : name, {
      type,
      etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
      cacheControl: index ? 'no-cache' : 'public, max-age=31536000, immutable',
      identity,
      br: readBeside(`${path}.br`),
      gzip: readBeside(`${path}.gz`),
    });
  }
  return files;
}

/** The best encoding the client accepts: brotli, then gzip, else none. */
function pickEncoding(accept: string | undefined, file: ConsoleFile): 'br' | 'gzip' | null {
  const wanted = (accept ?? '')
    .split(',')
    .map((part) => part.trim().split(';'))
    .filter(([, q]) => !q || !/^\s*q=0(\.0*)?\s*$/.test(q))
    .map(([name]) => name?.trim().toLowerCase());
  if (file.br && wanted.includes('br')) return 'br';
  if (file.gzip && wanted.includes('gzip')) return 'gzip';
  return null;
}

/** The handler of GET /console and /console/*. */
export function consoleHandler(files: Map<string, ConsoleFile>) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] ?? '';
    const name = path === '/console' ? '' : path.slice('/console/'.length);
    const file = files.get(name);
    if (!file) {
      return sendError(
        reply,
        'not_found',
        files.size === 0 ? 'Not found: the console is not built (npm run build).' : undefined,
      );
    }
    reply
      .header('content-type', file.type)
      .header('cache-control', file.cacheControl)
      .header('etag', file.etag)
      .header('vary', 'accept-encoding');
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    const encoding = pickEncoding(request.headers['accept-encoding'], file);
    if (encoding) reply.header('content-encoding', encoding);
    const body = encoding === 'br' ? file.br : encoding === 'gzip' ? file.gzip : file.identity;
    return reply.send(body);
  };
}
