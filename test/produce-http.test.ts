/**
 * POST /produce end to end: the real `serverless offline start` (one instance for the file), called with
 * fetch, checked against what the broker holds. This instance runs with the API-key option on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../lib/produce/partitioners';
import { createTopic, endOffsets, readRecords, uniqueName, withAdmin } from './support/kafka';
import type { Offline } from './support/offline';
import { jsonLines } from './support/processes';
import { startOffline } from './support/offline';

const API_KEY = uniqueName('key');
const main = uniqueName('http-main');
const small = uniqueName('http-small');
const missing = uniqueName('http-missing');
const notAllowed = uniqueName('http-not-allowed');
const MAX_BODY_BYTES = 65_536;

let offline: Offline;

interface Answer {
  status: number;
  body: unknown;
  correlationId: string | null;
}

/** POSTs with JSON content type and the API key; a header given as null is left out. */
async function post(body: unknown, headers: Record<string, string | null> = {}): Promise<Answer> {
  const sent = Object.entries({ 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers }).filter(
    (entry): entry is [string, string] => entry[1] !== null,
  );
  const response = await fetch(`${offline.baseUrl}/produce`, {
    method: 'POST',
    headers: Object.fromEntries(sent),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), correlationId: response.headers.get('x-correlation-id') };
}

interface ProduceAnswer {
  topic: string;
  results: { key: string | null; partition: number; offset: string }[];
}

function produced(answer: Answer): ProduceAnswer {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as ProduceAnswer;
}

beforeAll(async () => {
  await createTopic(main, 3);
  await createTopic(notAllowed, 3);
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic: small, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
      waitForLeaders: true,
    }),
  );
  offline = await startOffline({
    env: {
      PRODUCE_TOPICS: [main, small, missing, '__consumer_offsets'].join(','),
      PRODUCE_API_KEY: API_KEY,
      PRODUCE_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    },
  });
});

afterAll(async () => {
  await offline?.stop();
});

describe('POST /produce through serverless offline', () => {
  it('started with OFFLINE_KAFKA_ENABLED=false (as every HTTP test starts it), offline says once that the mappings are off', () => {
    const off = jsonLines(offline.process.output()).filter((line) => String(line.message).startsWith('event source mappings off'));
    expect(off).toHaveLength(1);
    expect(off[0]?.message).toContain('OFFLINE_KAFKA_ENABLED=false');
  });

  it('publishes one keyed record and answers its partition and offset, which a real consumer confirms', async () => {
    const answer = produced(await post({ topic: main, key: 'user1', value: { amount: 42 }, headers: { source: 'checkout' } }));
    const partition = partitionForKey(Buffer.from('user1'), 3);
    expect(answer).toEqual({ topic: main, results: [{ key: 'user1', partition, offset: '0' }] });
    const [read] = await readRecords(main, 1);
    expect(read).toEqual({ partition, offset: '0', key: 'user1', value: '{"amount":42}', headers: { source: 'checkout' } });
  });

  it('publishes a batch and answers one result per record in request order', async () => {
    const before = await endOffsets(main);
    const messages = [{ key: 'user7', value: 'hi there' }, { value: { n: 1 } }, { key: 'user8', value: 'third', partition: 1 }];
    const answer = produced(await post({ topic: main, messages }));
    expect(answer.results.map((r) => r.key)).toEqual(['user7', null, 'user8']);
    expect(answer.results[0]?.partition).toBe(partitionForKey(Buffer.from('user7'), 3));
    expect(answer.results[2]?.partition).toBe(1);
    const after = await endOffsets(main);
    const written = [0, 1, 2].reduce((sum, p) => sum + Number(after.get(p)) - Number(before.get(p)), 0);
    expect(written).toBe(3);
  });

  it('puts the same key on the same partition across separate requests', async () => {
    const partitions = new Set<number>();
    for (let i = 0; i < 5; i += 1) {
      const answer = produced(await post({ topic: main, key: 'same-user', value: `event ${i}` }));
      partitions.add(answer.results[0]?.partition ?? -1);
    }
    expect([...partitions]).toEqual([partitionForKey(Buffer.from('same-user'), 3)]);
  });

  it('logs one line per request with the correlation id, topic, record count and partitions, but not the payload', async () => {
    const secret = uniqueName('payload-marker');
    const answer = await post({
      topic: main,
      messages: [
        { key: 'user1', value: secret },
        { key: 'user2', value: secret },
      ],
    });
    const { results } = produced(answer);
    expect(answer.correlationId).toMatch(/\S/);
    const line = await offline.process.waitForOutput(new RegExp(`\\{[^\\n]*"correlationId":"${answer.correlationId}"[^\\n]*\\}`), 10_000);
    const logged = JSON.parse(line[0]) as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 'INFO', message: 'produced', topic: main, records: 2 });
    expect(logged.partitions).toEqual([...new Set(results.map((r) => r.partition))].sort((a, b) => a - b));
    expect(offline.process.output()).not.toContain(secret);
  });
});

