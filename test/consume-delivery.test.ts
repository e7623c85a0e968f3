/**
 * Lambda's delivery contract through `npm run consume` against the real broker: a failing batch is
 * retried from the first uncommitted offset, MaximumRetryAttempts applies as AWS counts it, and the
 * batch the handler gets has the fields of a real Lambda MSK event. (AWS's other error-handling
 * controls: consume-error-handling.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { committedOffsets, createTopic, endOffsets, sendRecords, testBrokers, uniqueName } from './support/kafka';
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
    // AWS's default: infinite retries.
    expect(failures[0]).toMatchObject({ attempt: 1, of: 'infinite', error: 'injected failure (fail-once)', partition: `${topic}-0` });
    expect(processed(member).map(({ offset }) => offset)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(summaryOf(member)).toMatchObject({ recordsProcessed: 20, retries: 1, stoppedBecause: 'maxRecords' });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(20);
  });

  it(
    'a handler that always throws gets the batch 1 + CONSUME_MAXIMUM_RETRY_ATTEMPTS times; ' +
      'without a destination the records are then discarded and committed, as AWS does',
    async () => {
      // Prepare
      const topic = await createTopic(uniqueName('consume-discard'), 1);
      const groupId = uniqueName('group-discard');
      await produceKeyed(topic, 5, 5);

      // Act
      const member = consume(topic, groupId, ['--max-records', '5'], {
        TEST_HANDLER_MODE: 'fail-always',
        CONSUME_MAXIMUM_RETRY_ATTEMPTS: '2',
        CONSUME_RETRY_BACKOFF_MS: '100',
      });
      const exit = await member.process.exited;

      // Assess
      expect(exit, member.process.output()).toBe(0);
      expect(attempts(member)).toEqual([
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
        ['0@0', '0@1', '0@2', '0@3', '0@4'],
      ]);
      const failures = logLines(member).filter((line) => line.message === 'batch failed');
      expect(failures.map((line) => [line.attempt, line.of, line.offsets, line.retryInMs])).toEqual([
        [1, 3, '0..4', 100],
        [2, 3, '0..4', 200],
      ]);
      expect(logLines(member).find((line) => line.message === 'records discarded')).toMatchObject({
        condition: 'RetriesExhausted',
        records: 5,
        attempts: 3,
      });
      expect(summaryOf(member)).toMatchObject({ recordsProcessed: 0, retries: 2, discarded: 5, stoppedBecause: 'maxRecords' });
      expect(processed(member)).toHaveLength(0);
      expect((await committedOffsets(groupId, topic)).get(0)).toBe(5);
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

  it('refuses the variables AWS-named settings replaced, naming the new one, before it joins anything', async () => {
    const topic = await createTopic(uniqueName('consume-old-env'), 1);
    const member = consume(topic, uniqueName('group-old-env'), ['--duration', '5'], { CONSUME_ON_FAILURE: 'dead-letter' });
    expect(await member.process.exited).toBe(2);
    expect(member.process.output()).toContain('CONSUME_ON_FAILURE: no longer read: use CONSUME_ON_FAILURE_DESTINATION');
  });

  it('the batch handed to the handler has every field of a real Lambda MSK event, with the same values for the same record', async () => {
    // Prepare: the fixture's record, produced for real (the sample's key is not canonical base64: compare its bytes).
    const [fixtureRecord] = Object.values(fixture.records).flat();
    if (fixtureRecord === undefined) throw new Error('fixture has no record');
    const topic = await createTopic(uniqueName('consume-shape'), 1);
    const groupId = uniqueName('group-shape');
    const producedAt = Date.now();
    await sendRecords(topic, [
      {
        key: Buffer.from(fixtureRecord.key, 'base64'),
        value: Buffer.from(fixtureRecord.value, 'base64'),
        headers: Object.fromEntries(
          fixtureRecord.headers.flatMap((header) => Object.entries(header).map(([name, bytes]) => [name, Buffer.from(bytes)])),
        ),
      },
    ]);
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
