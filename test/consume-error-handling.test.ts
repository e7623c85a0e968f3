/**
 * AWS's error-handling controls for Kafka event sources through `npm run consume` against the real broker
 * (CONSUME_MAXIMUM_RETRY_ATTEMPTS, CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS, CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR,
 * CONSUME_FUNCTION_RESPONSE_TYPES, CONSUME_ON_FAILURE_DESTINATION): what the handler is given, what a real
 * consumer reads back from the destination topic, what the broker shows committed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KafkaEvent } from '../lib/consumer/lambda-event';
import { eventRecords } from '../lib/consumer/lambda-event';
import { committedOffsets, createTopic, endOffsets, readRecords, sendRecords, uniqueName } from './support/kafka';
import { logLines, startConsumeCli, summaryOf, type Member } from './support/consume';
import { waitFor } from './support/wait';

const TEST_HANDLER = 'test/fixtures/test-record-handler.ts';

function consume(topic: string, groupId: string, args: string[], env: NodeJS.ProcessEnv): Member {
  const member = startConsumeCli('cli', topic, groupId, args, {
    CONSUME_HANDLER: TEST_HANDLER,
    CONSUME_BATCH_WINDOW_MS: '100',
    CONSUME_RETRY_BACKOFF_MS: '50',
    ...env,
  });
  return member;
}

/** Offsets ("<partition>@<offset>") of each invocation, in order. */
function invocations(member: Member): string[][] {
  return logLines(member)
    .filter((line) => line.message === 'handler attempt')
    .map((line) => line.offsets as string[]);
}

function handled(member: Member): string[] {
  return logLines(member)
    .filter((line) => line.message === 'test record handled')
    .map((line) => `${line.partition}@${line.offset}`);
}

/** Waits until the group's committed offsets equal the topic's end offsets (lag 0) on the given partitions. */
async function waitForLagZero(member: Member, groupId: string, topic: string, partitions?: number[]) {
  const ends = await endOffsets(topic);
  await waitFor(
    () => `lag 0 on ${topic}; the member printed: ${member.process.output().slice(-3_000)}`,
    async () => {
      const committed = await committedOffsets(groupId, topic);
      const wanted = partitions ?? [...ends.keys()];
      return wanted.every((partition) => committed.get(partition) === Number(ends.get(partition)));
    },
    60_000,
  );
}

interface DestinationMessage {
  requestContext: { condition: string; approximateInvokeCount: number; functionArn: string };
  KafkaBatchInfo: { batchSize: number; recordInfo: { offset: string; timestamp: string } };
  payload: KafkaEvent;
}

