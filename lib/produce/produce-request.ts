/**
 * The body of POST /produce, checked before anything is sent: one record or a batch, in the shapes the
 * README documents. Everything here is pure (no Kafka), so every bad input is rejected with a clear
 * 4xx and nothing is written. Checks that need the broker (topic exists, partition in range, record
 * size against the topic's limit) live in publish.ts.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { AccessDeniedError, TopicNotAllowedError, ValidationError } from '../errors';
import { MAX_TOPIC_NAME_LENGTH, isRecord, isTopicName } from '../validation';

export interface ProduceRecord {
  /** null when the record has no key. With a keySubject, a key that is not a string is its JSON text here. */
  key: string | null;
  /** The bytes sent to Kafka: a string value as is, any other JSON value as its JSON text; with a valueSubject, the wire format. */
  value: string | Buffer;
  /** The value as the caller sent it (for partition strategies that look inside, and for schema encoding). */
  parsedValue: unknown;
  /** With a keySubject: the key as the caller sent it (any JSON value). */
  parsedKey?: unknown;
  /** With a keySubject: the key in the wire format, sent (and partitioned on) instead of `key`. */
  keyBytes?: Buffer;
  headers: Record<string, string>;
  /** Requested partition; undefined lets the partitioner choose. */
  partition: number | undefined;
}

export interface ProduceRequest {
  topic: string;
  records: ProduceRecord[];
  /** Registry subjects whose latest schema encodes every value / key (lib/produce/schema-encoding.ts). */
  valueSubject?: string;
  keySubject?: string;
}

/** The parts of an API Gateway (REST, v1) event this module reads. */
export interface HttpRequest {
  headers: Record<string, string | undefined> | null;
  body: string | null;
  isBase64Encoded: boolean;
}

export interface ProduceRequestLimits {
  defaultTopic: string;
  maxMessages: number;
  maxBodyBytes: number;
}

const SINGLE_FIELDS = new Set(['topic', 'key', 'value', 'headers', 'partition', 'valueSubject', 'keySubject']);
const BATCH_FIELDS = new Set(['topic', 'messages', 'valueSubject', 'keySubject']);
const RECORD_FIELDS = new Set(['key', 'value', 'headers', 'partition']);

/** A header, looked up case-insensitively (API Gateway and serverless-offline keep the sender's case). */
export function headerValue(headers: HttpRequest['headers'], name: string): string | undefined {
  if (headers === null) return undefined;
  const wanted = name.toLowerCase();
  for (const [header, value] of Object.entries(headers)) {
    if (header.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** When an API key is configured (PRODUCE_API_KEY), the request must carry it in `x-api-key`. */
export function checkApiKey(headers: HttpRequest['headers'], apiKey: string | undefined): void {
  if (apiKey === undefined) return;
  const given = headerValue(headers, 'x-api-key');
  // Comparing digests in constant time: the answer's timing says nothing about how much of the key matched.
  if (given === undefined || !timingSafeEqual(digest(given), digest(apiKey)))
    throw new AccessDeniedError('a valid x-api-key header is required');
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/** Rejects a topic name the broker would reject (so the caller gets a 400, not a broker error). */
export function validateTopicName(topic: unknown): string {
  if (typeof topic !== 'string' || topic === '') throw new ValidationError('"topic" must be a non-empty string', 'topic');
  if (topic.length > MAX_TOPIC_NAME_LENGTH) {
    throw new ValidationError(`"topic" is ${topic.length} characters long; Kafka allows at most ${MAX_TOPIC_NAME_LENGTH}`, 'topic');
  }
  if (!isTopicName(topic)) {
    throw new ValidationError(
      `"topic" '${topic}' is not a legal Kafka topic name (letters, digits, '.', '_', '-'; not '.' or '..')`,
      'topic',
    );
  }
  return topic;
}

/** Internal topics (`__consumer_offsets`, `__transaction_state`, any `__*`) are always refused; others must be allowed. */
export function checkTopicAllowed(topic: string, allowedTopics: readonly string[]): void {
  if (topic.startsWith('__') || !allowedTopics.includes(topic)) throw new TopicNotAllowedError(topic);
}

/** How deeply a JSON value may nest (a deeper one is a 400, not a stack overflow). */
const MAX_VALUE_DEPTH = 64;

/**
 * A JSON value is re-serialised before it is written, so it must survive that unchanged: no number that
 * JSON.parse turned into Infinity (1e400 would be written as null), no integer beyond ±2^53 (it would be
 * written rounded), and no nesting deeper than MAX_VALUE_DEPTH. Walked without recursion.
 */
function checkJsonValue(value: unknown, where: string): void {
  const stack: { item: unknown; depth: number }[] = [{ item: value, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { item, depth } = next;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) throw new ValidationError(`${where} holds a number too large for JSON to carry`, where);
      if (Number.isInteger(item) && !Number.isSafeInteger(item)) {
        throw new ValidationError(`${where} holds an integer beyond ±2^53, which would be written rounded; send it as a string`, where);
      }
    } else if (typeof item === 'object' && item !== null) {
      if (depth >= MAX_VALUE_DEPTH) throw new ValidationError(`${where} nests deeper than ${MAX_VALUE_DEPTH} levels`, where);
      for (const child of Object.values(item)) stack.push({ item: child, depth: depth + 1 });
    }
  }
}

/** A registry subject: any non-empty text without control characters (Confluent allows almost anything). */
function parseSubject(body: Record<string, unknown>, field: 'valueSubject' | 'keySubject'): string | undefined {
  const subject = body[field];
  if (subject === undefined) return undefined;
  if (typeof subject !== 'string' || subject === '' || subject.length > 255 || /\p{Cc}/u.test(subject)) {
    throw new ValidationError(`"${field}" must be a schema registry subject name (1 to 255 characters)`, field);
  }
  return subject;
}

function parseRecord(raw: unknown, where: string, allowed: Set<string>, keySubject: string | undefined): ProduceRecord {
  if (!isRecord(raw)) throw new ValidationError(`${where} must be a JSON object`, where);
  const unknown = Object.keys(raw).filter((field) => !allowed.has(field));
  if (unknown.length > 0) throw new ValidationError(`${where} has unknown field(s): ${unknown.join(', ')}`, where);

  const { key, value, headers, partition } = raw;
  if (value === undefined || value === null)
    throw new ValidationError(`${where}.value is required (a string or any JSON value but null)`, `${where}.value`);
  if (key !== undefined && key !== null && typeof key !== 'string' && keySubject === undefined)
    throw new ValidationError(`${where}.key must be a string`, `${where}.key`);
  if (key !== undefined && key !== null && typeof key !== 'string') checkJsonValue(key, `${where}.key`);
  if (typeof value !== 'string') checkJsonValue(value, `${where}.value`);

  // No prototype: a header named __proto__ is kept as a header like any other.
  const recordHeaders: Record<string, string> = Object.create(null) as Record<string, string>;
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers)) throw new ValidationError(`${where}.headers must be an object of string values`, `${where}.headers`);
    for (const [name, headerText] of Object.entries(headers)) {
      if (typeof headerText !== 'string') throw new ValidationError(`${where}.headers.${name} must be a string`, `${where}.headers`);
      recordHeaders[name] = headerText;
    }
  }

  if (partition !== undefined && partition !== null && !(typeof partition === 'number' && Number.isInteger(partition) && partition >= 0)) {
    throw new ValidationError(`${where}.partition must be a whole number from 0`, `${where}.partition`);
  }

  return {
    key: typeof key === 'string' ? key : key === undefined || key === null ? null : JSON.stringify(key),
    value: typeof value === 'string' ? value : JSON.stringify(value),
    parsedValue: value,
    ...(keySubject === undefined ? {} : { parsedKey: key ?? null }),
    headers: recordHeaders,
    partition: typeof partition === 'number' ? partition : undefined,
  };
}

