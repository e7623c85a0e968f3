/**
 * Errors become HTTP in exactly one place. Errors with meaning (KafkaFunctionsError) carry their code and
 * message in a 4xx/503 body; anything else becomes a generic 500 that shows no internals.
 * Body shape, always: {"error":{"code":"…","message":"…"}}.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import { KafkaFunctionsError, errorMessage, type ErrorCode } from './errors';

const STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  RECORD_TOO_LARGE: 400,
  SCHEMA_MISMATCH: 400,
  FORBIDDEN: 403,
  TOPIC_NOT_ALLOWED: 403,
  TOPIC_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  SCHEMA_NOT_FOUND: 404,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BROKER_UNAVAILABLE: 503,
  SCHEMA_REGISTRY_UNAVAILABLE: 503,
  INVALID_CONFIG: 500,
  HANDLER_FAILED: 500,
  INTERNAL: 500,
};

const JSON_HEADERS = { 'content-type': 'application/json' };

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function httpStatusOf(error: unknown): number {
  return error instanceof KafkaFunctionsError ? STATUS[error.code] : 500;
}

/** The response for an error: its code and message when it has meaning and is not a 500, else a generic 500. */
export function errorResponse(error: unknown): APIGatewayProxyResult {
  const statusCode = httpStatusOf(error);
  if (error instanceof KafkaFunctionsError && statusCode < 500) {
    return jsonResponse(statusCode, { error: { code: error.code, message: error.message } });
  }
  if (error instanceof KafkaFunctionsError && statusCode === 503) {
    const what = error.code === 'SCHEMA_REGISTRY_UNAVAILABLE' ? 'The schema registry' : 'Kafka';
    return jsonResponse(
      503,
      { error: { code: error.code, message: `${what} is not reachable right now; try again shortly` } },
      { 'retry-after': '5' },
    );
  }
  return jsonResponse(500, { error: { code: 'INTERNAL', message: 'Internal error' } });
}

/**
 * The answer to a request that failed, logged as data first: a 5xx as `<action> failed` with the error
 * (for us), a 4xx as `<action> refused` with the reason (the caller's doing). The correlation id goes into
 * the log line and the `x-correlation-id` response header.
 */
export function failureResponse(
  error: unknown,
  context: { action: string; correlationId: string; log: Logger; fields?: Record<string, unknown> },
): APIGatewayProxyResult {
  const statusCode = httpStatusOf(error);
  const fields = { correlationId: context.correlationId, ...context.fields, statusCode };
  if (statusCode >= 500) context.log.error(`${context.action} failed`, { ...fields, error });
  else context.log.warn(`${context.action} refused`, { ...fields, reason: errorMessage(error) });
  const response = errorResponse(error);
  return { ...response, headers: { ...response.headers, 'x-correlation-id': context.correlationId } };
}
