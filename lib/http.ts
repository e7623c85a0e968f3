/**
 * Errors become HTTP in exactly one place. Errors with meaning (KafkaFunctionsError) carry their code and
 * message in a 4xx/503 body; anything else becomes a generic 500 that shows no internals.
 * Body shape, always: {"error":{"code":"…","message":"…"}}.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { KafkaFunctionsError, type ErrorCode } from './errors';

const STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  RECORD_TOO_LARGE: 400,
  FORBIDDEN: 403,
  TOPIC_NOT_ALLOWED: 403,
  TOPIC_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BROKER_UNAVAILABLE: 503,
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
    return jsonResponse(503, { error: { code: error.code, message: 'Kafka is not reachable right now; try again shortly' } }, { 'retry-after': '5' });
  }
  return jsonResponse(500, { error: { code: 'INTERNAL', message: 'Internal error' } });
}
