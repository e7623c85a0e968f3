/**
 * lib/consumer/group-member called directly against the real broker: where a new group starts, and
 * records a filter leaves out.
 */
import { createKafka } from '../lib/kafka-client';
import { describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import type { MSKRecord } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { logger } from '../lib/logger';
import { decodeBase64, eventRecords, type KafkaEvent } from '../lib/consumer/lambda-event';
import { startGroupMember, type GroupMemberOptions } from '../lib/consumer/group-member';
import { createTopic, testBrokers, testKafka, uniqueName } from './support/kafka';
import { committedOffsets } from './support/consume';

const config = loadConfig({ KAFKA_BROKERS: testBrokers().join(','), KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '500' });

function options(topic: string, groupId: string, seen: MSKRecord[], extra: Partial<GroupMemberOptions>): GroupMemberOptions {
  return {
    kafka: createKafka(config.kafka, logger),
    logger,
    groupId,
    topic,
    startingPosition: 'TRIM_HORIZON',
    ...config.consume,
    batchWindowMs: 0,
    eventSource: { kind: 'SelfManagedKafka', bootstrapServers: config.kafka.brokers },
    invoke: async (event: KafkaEvent) => { seen.push(...eventRecords(event)); },
    ...extra,
  };
}

async function produce(topic: string, values: string[]): Promise<void> {
  const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

describe('consume: the group member library', () => {
  it('AT_TIMESTAMP starts a new group at the first record written at or after the timestamp', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-timestamp'), 1);
    await produce(topic, ['old-1', 'old-2']);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
    const timestamp = Date.now();
    await produce(topic, ['new-1', 'new-2']);
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(options(topic, uniqueName('group-timestamp'), seen, { startingPosition: { timestamp }, maxRecords: 2 }));
    const summary = await member.done;

    // Assess
    expect(summary.stoppedBecause).toBe('maxRecords');
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['new-1', 'new-2']);
  });

  it('LATEST starts a new group after the records already there, and a record produced once joined is delivered', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-latest'), 3);
    await produce(topic, ['old-1', 'old-2', 'old-3']);
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(options(topic, uniqueName('group-latest'), seen, { startingPosition: 'LATEST', maxRecords: 1 }));
    await member.joined;
    await produce(topic, ['new-1']);
    const summary = await member.done;

    // Assess
    expect(summary.recordsProcessed).toBe(1);
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['new-1']);
  });

  it('records the filter leaves out never reach the handler but are committed with the batch', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-filter'), 1);
    const groupId = uniqueName('group-filter');
    await produce(topic, ['keep-1', 'drop-1', 'keep-2', 'drop-2']);
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(options(topic, groupId, seen, {
      maxRecords: 4,
      filter: (record) => decodeBase64(record.value)?.startsWith('keep') === true,
    }));
    const summary = await member.done;

    // Assess
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['keep-1', 'keep-2']);
    expect(summary).toMatchObject({ recordsProcessed: 4, filtered: 2, stoppedBecause: 'maxRecords' });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(4);
  });

  it('stop() leaves the group at once: the group has no members right after it resolves', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-stop'), 1);
    const groupId = uniqueName('group-stop');
    const member = startGroupMember(options(topic, groupId, [], {}));
    await member.joined;

    // Act
    const summary = await member.stop();
    const described = await testKafka().admin();
    await described.connect();
    const { groups } = await described.describeGroups([groupId]);
    await described.disconnect();

    // Assess
    expect(summary.stoppedBecause).toBe('stopped');
    expect(summary.partitions).toEqual([0]);
    expect(groups[0]?.state).toBe('Empty');
    expect(groups[0]?.members).toEqual([]);
    expect(await member.stop()).toEqual(summary);
  });
});
