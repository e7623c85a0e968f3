/**
 * Lambda's delivery contract through `npm run consume` against the real broker: a failing batch is
 * retried from the first uncommitted offset, the attempt limit applies (stop or dead-letter), and the
 * batch the handler gets has the fields of a real Lambda MSK event.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { committedOffsets, createTopic, endOffsets, readRecords, testBrokers, testKafka, uniqueName } from './support/kafka';
import { logLines, processed, produceKeyed, startConsumeCli, summaryOf, type Member } from './support/consume';
import fixture from './fixtures/msk-event.json';

const TEST_HANDLER = 'test/fixtures/test-record-handler.ts';

function consume(topic: string, groupId: string, args: string[], env: NodeJS.ProcessEnv): Member {
  return startConsumeCli('cli', topic, groupId, args, { CONSUME_HANDLER: TEST_HANDLER, CONSUME_BATCH_WINDOW_MS: '100', ...env });
}

function attempts(member: Member): string[][] {
  return logLines(member)
    .filter((line) => line.message === 'handler attempt')
    .map((line) => line.offsets as string[]);
}

describe('consume: delivery as Lambda', () => {
  it('a handler that throws once gets the same batch again after a backoff, and the batch is then committed', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-retry'), 1);
    const groupId = uniqueName('group-retry');
    await produceKeyed(topic, 20, 5);

    // Act
    const member = consume(topic, groupId, ['--max-records', '20'], { TEST_HANDLER_MODE: 'fail-once', CONSUME_RETRY_BACKOFF_MS: '300' });
    const exit = await member.process.exited;

    // Assess
    expect(exit, member.process.output()).toBe(0);
    const [first, second] = attempts(member);
    expect(first?.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
    expect(first?.[0]).toBe('0@0');
    const failures = logLines(member).filter((line) => line.message === 'batch failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ attempt: 1, maxAttempts: 3, error: 'injected failure (fail-once)' });
    expect(processed(member).map(({ offset }) => offset)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(summaryOf(member)).toMatchObject({ recordsProcessed: 20, retries: 1, stoppedBecause: 'maxRecords' });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(20);
  });

  it(
    'a handler that always throws stops the member with a clear error after the ' +
      'configured attempts and commits nothing (the default policy)',
    async () => {
      // Prepare
      const topic = await createTopic(uniqueName('consume-stop'), 1);
      const groupId = uniqueName('group-stop');
      await produceKeyed(topic, 5, 5);

      // Act
      const member = consume(topic, groupId, ['--duration', '60'], {
        TEST_HANDLER_MODE: 'fail-always',
        CONSUME_MAX_ATTEMPTS: '3',
        CONSUME_RETRY_BACKOFF_MS: '100',
      });
      const exit = await member.process.exited;

      // Assess
      expect(exit).toBe(1);
      expect(attempts(member)).toEqual([
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
      ]);
      expect(member.process.stdout()).toContain(`summary: member`);
      expect(summaryOf(member)).toMatchObject({
        recordsProcessed: 0,
        retries: 2,
        stoppedBecause: 'failed',
        error:
          `the handler failed 3 times for ${topic}-0 offsets 0..4 (CONSUME_ON_FAILURE=stop); ` +
          'last error: injected failure (fail-always)',
      });
      expect(processed(member)).toHaveLength(0);
      expect((await committedOffsets(groupId, topic)).get(0)).toBe(-1);
    },
  );

  it('Ctrl-C during a retry backoff stops the member at once, leaving the failing batch uncommitted for the next owner', async () => {
    // Prepare: the handler always fails and the next attempt would come only after 60 s.
    const topic = await createTopic(uniqueName('consume-backoff'), 1);
    const groupId = uniqueName('group-backoff');
    await produceKeyed(topic, 3, 3);
    const member = consume(topic, groupId, [], { TEST_HANDLER_MODE: 'fail-always', CONSUME_RETRY_BACKOFF_MS: '60000' });
    await member.process.waitForOutput(/"message":"batch failed"/, 60_000);

    // Act
    const exit = await member.process.stop('SIGINT', 20_000);

    // Assess: it left by itself (stop() sends SIGKILL only after 20 s, long before the 60 s backoff ends).
    expect(exit).not.toBe('SIGKILL');
    expect(attempts(member)).toHaveLength(1);
    expect(summaryOf(member)).toMatchObject({ recordsProcessed: 0, stoppedBecause: 'stopped' });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(-1);
  });

  it(
    'with the dead-letter policy, records whose batch failed every attempt go to the ' +
      'dead-letter topic with their key, value and headers, and are committed',
    async () => {
      // Prepare
      const topic = await createTopic(uniqueName('consume-dlq'), 1);
      const groupId = uniqueName('group-dlq');
      const deadLetterTopic = `${topic}.dlq`;
      const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({
        topic,
        messages: [1, 2, 3].map((n) => ({ key: `key-${n}`, value: `value-${n}`, headers: { origin: 'test' } })),
      });
      await producer.disconnect();

      // Act
      const member = consume(topic, groupId, ['--max-records', '3'], {
        TEST_HANDLER_MODE: 'fail-always',
        CONSUME_MAX_ATTEMPTS: '2',
        CONSUME_RETRY_BACKOFF_MS: '100',
        CONSUME_ON_FAILURE: 'dead-letter',
      });
      const exit = await member.process.exited;

      // Assess
      expect(exit, member.process.output()).toBe(0);
      expect(attempts(member)).toHaveLength(2);
      expect(summaryOf(member)).toMatchObject({ recordsProcessed: 0, deadLettered: 3, stoppedBecause: 'maxRecords' });
      const dead = await readRecords(deadLetterTopic, 3);
      expect(dead.map(({ key, value }) => [key, value])).toEqual([
        ['key-1', 'value-1'],
        ['key-2', 'value-2'],
        ['key-3', 'value-3'],
      ]);
      expect(dead[0]?.headers).toMatchObject({
        origin: 'test',
        'x-dead-letter-source': `${topic}-0@0`,
        'x-dead-letter-error': 'injected failure (fail-always)',
        'x-dead-letter-attempts': '2',
        'x-dead-letter-group': groupId,
      });
      expect((await committedOffsets(groupId, topic)).get(0)).toBe(3);
    },
  );

  it('the batch handed to the handler has every field of a real Lambda MSK event, with the same values for the same record', async () => {
    // Prepare: the fixture's record, produced for real (the sample's key is not canonical base64: compare its bytes).
    const [fixtureRecord] = Object.values(fixture.records).flat();
    if (fixtureRecord === undefined) throw new Error('fixture has no record');
    const topic = await createTopic(uniqueName('consume-shape'), 1);
    const groupId = uniqueName('group-shape');
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const producedAt = Date.now();
    await producer.send({
      topic,
      messages: [
        {
          key: Buffer.from(fixtureRecord.key, 'base64'),
          value: Buffer.from(fixtureRecord.value, 'base64'),
          headers: Object.fromEntries(
            fixtureRecord.headers.flatMap((header) => Object.entries(header).map(([name, bytes]) => [name, Buffer.from(bytes)])),
          ),
        },
      ],
    });
    await producer.disconnect();
    const dir = mkdtempSync(join(tmpdir(), 'consume-shape-'));
    const captureFile = join(dir, 'events.jsonl');

    try {
      // Act
      const member = consume(topic, groupId, ['--max-records', '1'], {
        TEST_HANDLER_MODE: 'capture',
        TEST_HANDLER_CAPTURE_FILE: captureFile,
        CONSUME_EVENT_SOURCE_ARN: fixture.eventSourceArn,
      });
      expect(await member.process.exited, member.process.output()).toBe(0);
      const [line] = readFileSync(captureFile, 'utf8').trim().split('\n');
      const event = JSON.parse(line ?? '{}') as MSKEvent;

      // Assess
      expect(Object.keys(event).sort()).toEqual(Object.keys(fixture).sort());
      expect(event.eventSource).toBe(fixture.eventSource);
      expect(event.eventSourceArn).toBe(fixture.eventSourceArn);
      expect(event.bootstrapServers).toBe(testBrokers().join(','));
      expect(Object.keys(event.records)).toEqual([`${topic}-0`]);
      const [record] = event.records[`${topic}-0`] ?? [];
      if (record === undefined) throw new Error('no record in the captured event');
      expect(Object.keys(record).sort()).toEqual(Object.keys(fixtureRecord).sort());
      for (const field of Object.keys(fixtureRecord) as (keyof typeof fixtureRecord)[]) {
        expect(typeof record[field], field).toBe(typeof fixtureRecord[field]);
      }
      expect(record.topic).toBe(topic);
      expect(record.partition).toBe(0);
      expect(record.offset).toBe(0);
      expect(record.timestamp).toBeGreaterThanOrEqual(producedAt - 1_000);
      expect(record.timestamp).toBeLessThanOrEqual(Date.now());
      expect(record.timestampType).toBe(fixtureRecord.timestampType);
      expect(Buffer.from(record.key, 'base64')).toEqual(Buffer.from(fixtureRecord.key, 'base64'));
      expect(record.value).toBe(fixtureRecord.value);
      expect(record.headers).toEqual(fixtureRecord.headers);
      expect(JSON.parse(JSON.stringify(event))).toEqual(event);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--from-latest skips the records already in the topic and --max-records ends the member after that many new ones', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-latest'), 3);
    const groupId = uniqueName('group-latest');
    await produceKeyed(topic, 9, 9);
    const ends = await endOffsets(topic);

    // Act
    const member = consume(topic, groupId, ['--from-latest', '--max-records', '6'], {});
    await member.process.waitForOutput(/"message":"group joined"/, 60_000);
    await produceKeyed(topic, 6, 6, 100);
    const exit = await member.process.exited;

    // Assess
    expect(exit, member.process.output()).toBe(0);
    expect(
      processed(member)
        .map(({ value }) => value)
        .sort(),
    ).toEqual(['value-100', 'value-101', 'value-102', 'value-103', 'value-104', 'value-105']);
    const committed = await committedOffsets(groupId, topic);
    const after = await endOffsets(topic);
    for (const [partition, end] of after) expect(committed.get(partition), `partition ${partition}`).toBe(Number(end));
    expect([...ends.values()].reduce((sum, end) => sum + Number(end), 0)).toBe(9);
  });
});
