/**
 * AWS's Kafka error-handling controls under the real `serverless offline start` against the real broker
 * (test/fixtures/offline-kafka/error-handling.yml): partial batch responses with retries and a `kafka://`
 * destination, bisecting, record age, infinite retries, an SQS destination. One offline instance serves all
 * checks; each function has its own topic, group and destination, and its own fixture handler, which logs
 * every record it is given to a file, so deliveries are counted as the function saw them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedOffsets, endOffsets, readRecords, sendRecords, uniqueName } from './support/kafka';
import { createServedTopics, jsonLines, serviceFile } from './support/offline-kafka';
import { startOffline, type Offline } from './support/offline';
import { waitFor } from './support/wait';

const topics = {
  poison: uniqueName('oke-poison'),
  poisonFailed: uniqueName('oke-poison-failed'),
  bisect: uniqueName('oke-bisect'),
  bisectFailed: uniqueName('oke-bisect-failed'),
  age: uniqueName('oke-age'),
  ageFailed: uniqueName('oke-age-failed'),
  block: uniqueName('oke-block'),
  sqs: uniqueName('oke-sqs'),
};
const groups = {
  poison: uniqueName('oke-poison-group'),
  bisect: uniqueName('oke-bisect-group'),
  age: uniqueName('oke-age-group'),
  block: uniqueName('oke-block-group'),
  sqs: uniqueName('oke-sqs-group'),
};
const sqsQueue = uniqueName('oke-failed-queue');
/** The poison test: each partition gets these values, the third one poison. */
const POISON_PARTITION = ['a', 'b', 'poison', 'c', 'd'];
const BAD_INDEX = 37;

interface Delivery {
  topic: string;
  partition: number;
  offset: number;
  value: string;
  batchSize: number;
  batch: string;
}

let offline: Offline;
let service: ReturnType<typeof serviceFile>;
let stateDir: string;
let destinationsDir: string;

