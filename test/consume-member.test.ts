import { describe, expect, it } from 'vitest';
import type { MSKRecord } from 'aws-lambda';
import { decodeBase64, eventRecords, type KafkaEvent } from '../lib/consumer/lambda-event';
import { startGroupMember } from '../lib/consumer/group-member';
import { setTimeout as sleep } from 'node:timers/promises';
import { committedOffsets, createTopic, endOffsets, readRecords, sendRecords, testBrokers, testKafka, uniqueName } from './support/kafka';
import { runKafkaTool } from './support/processes';
import { memberConfig, memberOptions } from './support/consume';

describe('consume: the group member library', () => {
  it('AT_TIMESTAMP starts a new group at the first record written at or after the timestamp', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-timestamp'), 1);
    await sendRecords(
      topic,
      ['old-1', 'old-2'].map((value) => ({ value })),
    );
    // Record timestamps are milliseconds: the new records must be stamped later than the old ones.
    await sleep(20);
    const timestamp = Date.now();
    await sendRecords(
      topic,
      ['new-1', 'new-2'].map((value) => ({ value })),
    );
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(
      memberOptions(topic, uniqueName('group-timestamp'), seen, { startingPosition: { timestamp }, maxRecords: 2 }),
    );
    const summary = await member.done;

    // Assess
    expect(summary.stoppedBecause).toBe('maxRecords');
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['new-1', 'new-2']);
  });

  it('LATEST starts a new group after the records already there, and a record produced once joined is delivered', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-latest'), 3);
    await sendRecords(
      topic,
      ['old-1', 'old-2', 'old-3'].map((value) => ({ value })),
    );
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(memberOptions(topic, uniqueName('group-latest'), seen, { startingPosition: 'LATEST', maxRecords: 1 }));
    await member.joined;
    await sendRecords(
      topic,
      ['new-1'].map((value) => ({ value })),
    );
    const summary = await member.done;

    // Assess
    expect(summary.recordsProcessed).toBe(1);
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['new-1']);
  });

  it('records the filter leaves out never reach the handler but are committed with the batch', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('member-filter'), 1);
    const groupId = uniqueName('group-filter');
    await sendRecords(
      topic,
      ['keep-1', 'drop-1', 'keep-2', 'drop-2'].map((value) => ({ value })),
    );
    const seen: MSKRecord[] = [];

    // Act
    const member = startGroupMember(
      memberOptions(topic, groupId, seen, {
        maxRecords: 4,
        filter: (record) => decodeBase64(record.value)?.startsWith('keep') === true,
      }),
    );
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
    const member = startGroupMember(memberOptions(topic, groupId, [], {}));
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

  it('a record with a header that has no value reaches the handler with that header as no bytes, and is committed', async () => {
    // Prepare: Kafka's console producer writes a header without a value (null.marker), which kafkajs decodes as null.
    const topic = await createTopic(uniqueName('member-null-header'), 1);
    const groupId = uniqueName('group-null-header');
    const produced = await runKafkaTool(
      'kafka-console-producer',
      [
        '--bootstrap-server',
        testBrokers().join(','),
        '--topic',
        topic,
        '--property',
        'parse.headers=true',
        '--property',
        'parse.key=true',
        '--property',
        'null.marker=NULL',
      ],
      { input: 'empty:NULL,source:checkout\tuser1\thi there\n', timeoutMs: 60_000 },
    );
    expect(produced.code, produced.stderr).toBe(0);
    const seen: MSKRecord[] = [];

    // Act
    const summary = await startGroupMember(memberOptions(topic, groupId, seen, { maxRecords: 1 })).done;

    // Assess
    expect(summary).toMatchObject({ recordsProcessed: 1, stoppedBecause: 'maxRecords' });
    expect(seen.map((record) => decodeBase64(record.value))).toEqual(['hi there']);
    expect(seen[0]?.headers).toEqual([{ empty: [] }, { source: [...Buffer.from('checkout')] }]);
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(1);
  });

  it('stop() during an invocation hands over no batch queued behind it: only the batch in hand is committed', async () => {
    // Prepare: one fetch brings 5 records on each of 3 partitions; with batch size 5 that is 3 batches.
    const topic = await createTopic(uniqueName('member-stop-queued'), 3);
    const groupId = uniqueName('group-stop-queued');
    await sendRecords(
      topic,
      [0, 1, 2].flatMap((partition) => [1, 2, 3, 4, 5].map((n) => ({ partition, value: `p${partition}-${n}` }))),
    );
    const invocations: number[] = [];
    let firstInvocation: () => void = () => undefined;
    const invoked = new Promise<void>((resolveInvoked) => {
      firstInvocation = resolveInvoked;
    });

    // Act: stop while the first batch is in the handler (which takes 1 s).
    const member = startGroupMember(
      memberOptions(topic, groupId, [], {
        batchSize: 5,
        invoke: async (event: KafkaEvent) => {
          invocations.push(eventRecords(event).length);
          firstInvocation();
          await sleep(1_000);
        },
      }),
    );
    await invoked;
    const summary = await member.stop();

    // Assess
    expect(invocations).toEqual([5]);
    expect(summary).toMatchObject({ recordsProcessed: 5, batches: 1, stoppedBecause: 'stopped' });
    const committed = await committedOffsets(groupId, topic);
    expect([...committed.values()].filter((offset) => offset > 0)).toEqual([5]);
  });

  it('sends the on-failure destination only the records the handler was given, not those the filter left out', async () => {
    // Prepare: AWS writes only to a destination topic that exists.
    const topic = await createTopic(uniqueName('member-dest-filter'), 1);
    const groupId = uniqueName('group-dest-filter');
    const destinationTopic = await createTopic(uniqueName('member-dest-filter-failed'), 1);
    await sendRecords(
      topic,
      ['keep-1', 'skip-2', 'keep-3'].map((value) => ({ value })),
    );

    // Act
    const summary = await startGroupMember(
      memberOptions(topic, groupId, [], {
        maxRecords: 3,
        errorHandling: {
          ...memberConfig().consume.errorHandling,
          maximumRetryAttempts: 0,
          onFailure: { kind: 'kafka', topic: destinationTopic },
        },
        filter: (record) => decodeBase64(record.value)?.startsWith('keep') === true,
        invoke: async () => {
          throw new Error('always fails');
        },
      }),
    ).done;

    // Assess: one message per failed record, its value the invocation record with the record's own event.
    const sent = await readRecords(destinationTopic, 2);
    const payloads = sent.map(({ value }) => JSON.parse(value ?? '{}') as { payload: KafkaEvent });
    expect(payloads.map(({ payload }) => eventRecords(payload).map((record) => decodeBase64(record.value)))).toEqual([
      ['keep-1'],
      ['keep-3'],
    ]);
    expect(summary).toMatchObject({ sentToDestination: 2, filtered: 1, recordsProcessed: 1 });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(3);
    expect(await endOffsets(destinationTopic)).toEqual(new Map([[0, '2']]));
  });
});
