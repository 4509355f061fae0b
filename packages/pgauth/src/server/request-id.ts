/**
 * The id of a request: the client's X-Request-Id when it is a plain, bounded token (so that a
 * trace id from a proxy or a service follows the request into our logs), else a fresh UUID.
 *
 * Threat model: the id is echoed in the answer and written into every log line of the request.
 * A client-chosen value of any shape could forge log fields for a reader that does not parse
 * JSON, smuggle terminal escapes, or make every log line kilobytes long. The accepted alphabet
 * covers UUIDs, hex and W3C traceparent ids, and AWS-style `Root=1-…` ids.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** 1 to 128 characters from a safe ASCII alphabet. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}