/**
 * Turns the HTTP request into a ProduceRequest or throws a ValidationError: 415 for a content type that
 * is not JSON, 413 for a body over the limit, 400 for everything else that is malformed.
 */
export function parseProduceRequest(request: HttpRequest, limits: ProduceRequestLimits): ProduceRequest {
  if (!isJsonContentType(headerValue(request.headers, 'content-type'))) {
    throw new ValidationError('send the body as JSON with "Content-Type: application/json"', 'content-type', 'UNSUPPORTED_MEDIA_TYPE');
  }
  // A text body is measured and parsed as it is: no copy of a 1 MB batch into bytes and back.
  const decoded = request.body !== null && request.isBase64Encoded ? Buffer.from(request.body, 'base64') : undefined;
  const text = decoded?.toString('utf8') ?? request.body ?? '';
  const size = decoded?.length ?? Buffer.byteLength(text, 'utf8');
  if (size > limits.maxBodyBytes) {
    throw new ValidationError(`the body is ${size} bytes; the limit is ${limits.maxBodyBytes}`, 'body', 'PAYLOAD_TOO_LARGE');
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError('the body is not valid JSON', 'body');
  }
  if (!isRecord(body)) throw new ValidationError('the body must be a JSON object', 'body');

  // Only an absent topic means the default; "topic": null is a malformed topic.
  const topic = validateTopicName(body.topic === undefined ? limits.defaultTopic : body.topic);

  const valueSubject = parseSubject(body, 'valueSubject');
  const keySubject = parseSubject(body, 'keySubject');
  // Present only when asked for: a request without subjects is the same as before subjects existed.
  const subjects = { ...(valueSubject === undefined ? {} : { valueSubject }), ...(keySubject === undefined ? {} : { keySubject }) };
  if (!('messages' in body)) return { topic, records: [parseRecord(body, 'record', SINGLE_FIELDS, keySubject)], ...subjects };

  const mixed = Object.keys(body).filter((field) => !BATCH_FIELDS.has(field));
  if (mixed.length > 0) {
    throw new ValidationError(
      `a batch has only "topic", "messages" and the subjects; move ${mixed.join(', ')} into each message`,
      'messages',
    );
  }
  const { messages } = body;
  if (!Array.isArray(messages)) throw new ValidationError('"messages" must be an array of records', 'messages');
  if (messages.length === 0) throw new ValidationError('"messages" is empty', 'messages');
  if (messages.length > limits.maxMessages) {
    throw new ValidationError(`"messages" has ${messages.length} records; the limit is ${limits.maxMessages}`, 'messages');
  }
  const records = messages.map((message: unknown, index) => parseRecord(message, `messages[${index}]`, RECORD_FIELDS, keySubject));
  return { topic, records, ...subjects };
}
