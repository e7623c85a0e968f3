/** The pure parts of /produce: request parsing and validation, access check, partitioners, error mapping. */
import { describe, expect, it } from 'vitest';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { ValidationError, type KafkaFunctionsError } from '../lib/errors';
import { checkApiKey, checkTopicAllowed, parseProduceRequest, type HttpRequest } from '../lib/produce/produce-request';
import { createDefaultPartitioner, createVipUsersPartitioner, murmur2, partitionForKey, VIP_PARTITION } from '../lib/produce/partitioners';
import { recordSizeInBatch, toProduceError } from '../lib/produce/publish';

const limits = { defaultTopic: 'payment-done', maxMessages: 3, maxBodyBytes: 2_048 };

function jsonRequest(body: string, contentType = 'application/json'): HttpRequest {
  return { headers: { 'Content-Type': contentType }, body, isBase64Encoded: false };
}

function parseError(request: HttpRequest): KafkaFunctionsError {
  try {
    parseProduceRequest(request, limits);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected the request to be refused');
}

describe('parsing a produce request', () => {
  it('reads the tutorial record with its key, a JSON value sent as JSON text, headers and partition', () => {
    const request = parseProduceRequest(
      jsonRequest('{"topic":"payment-done","key":"user1","value":{"amount":42},"headers":{"source":"checkout"},"partition":2}'),
      limits,
    );
    expect(request).toEqual({
      topic: 'payment-done',
      records: [{ key: 'user1', value: '{"amount":42}', parsedValue: { amount: 42 }, headers: { source: 'checkout' }, partition: 2 }],
    });
  });

  it('sends a string value as is and uses the default topic when none is given', () => {
    const request = parseProduceRequest(jsonRequest('{"value":"hi there"}', 'application/json; charset=utf-8'), limits);
    expect(request.topic).toBe('payment-done');
    expect(request.records).toEqual([{ key: null, value: 'hi there', parsedValue: 'hi there', headers: {}, partition: undefined }]);
  });

  it('reads a batch in request order and decodes a base64-encoded body', () => {
    const body = Buffer.from('{"topic":"t1","messages":[{"key":"a","value":1},{"value":[true]}]}').toString('base64');
    const request = parseProduceRequest({ headers: { 'content-type': 'application/json' }, body, isBase64Encoded: true }, limits);
    expect(request.topic).toBe('t1');
    expect(request.records.map(({ key, value }) => [key, value])).toEqual([
      ['a', '1'],
      [null, '[true]'],
    ]);
  });

  it.each([
    ['a body that is not JSON', '{"value":', 'the body is not valid JSON'],
    ['an empty body', '', 'the body is not valid JSON'],
    ['a body that is not an object', '["hi"]', 'the body must be a JSON object'],
    ['a missing value', '{"key":"user1"}', 'record.value is required'],
    ['a null value', '{"value":null}', 'record.value is required'],
    ['a key that is not a string', '{"key":42,"value":"x"}', 'record.key must be a string'],
    ['headers that are not an object', '{"value":"x","headers":["a"]}', 'record.headers must be an object'],
    ['a header value that is not a string', '{"value":"x","headers":{"n":1}}', 'record.headers.n must be a string'],
    ['a fractional partition', '{"value":"x","partition":1.5}', 'record.partition must be a whole number'],
    ['a negative partition', '{"value":"x","partition":-1}', 'record.partition must be a whole number'],
    ['a partition given as text', '{"value":"x","partition":"1"}', 'record.partition must be a whole number'],
    ['an unknown field', '{"value":"x","partiton":1}', 'unknown field(s): partiton'],
    ['an empty batch', '{"messages":[]}', '"messages" is empty'],
    ['a batch over the limit', '{"messages":[{"value":1},{"value":2},{"value":3},{"value":4}]}', 'the limit is 3'],
    ['messages that are not an array', '{"messages":{"value":1}}', '"messages" must be an array'],
    ['a batch mixed with single-record fields', '{"key":"k","messages":[{"value":1}]}', 'move key into each message'],
    ['a batch record without a value', '{"messages":[{"value":1},{"key":"k"}]}', 'messages[1].value is required'],
    ['a topic with characters Kafka rejects', '{"topic":"pay ment","value":"x"}', 'not a legal Kafka topic name'],
    ['the topic "."', '{"topic":".","value":"x"}', 'not a legal Kafka topic name'],
    ['a topic longer than 249 characters', `{"topic":"${'t'.repeat(250)}","value":"x"}`, 'Kafka allows at most 249'],
    ['an empty topic', '{"topic":"","value":"x"}', '"topic" must be a non-empty string'],
    ['a null topic', '{"topic":null,"value":"x"}', '"topic" must be a non-empty string'],
    ['a number JSON cannot carry (it would be written as null)', '{"value":{"amount":1e400}}', 'record.value holds a number too large'],
    ['an integer beyond 2^53 (it would be written rounded)', '{"value":{"orderId":9007199254740993}}', 'beyond ±2^53'],
    ['a value nested deeper than 64 levels', `{"value":${'['.repeat(70)}1${']'.repeat(70)}}`, 'nests deeper than 64 levels'],
  ])('refuses %s with 400 INVALID_REQUEST', (_case, body, message) => {
    const error = parseError(jsonRequest(body));
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toContain(message);
  });

  it('keeps a header named __proto__ like any other header', () => {
    const request = parseProduceRequest(jsonRequest('{"value":"x","headers":{"__proto__":"x","a":"b"}}'), limits);
    expect(Object.entries(request.records[0]?.headers ?? {})).toEqual([
      ['__proto__', 'x'],
      ['a', 'b'],
    ]);
  });

  it('refuses a content type that is not JSON, or none, with UNSUPPORTED_MEDIA_TYPE', () => {
    expect(parseError(jsonRequest('{"value":"x"}', 'application/x-www-form-urlencoded')).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(parseError({ headers: {}, body: '{"value":"x"}', isBase64Encoded: false }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(parseError({ headers: null, body: '{"value":"x"}', isBase64Encoded: false }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body over the byte limit with PAYLOAD_TOO_LARGE, counting UTF-8 bytes', () => {
    // 700 three-byte characters: 2 100 bytes but only 700 characters.
    const error = parseError(jsonRequest(`{"value":"${'€'.repeat(700)}"}`));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('schema registry subjects in a produce request', () => {
  it('reads valueSubject and keySubject for one record or a whole batch, and a key of any JSON value with a keySubject', () => {
    const single = parseProduceRequest(jsonRequest('{"valueSubject":"payment-done-value","key":"user1","value":{"amount":1}}'), limits);
    expect(single).toMatchObject({ valueSubject: 'payment-done-value', records: [{ key: 'user1', parsedValue: { amount: 1 } }] });
    expect(single.keySubject).toBeUndefined();

    const batch = parseProduceRequest(
      jsonRequest('{"valueSubject":"v","keySubject":"k","messages":[{"key":{"id":7},"value":{"a":1}},{"value":{"a":2}}]}'),
      limits,
    );
    expect(batch).toMatchObject({ valueSubject: 'v', keySubject: 'k' });
    expect(batch.records.map(({ key, parsedKey }) => ({ key, parsedKey }))).toEqual([
      { key: '{"id":7}', parsedKey: { id: 7 } },
      { key: null, parsedKey: null },
    ]);
  });

  it('refuses a key that is not a string without a keySubject, and a subject that is not a name', () => {
    expect(parseError(jsonRequest('{"key":{"id":7},"value":"x"}'))).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(parseError(jsonRequest('{"valueSubject":"","value":"x"}'))).toMatchObject({ code: 'INVALID_REQUEST', field: 'valueSubject' });
    expect(parseError(jsonRequest('{"keySubject":7,"value":"x"}'))).toMatchObject({ code: 'INVALID_REQUEST', field: 'keySubject' });
  });
});

describe('topic policy and access', () => {
  it('refuses internal topics even when they are in the allowlist, and topics not in it', () => {
    expect(() => checkTopicAllowed('__consumer_offsets', ['__consumer_offsets'])).toThrow(
      expect.objectContaining({ code: 'TOPIC_NOT_ALLOWED' }),
    );
    expect(() => checkTopicAllowed('__transaction_state', ['payment-done'])).toThrow(
      expect.objectContaining({ code: 'TOPIC_NOT_ALLOWED' }),
    );
    expect(() => checkTopicAllowed('other', ['payment-done'])).toThrow(expect.objectContaining({ code: 'TOPIC_NOT_ALLOWED' }));
    expect(() => checkTopicAllowed('payment-done', ['payment-done'])).not.toThrow();
  });

  it('asks for no key when none is configured and for the exact key when one is', () => {
    expect(() => checkApiKey({}, undefined)).not.toThrow();
    expect(() => checkApiKey({ 'X-Api-Key': 's3cret' }, 's3cret')).not.toThrow();
    expect(() => checkApiKey({}, 's3cret')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => checkApiKey({ 'x-api-key': 's3cret!' }, 's3cret')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });
});

describe('partitioners', () => {
  it("computes murmur2 exactly as Kafka's Java Utils.murmur2 (the vectors of Kafka's own UtilsTest)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [text, expected] of vectors) expect(murmur2(Buffer.from(text))).toBe(expected);
  });

  it('puts a key on the same partition every time and keyless records round-robin over all partitions', () => {
    const partitioner = createDefaultPartitioner();
    const key = Buffer.from('user1');
    const first = partitioner({ topic: 't', numPartitions: 3, key, value: 'x' });
    expect(first).toBe(partitionForKey(key, 3));
    expect(partitioner({ topic: 't', numPartitions: 3, key, value: 'y' })).toBe(first);
    const keyless = Array.from({ length: 9 }, () => partitioner({ topic: 't', numPartitions: 3, key: null, value: 'x' }));
    expect([0, 1, 2].map((partition) => keyless.filter((chosen) => chosen === partition).length)).toEqual([3, 3, 3]);
    for (let i = 1; i < keyless.length; i += 1) expect(keyless[i]).toBe(((keyless[i - 1] ?? 0) + 1) % 3);
  });

  it('pins VIP values to their own partition and spreads every other record over the rest', () => {
    const partitioner = createVipUsersPartitioner();
    expect(partitioner({ topic: 't', numPartitions: 4, key: Buffer.from('user1'), value: { tier: 'vip' } })).toBe(VIP_PARTITION);
    const others = Array.from({ length: 200 }, (_, i) =>
      partitioner({ topic: 't', numPartitions: 4, key: Buffer.from(`user${i}`), value: { tier: 'basic' } }),
    );
    expect(new Set(others)).toEqual(new Set([1, 2, 3]));
    expect(partitioner({ topic: 't', numPartitions: 1, key: null, value: 'x' })).toBe(0);
  });
});

describe('sizes and broker errors', () => {
  it('estimates a record at least as large as its key, value and headers', () => {
    const size = recordSizeInBatch({
      key: 'user1',
      value: 'x'.repeat(1_000),
      parsedValue: '',
      headers: { source: 'checkout' },
      partition: undefined,
    });
    expect(size).toBeGreaterThan(5 + 1_000 + 6 + 8);
    expect(size).toBeLessThan(5 + 1_000 + 6 + 8 + 40);
  });

  it('maps kafkajs failures to errors with meaning', () => {
    const refused = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), {
      retryCount: 2,
      retryTime: 100,
    });
    expect(toProduceError(refused, 't')).toEqual(expect.objectContaining({ code: 'BROKER_UNAVAILABLE' }));
    const tooLarge = new KafkaJSProtocolError(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE', code: 10 }));
    expect(toProduceError(tooLarge, 't')).toEqual(expect.objectContaining({ code: 'RECORD_TOO_LARGE' }));
    const unknownTopic = new KafkaJSProtocolError(Object.assign(new Error('unknown'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 }));
    expect(toProduceError(unknownTopic, 't')).toEqual(expect.objectContaining({ code: 'TOPIC_NOT_FOUND' }));
    const other = new Error('bug');
    expect(toProduceError(other, 't')).toBe(other);
  });
});
