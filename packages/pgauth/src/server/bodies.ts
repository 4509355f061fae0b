/**
 * Request bodies and requests the router never sees, held to the same contract as everything
 * else: a body must be valid UTF-8 (a lossy decoding would turn two different passwords into one),
 * and whatever Node's HTTP parser or Fastify's router refuses still gets a registry error body
 * that echoes nothing of the request.
 */
import type { Socket } from 'node:net';
import { AuthError, type ErrorCode } from '@pgauth/client/internal';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, sendError } from './errors.ts';
import { securityHeaders } from './security-headers.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NOT_UTF8 = 'The input is invalid: the body is not valid UTF-8.';

function decode(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new AuthError('invalid_input', NOT_UTF8);
  }
}

/**
 * An `application/x-www-form-urlencoded` body (RFC 7009 / 7662 clients): parsed by
 * URLSearchParams, after decodeURIComponent has proven every %-sequence valid UTF-8 (the parser
 * itself would replace a bad one). A repeated name gives an array, which every schema refuses.
 */
function parseForm(text: string): Record<string, string | string[]> {
  try {
    decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    throw new AuthError('invalid_input', NOT_UTF8);
  }
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = Object.hasOwn(out, name) ? out[name] : undefined;
    const next = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    Object.defineProperty(out, name, { value: next, enumerable: true, writable: true });
  }
  return out;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route takes application/x-www-form-urlencoded bodies (the RFC 7662 and RFC 7009 routes
     * only). Elsewhere a form body is 415: a web page can send a form to any origin without a
     * CORS preflight, so accepting one on /v1/login would allow login CSRF.
     */
    formBody?: boolean;
  }
}

/**
 * JSON bodies everywhere, form bodies on the routes whose config says `formBody`, each decoded
 * strictly; any other content type is 415.
 */
export function registerBodyParsers(app: FastifyInstance, bodyLimit: number): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit },
    (req, body, done) => {
      let text: string;
      try {
        text = decode(body as Buffer);
      } catch (err) {
        done(err as AuthError, undefined);
        return;
      }
      json(req, text, done);
    },
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer', bodyLimit },
    (req, body, done) => {
      if (req.routeOptions.config.formBody !== true) {
        done(new AuthError('unsupported_media_type'), undefined);
        return;
      }
      try {
        done(null, parseForm(decode(body as Buffer)));
      } catch (err) {
        done(err as AuthError, undefined);
      }
    },
  );
}

/** Fastify's own refusals before routing (a malformed percent-encoding in the path). */
export function frameworkError(_err: Error, _request: FastifyRequest, reply: FastifyReply): void {
  sendError(reply, 'bad_request');
}

const PARSER_STATUS: Record<string, [number, ErrorCode]> = {
  HPE_HEADER_OVERFLOW: [431, 'bad_request'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'bad_request'],
};

/** Node's HTTP parser refused the request: answer on the raw socket, then close it. */
export function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code] = PARSER_STATUS[err.code ?? ''] ?? [400, 'bad_request'];
  const body = JSON.stringify(errorBody(code));
  const security = Object.entries(securityHeaders(''))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      security +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** An Expect header other than 100-continue: 417, with a registry body. */
export function refuseExpectation(app: FastifyInstance): void {
  app.server.on('checkExpectation', (req, res) => {
    const body = JSON.stringify(
      errorBody('bad_request', 'The request is malformed: the Expect header is not supported.'),
    );
    res.writeHead(417, {
      ...securityHeaders(req.url ?? ''),
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
}