describe('the producer behind POST /produce', () => {
  it('connects once and is reused by every later request (no connect per request)', async () => {
    for (let i = 0; i < 3; i += 1) produced(await post({ topic: main, key: `reuse-${i}`, value: 'x' }));
    const connects = offline.process.output().match(/"message":"kafka producer connected"/g) ?? [];
    expect(connects).toHaveLength(1);
  });
});

describe('bad input to POST /produce gets a clear JSON error and writes nothing', () => {
  const oversizedBatch = { topic: main, messages: Array.from({ length: 501 }, (_, i) => ({ value: i })) };
  const cases: [string, unknown, Record<string, string | null>, number, string][] = [
    ['a body that is not JSON', '{"topic":', {}, 400, 'INVALID_REQUEST'],
    ['a body that is not an object', '"hi"', {}, 400, 'INVALID_REQUEST'],
    ['a missing value', { topic: main, key: 'user1' }, {}, 400, 'INVALID_REQUEST'],
    ['a null value', { topic: main, value: null }, {}, 400, 'INVALID_REQUEST'],
    ['a key that is not a string', { topic: main, key: 7, value: 'x' }, {}, 400, 'INVALID_REQUEST'],
    ['headers that are not a string map', { topic: main, value: 'x', headers: { n: 1 } }, {}, 400, 'INVALID_REQUEST'],
    ['a partition that is not an integer', { topic: main, value: 'x', partition: 'one' }, {}, 400, 'INVALID_REQUEST'],
    ['a partition the topic does not have', { topic: main, value: 'x', partition: 3 }, {}, 400, 'INVALID_REQUEST'],
    ['an empty batch', { topic: main, messages: [] }, {}, 400, 'INVALID_REQUEST'],
    ['a batch over the 500-record limit', oversizedBatch, {}, 400, 'INVALID_REQUEST'],
    ['a batch mixed with single-record fields', { topic: main, value: 'x', messages: [{ value: 'y' }] }, {}, 400, 'INVALID_REQUEST'],
    [
      'a batch with one bad record among good ones',
      { topic: main, messages: [{ value: 'ok' }, { value: 'ok', partition: 99 }] },
      {},
      400,
      'INVALID_REQUEST',
    ],
    ['a topic name Kafka would reject', { topic: 'bad/topic', value: 'x' }, {}, 400, 'INVALID_REQUEST'],
    ['a topic name over 249 characters', { topic: 'a'.repeat(250), value: 'x' }, {}, 400, 'INVALID_REQUEST'],
    [
      'a content type that is not JSON',
      JSON.stringify({ topic: main, value: 'x' }),
      { 'content-type': 'text/plain' },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['a body over the size limit', { topic: main, value: 'x'.repeat(MAX_BODY_BYTES) }, {}, 413, 'PAYLOAD_TOO_LARGE'],
    ['no API key', { topic: main, value: 'x' }, { 'x-api-key': null }, 403, 'FORBIDDEN'],
    ['a wrong API key', { topic: main, value: 'x' }, { 'x-api-key': `${API_KEY}-wrong` }, 403, 'FORBIDDEN'],
    ['an internal topic, even when listed in PRODUCE_TOPICS', { topic: '__consumer_offsets', value: 'x' }, {}, 403, 'TOPIC_NOT_ALLOWED'],
  ];

  it.each(cases)('answers %s with its status and code', async (_name, body, headers, status, code) => {
    const before = await endOffsets(main);
    const answer = await post(body, headers);
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual({ error: { code, message: expect.stringMatching(/\S/) } });
    expect(await endOffsets(main)).toEqual(before);
  });

  it('answers 403 TOPIC_NOT_ALLOWED for an existing topic that is not in PRODUCE_TOPICS', async () => {
    const before = await endOffsets(notAllowed);
    const answer = await post({ topic: notAllowed, value: 'x' });
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'TOPIC_NOT_ALLOWED' } } });
    expect(await endOffsets(notAllowed)).toEqual(before);
  });

  it('answers 404 TOPIC_NOT_FOUND for an allowed topic that does not exist, and does not create it', async () => {
    const answer = await post({ topic: missing, key: 'user1', value: 'x' });
    expect(answer).toMatchObject({
      status: 404,
      body: { error: { code: 'TOPIC_NOT_FOUND', message: `topic '${missing}' does not exist` } },
    });
    expect(await withAdmin((admin) => admin.listTopics())).not.toContain(missing);
  });

  it("answers 400 RECORD_TOO_LARGE for a record over the topic's size limit and writes no other record of the batch", async () => {
    const before = await endOffsets(small);
    const answer = await post({
      topic: small,
      messages: [
        { key: 'a', value: 'fits' },
        { key: 'b', value: 'x'.repeat(4_000) },
      ],
    });
    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'RECORD_TOO_LARGE' } } });
    expect(await endOffsets(small)).toEqual(before);
  });
});
