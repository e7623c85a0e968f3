/**
 * Errors with meaning. Each carries a stable `code` (part of the HTTP contract), whether retrying may help,
 * and the underlying `cause`. `lib/http.ts` maps them to HTTP status codes in one place.
 */
export type ErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_REQUEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'FORBIDDEN'
  | 'TOPIC_NOT_ALLOWED'
  | 'TOPIC_NOT_FOUND'
  | 'GROUP_NOT_FOUND'
  | 'NOT_FOUND'
  | 'RECORD_TOO_LARGE'
  | 'BROKER_UNAVAILABLE'
  | 'SCHEMA_NOT_FOUND'
  | 'SCHEMA_MISMATCH'
  | 'SCHEMA_REGISTRY_UNAVAILABLE'
  | 'HANDLER_FAILED'
  | 'INTERNAL';

export class KafkaFunctionsError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A configuration variable is missing or malformed. The message names the variable. */
export class ConfigError extends KafkaFunctionsError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('INVALID_CONFIG', `${variable}: ${message}`);
    this.variable = variable;
  }
}

/** The caller sent something we will not act on; nothing was written. */
export class ValidationError extends KafkaFunctionsError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, code: ErrorCode = 'INVALID_REQUEST') {
    super(code, message);
    this.field = field;
  }
}

/** The request lacks the credentials this endpoint requires (e.g. a valid `x-api-key`). */
export class AccessDeniedError extends KafkaFunctionsError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class TopicNotAllowedError extends KafkaFunctionsError {
  constructor(topic: string) {
    super('TOPIC_NOT_ALLOWED', `topic '${topic}' is not allowed here`);
  }
}

export class TopicNotFoundError extends KafkaFunctionsError {
  constructor(topic: string, options: { cause?: unknown } = {}) {
    super('TOPIC_NOT_FOUND', `topic '${topic}' does not exist`, options);
  }
}

export class GroupNotFoundError extends KafkaFunctionsError {
  constructor(groupId: string) {
    // Same words as Kafka's kafka-consumer-groups tool.
    super('GROUP_NOT_FOUND', `Consumer group '${groupId}' does not exist.`);
  }
}

/** The broker could not be reached or did not answer in time. Retrying later may help. */
export class BrokerUnavailableError extends KafkaFunctionsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('BROKER_UNAVAILABLE', message, { ...options, retriable: true });
  }
}

/** The schema registry has no such subject, or no schema with that id. */
export class SchemaNotFoundError extends KafkaFunctionsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCHEMA_NOT_FOUND', message, options);
  }
}

/** A value does not match the schema it is to be written with; nothing was written. */
export class SchemaMismatchError extends ValidationError {
  constructor(message: string, field?: string) {
    super(message, field, 'SCHEMA_MISMATCH');
  }
}

/** The schema registry could not be reached, did not answer in time, or failed. Retrying later may help. */
export class SchemaRegistryUnavailableError extends KafkaFunctionsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SCHEMA_REGISTRY_UNAVAILABLE', message, { ...options, retriable: true });
  }
}

/** The message of anything thrown, for logs (never for HTTP bodies of 5xx). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A route this deployment does not serve (the live page outside serverless offline). */
export class NotFoundError extends KafkaFunctionsError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}