function deliveries(topic: string): Delivery[] {
  const file = join(stateDir, `deliveries-${topic}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Delivery);
}

/** End and committed offsets; undefined while the broker cannot say yet (a coordinator still loading, moving). */
async function readOffsets(group: string, topic: string) {
  try {
    const [ends, committed] = await Promise.all([endOffsets(topic), committedOffsets(group, topic)]);
    return { ends, committed };
  } catch {
    return undefined;
  }
}

/** The committed offset equals the log end on every partition: the group's lag is 0. */
async function waitForNoLag(group: string, topic: string, timeoutMs = 60_000): Promise<void> {
  let state = '';
  await waitFor(
    () => `group ${group} to reach lag 0 on ${topic} (${state})`,
    async () => {
      const offsets = await readOffsets(group, topic);
      if (offsets === undefined) return false;
      const { ends, committed } = offsets;
      state = [...ends].map(([partition, end]) => `${partition}: ${committed.get(partition) ?? -1}/${end}`).join(', ');
      return [...ends].every(([partition, end]) => committed.get(partition) === Number(end));
    },
    timeoutMs,
    300,
  );
}

/** What a `kafka://` destination got: the invocation record of each failed record, with that record's event. */
async function destinationRecords(topic: string, count: number) {
  const read = await readRecords(topic, count, 30_000);
  return read.map((message) => {
    const record = JSON.parse(message.value ?? '{}') as {
      requestContext: { condition: string; approximateInvokeCount: number };
      KafkaBatchInfo: { recordInfo: { offset: string | number } };
      payload: { records: Record<string, { partition: number; offset: number; value: string }[]> };
    };
    const [original] = Object.values(record.payload.records).flat();
    return {
      key: message.key,
      condition: record.requestContext.condition,
      partition: original?.partition,
      offset: Number(original?.offset),
      value: Buffer.from(original?.value ?? '', 'base64').toString('utf8'),
    };
  });
}

describe('AWS Kafka error handling under serverless offline', () => {
  beforeAll(async () => {
    await createServedTopics([
      { topic: topics.poison, numPartitions: 3 },
      { topic: topics.poisonFailed, numPartitions: 1 },
      { topic: topics.bisect, numPartitions: 1 },
      { topic: topics.bisectFailed, numPartitions: 1 },
      { topic: topics.age, numPartitions: 1 },
      { topic: topics.ageFailed, numPartitions: 1 },
      { topic: topics.block, numPartitions: 3 },
      { topic: topics.sqs, numPartitions: 1 },
    ]);
    // Everything is in the topics before the mappings join, so the first batches are whole.
    await sendRecords(
      topics.poison,
      [0, 1, 2].flatMap((partition) => POISON_PARTITION.map((value) => ({ partition, key: `p${partition}-${value}`, value }))),
    );
    await sendRecords(
      topics.bisect,
      Array.from({ length: 100 }, (_, index) => ({ partition: 0, key: `k${index}`, value: index === BAD_INDEX ? 'bad' : `good-${index}` })),
    );
    const old = String(Date.now() - 120_000);
    await sendRecords(topics.age, [
      { partition: 0, key: 'old-1', value: 'old-1', timestamp: old },
      { partition: 0, key: 'old-2', value: 'old-2', timestamp: old },
      { partition: 0, key: 'new-1', value: 'new-1' },
      { partition: 0, key: 'new-2', value: 'new-2' },
    ]);
    await sendRecords(topics.block, [
      { partition: 0, value: 'before' },
      { partition: 0, value: 'block' },
      { partition: 0, value: 'after' },
      { partition: 1, value: 'p1-first' },
      { partition: 2, value: 'p2-first' },
    ]);
    await sendRecords(topics.sqs, [{ partition: 0, key: 'q', value: 'never processed' }]);

    stateDir = mkdtempSync(join(tmpdir(), 'offline-kafka-errors-'));
    destinationsDir = mkdtempSync(join(tmpdir(), 'offline-kafka-destinations-'));
    service = serviceFile('error-handling');
    offline = await startOffline({
      args: ['--config', service.config],
      env: {
        FIXTURE_STATE_DIR: stateDir,
        CONSUME_DESTINATIONS_DIR: destinationsDir,
        CONSUME_RETRY_BACKOFF_MS: '100',
        TOPIC_POISON: topics.poison,
        TOPIC_POISON_FAILED: topics.poisonFailed,
        GROUP_POISON: groups.poison,
        TOPIC_BISECT: topics.bisect,
        TOPIC_BISECT_FAILED: topics.bisectFailed,
        GROUP_BISECT: groups.bisect,
        TOPIC_AGE: topics.age,
        TOPIC_AGE_FAILED: topics.ageFailed,
        GROUP_AGE: groups.age,
        TOPIC_BLOCK: topics.block,
        GROUP_BLOCK: groups.block,
        TOPIC_SQS: topics.sqs,
        GROUP_SQS: groups.sqs,
        SQS_QUEUE: sqsQueue,
      },
    });
  });

  afterAll(async () => {
    await offline?.stop();
    service?.remove();
    for (const dir of [stateDir, destinationsDir]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'delivers a reported poison record 1 + maximumRetryAttempts times, processes the others, ' +
      'writes it to the kafka:// destination and moves on to lag 0',
    async () => {
      await waitForNoLag(groups.poison, topics.poison);
      const seen = deliveries(topics.poison);
      for (const partition of [0, 1, 2]) {
        const mine = seen.filter((delivery) => delivery.partition === partition);
        // The poison record is the third (offset 2): delivered once, then retried maximumRetryAttempts (2) times.
        expect(mine.filter(({ value }) => value === 'poison').map(({ offset }) => offset)).toEqual([2, 2, 2]);
        // Every other record reached the function (those after the poison one again on each retry: at least once).
        expect(new Set(mine.filter(({ value }) => value !== 'poison').map(({ value }) => value))).toEqual(new Set(['a', 'b', 'c', 'd']));
        // The records before it were committed with the first response: never delivered again.
        expect(mine.filter(({ value }) => value === 'a' || value === 'b')).toHaveLength(2);
      }
      const failed = await destinationRecords(topics.poisonFailed, 3);
      expect(
        failed
          .map(({ partition, offset, value, key }) => ({ partition, offset, value, key }))
          .sort((x, y) => (x.partition ?? -1) - (y.partition ?? -1)),
      ).toEqual([0, 1, 2].map((partition) => ({ partition, offset: 2, value: 'poison', key: `p${partition}-poison` })));
      expect(new Set(failed.map(({ condition }) => condition))).toEqual(new Set(['RetriesExhausted']));
    },
  );

  it('bisects a failing batch of 100 down to the one throwing record, processes the 99 others, sends it to the destination', async () => {
    await waitForNoLag(groups.bisect, topics.bisect);
    // The size of each invocation that held the bad record, in order.
    const withBad = deliveries(topics.bisect)
      .filter(({ value }) => value === 'bad')
      .map(({ batchSize }) => batchSize);
    expect(withBad[0]).toBe(100);
    const halvings = withBad.filter((size, index) => index === 0 || size < (withBad[index - 1] ?? Number.POSITIVE_INFINITY));
    for (let index = 1; index < halvings.length; index += 1) {
      const previous = halvings[index - 1] ?? 0;
      expect([Math.floor(previous / 2), Math.ceil(previous / 2)]).toContain(halvings[index]);
    }
    expect(halvings[halvings.length - 1]).toBe(1);
    const processedGood = new Set(
      deliveries(topics.bisect)
        .filter(({ value, batch }) => value !== 'bad' && !batch.split(',').includes(`0@${BAD_INDEX}`))
        .map(({ offset }) => offset),
    );
    expect(processedGood.size).toBe(99);
    const [failed] = await destinationRecords(topics.bisectFailed, 1);
    expect(failed).toMatchObject({ partition: 0, offset: BAD_INDEX, value: 'bad', key: `k${BAD_INDEX}` });
  });

  it('never gives the function records older than maximumRecordAgeInSeconds and writes them to the destination', async () => {
    await waitForNoLag(groups.age, topics.age);
    expect(deliveries(topics.age).map(({ value }) => value)).toEqual(['new-1', 'new-2']);
    const expired = await destinationRecords(topics.ageFailed, 2);
    expect(expired.map(({ value, offset }) => ({ value, offset }))).toEqual([
      { value: 'old-1', offset: 0 },
      { value: 'old-2', offset: 1 },
    ]);
    expect(new Set(expired.map(({ condition }) => condition))).toEqual(new Set(['RecordAgeExceeded']));
  });

  it('keeps retrying a failing record forever with infinite retries, holding back its partition while the others flow', async () => {
    await waitFor(
      'the blocking record to be delivered 3 times',
      () => deliveries(topics.block).filter(({ value }) => value === 'block').length >= 3,
      60_000,
    );
    // Records produced meanwhile to the other partitions are processed and committed.
    await sendRecords(topics.block, [
      { partition: 1, value: 'p1-later' },
      { partition: 2, value: 'p2-later' },
    ]);
    await waitFor(
      'partitions 1 and 2 to be committed to their end while partition 0 stays at the blocking record',
      async () => {
        const offsets = await readOffsets(groups.block, topics.block);
        if (offsets === undefined) return false;
        const { ends, committed } = offsets;
        return [1, 2].every((partition) => committed.get(partition) === Number(ends.get(partition))) && committed;
      },
      60_000,
    );
    const seen = deliveries(topics.block);
    expect(new Set(seen.filter(({ partition }) => partition !== 0).map(({ value }) => value))).toEqual(
      new Set(['p1-first', 'p1-later', 'p2-first', 'p2-later']),
    );
    const blocking = seen.filter(({ value }) => value === 'block');
    expect(blocking.every(({ partition, offset }) => partition === 0 && offset === 1)).toBe(true);
    const before = blocking.length;
    await waitFor(
      'another retry of the blocking record',
      () => deliveries(topics.block).filter(({ value }) => value === 'block').length > before,
      60_000,
    );
    // Committed before the blocking record (offset 1): 'before' is done, nothing from offset 1 on is.
    expect((await committedOffsets(groups.block, topics.block)).get(0)).toBe(1);
  });

  it('appends what AWS sends an SQS destination to its file, once the retries are exhausted', async () => {
    const file = join(destinationsDir, 'sqs', `${sqsQueue}.jsonl`);
    const lines = await waitFor('the SQS destination file', () => existsSync(file) && jsonLines(readFileSync(file, 'utf8')), 60_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      KafkaBatchInfo: { batchSize: 1, recordsInfo: { [`${topics.sqs}-0`]: { firstRecordOffset: '0', lastRecordOffset: '0' } } },
    });
    // The records themselves are not sent to SQS (S3 gets the payload).
    expect(lines[0]).not.toHaveProperty('payload');
    expect(deliveries(topics.sqs).map(({ offset }) => offset)).toEqual([0, 0]);
    await waitForNoLag(groups.sqs, topics.sqs);
  });
});