describe('consume: AWS error handling for Kafka event sources', () => {
  it(
    'a record reported in batchItemFailures is delivered 1 + maximumRetryAttempts times, then lands in the kafka:// ' +
      'destination; the others are handled and the lag reaches 0',
    async () => {
      // Prepare: one poison record per partition, among records that succeed.
      const topic = await createTopic(uniqueName('consume-partial'), 2);
      const destination = await createTopic(uniqueName('consume-partial-failed'), 1);
      const groupId = uniqueName('group-partial');
      await sendRecords(
        topic,
        [0, 1].flatMap((partition) =>
          ['ok-a', 'ok-b', 'poison', 'ok-c'].map((value) => ({
            value: `${value}-${partition}`,
            key: `k-${value}-${partition}`,
            partition,
          })),
        ),
      );

      // Act
      const member = consume(topic, groupId, ['--duration', '60'], {
        TEST_HANDLER_MODE: 'report-poison',
        CONSUME_FUNCTION_RESPONSE_TYPES: 'ReportBatchItemFailures',
        CONSUME_MAXIMUM_RETRY_ATTEMPTS: '2',
        CONSUME_ON_FAILURE_DESTINATION: `kafka://${destination}`,
      });
      const sent = await readRecords(destination, 2, 60_000);
      await waitForLagZero(member, groupId, topic);
      await member.process.stop('SIGINT', 20_000);

      // Assess: each poison record (offset 2) was in 3 invocations; the records before it were handled once.
      const calls = invocations(member);
      for (const partition of [0, 1]) {
        expect(
          calls.filter((offsets) => offsets.includes(`${partition}@2`)),
          `partition ${partition}`,
        ).toHaveLength(3);
        expect(handled(member).filter((offset) => offset === `${partition}@0`)).toHaveLength(1);
        expect(handled(member)).toContain(`${partition}@3`);
      }
      const messages = sent.map(({ key, value }) => ({ key, body: JSON.parse(value ?? '{}') as DestinationMessage }));
      expect(messages.map(({ key }) => key).sort()).toEqual(['k-poison-0', 'k-poison-1']);
      for (const { body } of messages) {
        expect(body.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
        expect(body.KafkaBatchInfo).toMatchObject({ batchSize: 1, recordInfo: { offset: '2' } });
        const [record] = eventRecords(body.payload);
        expect(Buffer.from(record?.value ?? '', 'base64').toString()).toBe(`poison-${record?.partition}`);
        expect(record?.offset).toBe(2);
      }
      expect(summaryOf(member)).toMatchObject({ sentToDestination: 2, stoppedBecause: 'stopped' });
    },
  );

  it('bisecting isolates the one throwing record of 100: the handler sees halves down to that record alone', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-bisect'), 1);
    const destination = await createTopic(uniqueName('consume-bisect-failed'), 1);
    const groupId = uniqueName('group-bisect');
    await sendRecords(
      topic,
      Array.from({ length: 100 }, (_, index) => ({ value: index === 37 ? 'poison-37' : `ok-${index}` })),
    );

    // Act
    const member = consume(topic, groupId, ['--duration', '60'], {
      TEST_HANDLER_MODE: 'throw-poison',
      CONSUME_BATCH_SIZE: '100',
      CONSUME_BATCH_WINDOW_MS: '2000',
      CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR: 'true',
      CONSUME_MAXIMUM_RETRY_ATTEMPTS: '1',
      CONSUME_ON_FAILURE_DESTINATION: `kafka://${destination}`,
    });
    const [sent] = await readRecords(destination, 1, 60_000);
    await waitForLagZero(member, groupId, topic);
    await member.process.stop('SIGINT', 20_000);

    // Assess
    const withPoison = invocations(member)
      .filter((offsets) => offsets.includes('0@37'))
      .map((offsets) => offsets.length);
    expect(withPoison[0]).toBe(100);
    expect(withPoison.slice(-2)).toEqual([1, 1]);
    for (let index = 1; index < withPoison.length - 1; index += 1) {
      const previous = withPoison[index - 1] ?? 0;
      expect([Math.ceil(previous / 2), Math.floor(previous / 2)]).toContain(withPoison[index]);
    }
    expect(new Set(handled(member)).size).toBe(99);
    const body = JSON.parse(sent?.value ?? '{}') as DestinationMessage;
    expect(body.KafkaBatchInfo.recordInfo.offset).toBe('37');
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(100);
  });

  it('records older than maximumRecordAgeInSeconds never reach the handler and are in the destination', async () => {
    // Prepare: two records stamped two minutes ago, two fresh ones.
    const topic = await createTopic(uniqueName('consume-age'), 1);
    const destination = await createTopic(uniqueName('consume-age-failed'), 1);
    const groupId = uniqueName('group-age');
    const old = String(Date.now() - 120_000);
    await sendRecords(topic, [
      { value: 'old-0', timestamp: old },
      { value: 'old-1', timestamp: old },
      { value: 'fresh-2' },
      { value: 'fresh-3' },
    ]);

    // Act
    const member = consume(topic, groupId, ['--duration', '60'], {
      TEST_HANDLER_MODE: 'throw-poison',
      CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS: '60',
      CONSUME_ON_FAILURE_DESTINATION: `kafka://${destination}`,
    });
    const sent = await readRecords(destination, 2, 60_000);
    await waitForLagZero(member, groupId, topic);
    await member.process.stop('SIGINT', 20_000);

    // Assess
    expect(invocations(member).flat()).toEqual(['0@2', '0@3']);
    const bodies = sent.map(({ value }) => JSON.parse(value ?? '{}') as DestinationMessage);
    expect(bodies.map((body) => body.requestContext.condition)).toEqual(['RecordAgeExceeded', 'RecordAgeExceeded']);
    expect(bodies.map((body) => body.KafkaBatchInfo.recordInfo.offset)).toEqual(['0', '1']);
    expect(bodies.map((body) => body.requestContext.approximateInvokeCount)).toEqual([0, 0]);
  });

  it('with infinite retries (the default) a failing partition stays blocked, past the session timeout, while the others flow', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-blocked'), 3);
    const groupId = uniqueName('group-blocked');
    await sendRecords(
      topic,
      [0, 1, 2].flatMap((partition) => [0, 1, 2].map((index) => ({ value: `v-${partition}-${index}`, partition }))),
    );

    // Act
    const member = consume(topic, groupId, ['--duration', '60'], {
      TEST_HANDLER_MODE: 'fail-partition',
      TEST_HANDLER_FAIL_PARTITION: '1',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    });
    await waitForLagZero(member, groupId, topic, [0, 2]);
    // Retries 1..8 wait 50 ms doubling: about 12.7 s in all, past the 6 s session timeout.
    await waitFor(
      () => `eight retries of partition 1; the member printed: ${member.process.output().slice(-3_000)}`,
      () => logLines(member).filter((line) => line.message === 'batch failed' && line.partition === `${topic}-1`).length >= 8,
      60_000,
    );
    await sendRecords(topic, [{ value: 'later-0', partition: 0 }]);
    await waitForLagZero(member, groupId, topic, [0]);
    await member.process.stop('SIGINT', 20_000);

    // Assess
    const failures = logLines(member).filter((line) => line.message === 'batch failed' && line.partition === `${topic}-1`);
    expect(failures.every((line) => line.of === 'infinite')).toBe(true);
    // One count from 1: the member kept its partitions all along (a rebalance would start it again).
    expect(failures.map((line) => line.attempt).slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(logLines(member).filter((line) => line.message === 'group rebalancing')).toEqual([]);
    expect(handled(member).filter((offset) => offset.startsWith('1@'))).toEqual([]);
    expect(handled(member)).toContain('0@3');
    expect((await committedOffsets(groupId, topic)).get(1)).toBe(-1);
    expect(summaryOf(member)).toMatchObject({ stoppedBecause: 'stopped', sentToDestination: 0, discarded: 0 });
  });

  it('an SQS destination gets, in its local file, the invocation record AWS would send: the batch offsets, not the records', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-sqs'), 1);
    const groupId = uniqueName('group-sqs');
    const queue = uniqueName('failed-batches');
    const directory = mkdtempSync(join(tmpdir(), 'consume-sqs-'));
    await sendRecords(topic, [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);

    try {
      // Act
      const member = consume(topic, groupId, ['--max-records', '3'], {
        TEST_HANDLER_MODE: 'fail-always',
        CONSUME_MAXIMUM_RETRY_ATTEMPTS: '1',
        CONSUME_ON_FAILURE_DESTINATION: `arn:aws:sqs:us-east-1:123456789012:${queue}`,
        CONSUME_DESTINATIONS_DIR: directory,
      });
      expect(await member.process.exited, member.process.output()).toBe(0);

      // Assess
      const file = join(directory, 'sqs', `${queue}.jsonl`);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      const record = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      expect(record).toMatchObject({
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        KafkaBatchInfo: { batchSize: 3, recordsInfo: { [`${topic}-0`]: { firstRecordOffset: '0', lastRecordOffset: '2' } } },
      });
      expect(record).not.toHaveProperty('payload');
      expect(
        logLines(member).find((line) => line.message === 'records sent to the on-failure destination (written locally)'),
      ).toMatchObject({
        file,
        records: 3,
      });
      expect((await committedOffsets(groupId, topic)).get(0)).toBe(3);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
