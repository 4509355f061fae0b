/**
 * The gateway's one error handler: every failure becomes `{"error", "message"}` from the registry
 * (@pgauth/client's errors.ts). Known failures keep their registry status; a database that cannot be reached is
 * 503 with Retry-After; anything else is a generic 500, logged, never shown.
 */

import {
  AuthError,
  ERRORS,
  type ErrorCode,
  fromDatabaseError,
  isUnavailable,
} from '@pgauth/client/internal';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface ErrorBody {
  error: string;
  message: string;
}

/** Seconds a client should wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = 5;

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: code, message: message ?? ERRORS[code].message };
}

/** Sends a registry error; returns the reply so a handler can `return sendError(...)`. */
export function sendError(reply: FastifyReply, code: ErrorCode, message?: string): FastifyReply {
  if (code === 'unavailable') reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  const status = ERRORS[code].status;
  // RFC 9110: every 401 carries a challenge, a wrong password (invalid_credentials) included.
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send(errorBody(code, message));
}

/** A schema violation as one sentence naming the field, e.g. "body/username is required". */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return ERRORS.invalid_input.message;
  const context = err.validationContext ?? 'body';
  const params = first.params as { missingProperty?: string; additionalProperty?: string };
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (first.keyword === 'required' && params.missingProperty) {
    return `The input is invalid: ${context}.${path ? `${path}.` : ''}${params.missingProperty} is required.`;
  }
  if (first.keyword === 'additionalProperties' && params.additionalProperty) {
    return `The input is invalid: ${context}.${path ? `${path}.` : ''}${params.additionalProperty} is not allowed.`;
  }
  const field = path ? `${context}.${path}` : context;
  return `The input is invalid: ${field} ${first.message ?? 'is invalid'}.`;
}

/** The error handler of the app; `onUnavailable` counts 503s for metrics. */
export function handleError(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (err.validation) return sendError(reply, 'invalid_input', validationMessage(err));
  const known = err instanceof AuthError ? err : fromDatabaseError(err);
  if (known?.code === 'unavailable' || (!known && isUnavailable(err))) {
    // A refusal of the hashing queue has no cause; a database that failed to answer has one.
    const cause = (known ? known.cause : err) as { message?: unknown; code?: unknown } | undefined;
    if (cause) {
      request.log.warn(
        { cause: { message: cause.message, code: cause.code } },
        'database unavailable',
      );
    }
    return sendError(reply, 'unavailable', known?.message);
  }
  if (known)
    return sendError(reply, known.code, err instanceof AuthError ? err.message : undefined);
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status === 413) return sendError(reply, 'payload_too_large');
  if (status === 415) return sendError(reply, 'unsupported_media_type');
  if (status === 429) return sendError(reply, 'rate_limited');
  if (status === 404) return sendError(reply, 'not_found');
  if (status >= 400 && status < 500) return sendError(reply, 'bad_request');
  request.log.error({ err }, 'unexpected error');
  return sendError(reply, 'internal');
}
