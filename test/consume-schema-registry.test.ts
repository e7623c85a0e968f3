/**
 * The schema registry step of the group member (lib/consumer/group-member with record-transform's
 * schemaRegistryValidation), against the real broker and the real registry: records that fail validation go
 * to the kafka:// on-failure destination with AWS's reason code and never reach the function, or are dropped
 * without a destination (an SQS destination gets its invocation record in the local file); filterPatterns are
 * matched against the deserialized value; a registry that does not answer holds the records.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { PAYMENT_AVRO_SCHEMA } from '../functions/schema-registry/payment-schema';
import { startGroupMember } from '../lib/consumer/group-member';
import { logger } from '../lib/logger';
import { type SchemaRegistrySettings, schemaRegistryValidation } from '../lib/schema-registry/record-transform';
import { frame } from '../lib/schema-registry/wire-format';
import { compileFilterPatterns } from '../plugins/offline-kafka/src/filter-patterns';
import { committedOffsets, createTopic, readRecords, sendRecords, uniqueName } from './support/kafka';
import { createSchemaRegistryClient } from '../lib/schema-registry/registry-client';
import { createSchemaSerde } from '../lib/schema-registry/schema-serde';
import { freePort } from './support/free-port';
import { registerSchema, testSerde, uniqueSubject } from './support/schema-registry';
import { memberConfig, memberOptions } from './support/consume';

/** A payment in the wire format of a fresh Avro subject, and three records AWS's validation refuses. */
async function paymentsAndPoison() {
  const subject = uniqueSubject('member-payment');
  const schemaId = await registerSchema(subject, 'AVRO', PAYMENT_AVRO_SCHEMA);
  const encoder = await testSerde().encoderFor(subject);
  const payment = (user: string, amount: number) => ({ key: user, value: encoder.encode({ user, amount }, 'value') });
  const poison = [
    { key: 'plain', value: Buffer.from('{"user":"plain","amount":1}') },
    { key: 'unknown-id', value: frame(2_000_000_000, Buffer.from([2, 0x61, 2])) },
    { key: 'not-avro', value: frame(schemaId, Buffer.from([0x0a])) },
  ];
  return { schemaId, payment, poison };
}

const decoded = (record: MSKRecord) => JSON.parse(Buffer.from(record.value, 'base64').toString('utf8'));

describe('consume: a schema registry before the function', () => {
  it('sends records without wire format, of unknown schema id, not of its Avro to kafka:// with the reason, not the handler', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('schema-member'), 1);
    const dlq = await createTopic(uniqueName('schema-member-dlq'), 1);
    const { schemaId, payment, poison } = await paymentsAndPoison();
    await sendRecords(topic, [payment('user1', 42), ...poison, payment('user2', 7)]);
    const settings: SchemaRegistrySettings = { eventRecordFormat: 'JSON', attributes: ['VALUE'] };
    const seen: MSKRecord[] = [];
    const groupId = uniqueName('schema-member-group');

    // Act
    const summary = await startGroupMember(
      memberOptions(topic, groupId, seen, {
        maxRecords: 5,
        errorHandling: { ...memberConfig().consume.errorHandling, onFailure: { kind: 'kafka', topic: dlq } },
        validate: schemaRegistryValidation(settings, testSerde(), logger),
      }),
    ).done;

    // Assess: the function saw the two payments, decoded, and nothing else.
    expect(summary.stoppedBecause).toBe('maxRecords');
    expect(seen.map((record) => ({ offset: record.offset, value: decoded(record) }))).toEqual([
      { offset: 0, value: { user: 'user1', amount: 42 } },
      { offset: 4, value: { user: 'user2', amount: 7 } },
    ]);
    expect(seen.map((record) => (record as MSKRecord & { valueSchemaMetadata?: unknown }).valueSchemaMetadata)).toEqual([
      { dataFormat: 'AVRO', schemaId: String(schemaId) },
      { dataFormat: 'AVRO', schemaId: String(schemaId) },
    ]);
    expect(summary.sentToDestination).toBe(3);
    // A real consumer reads the destination: one message per refused record, keyed as it was, with AWS's reason code.
    const failed = (await readRecords(dlq, 3)).map((message) => ({ key: message.key, record: JSON.parse(message.value ?? 'null') }));
    expect(
      failed.map(({ key, record }) => ({
        key,
        condition: record.requestContext.condition,
        approximateInvokeCount: record.requestContext.approximateInvokeCount,
        responseContext: record.responseContext,
        offset: record.KafkaBatchInfo.recordInfo.offset,
      })),
    ).toEqual([
      { key: 'plain', condition: 'DESERIALIZATION_ERROR', approximateInvokeCount: 0, responseContext: null, offset: '1' },
      { key: 'unknown-id', condition: 'SCHEMA_NOT_FOUND', approximateInvokeCount: 0, responseContext: null, offset: '2' },
      { key: 'not-avro', condition: 'DESERIALIZATION_ERROR', approximateInvokeCount: 0, responseContext: null, offset: '3' },
    ]);
    // The payload is the record as it was on the topic (the bytes that could not be read), not a decoded one.
    const payloadValues = failed.map(({ record }) => Object.values(record.payload.records).flat()[0]);
    expect(payloadValues.map((record) => Buffer.from((record as MSKRecord).value, 'base64'))).toEqual(poison.map(({ value }) => value));
    // Everything is done with: the group's committed offset is past the last record.
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(5);
  });

  it('matches filterPatterns against the deserialized Avro value (SOURCE) and drops refused records without a destination', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('schema-filter'), 1);
    const { payment, poison } = await paymentsAndPoison();
    await sendRecords(topic, [payment('user1', 42), ...poison, payment('user2', 7), payment('user3', 99)]);
    const settings: SchemaRegistrySettings = { eventRecordFormat: 'SOURCE', attributes: ['VALUE'] };
    const filter = compileFilterPatterns([{ value: { amount: [{ numeric: ['>', 10] }] } }]);
    const seen: MSKRecord[] = [];
    const groupId = uniqueName('schema-filter-group');

    // Act
    const summary = await startGroupMember(
      memberOptions(topic, groupId, seen, {
        maxRecords: 6,
        filter: (record) => filter.matches(record),
        validate: schemaRegistryValidation(settings, testSerde(), logger),
      }),
    ).done;

    // Assess: the Avro binary reached the function (SOURCE) for the payments over 10 only.
    expect(seen.map((record) => record.offset)).toEqual([0, 5]);
    expect(seen.map((record) => Buffer.from(record.value, 'base64'))).toEqual([
      payment('user1', 42).value.subarray(5),
      payment('user3', 99).value.subarray(5),
    ]);
    expect(summary).toMatchObject({ discarded: 3, sentToDestination: 0, filtered: 1, recordsProcessed: 3 });
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(6);
  });

  it('holds records while the registry does not answer (nothing delivered, dropped or committed), delivers them once it does', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('schema-down'), 1);
    const { payment } = await paymentsAndPoison();
    await sendRecords(topic, [payment('user1', 42), payment('user2', 7)]);
    const settings: SchemaRegistrySettings = { eventRecordFormat: 'JSON', attributes: ['VALUE'] };
    const nobody = createSchemaSerde(
      createSchemaRegistryClient({ url: `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`, timeoutMs: 500 }),
    );
    const seen: MSKRecord[] = [];
    const groupId = uniqueName('schema-down-group');

    // Act: a member whose registry is down, for 3 s; then one with the registry.
    const held = await startGroupMember(
      memberOptions(topic, groupId, seen, { durationMs: 3_000, validate: schemaRegistryValidation(settings, nobody, logger) }),
    ).done;
    const committedWhileDown = (await committedOffsets(groupId, topic)).get(0);
    const resumed = await startGroupMember(
      memberOptions(topic, groupId, seen, { maxRecords: 2, validate: schemaRegistryValidation(settings, testSerde(), logger) }),
    ).done;

    // Assess
    expect(held).toMatchObject({ stoppedBecause: 'duration', recordsProcessed: 0, discarded: 0, sentToDestination: 0 });
    expect(committedWhileDown).toBe(-1);
    expect(resumed.stoppedBecause).toBe('maxRecords');
    expect(seen.map(decoded)).toEqual([
      { user: 'user1', amount: 42 },
      { user: 'user2', amount: 7 },
    ]);
    expect((await committedOffsets(groupId, topic)).get(0)).toBe(2);
  });

  it('writes one SQS invocation record per run of one reason, in offset order, with the offsets and no records', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('schema-sqs'), 1);
    const { payment, poison } = await paymentsAndPoison();
    await sendRecords(topic, [payment('user1', 42), ...poison, payment('user2', 7)]);
    const directory = mkdtempSync(join(tmpdir(), 'schema-sqs-'));
    const queue = uniqueName('payments-failed');
    const seen: MSKRecord[] = [];

    // Act
    try {
      const summary = await startGroupMember(
        memberOptions(topic, uniqueName('schema-sqs-group'), seen, {
          maxRecords: 5,
          destinationsDir: directory,
          errorHandling: {
            ...memberConfig().consume.errorHandling,
            onFailure: { kind: 'sqs', arn: `arn:aws:sqs:us-east-1:123456789012:${queue}` },
          },
          validate: schemaRegistryValidation({ eventRecordFormat: 'JSON', attributes: ['VALUE'] }, testSerde(), logger),
        }),
      ).done;
      const lines = readFileSync(join(directory, 'sqs', `${queue}.jsonl`), 'utf8')
        .trim()
        .split('\n');

      // Assess
      expect(summary.sentToDestination).toBe(3);
      expect(seen.map((record) => record.offset)).toEqual([0, 4]);
      const records = lines.map((line) => JSON.parse(line));
      expect(
        records.map((record) => ({
          condition: record.requestContext.condition,
          responseContext: record.responseContext,
          batchSize: record.KafkaBatchInfo.batchSize,
          offsets: record.KafkaBatchInfo.recordsInfo[`${topic}-0`],
          payload: record.payload,
        })),
      ).toEqual(
        [
          ['DESERIALIZATION_ERROR', '1'],
          ['SCHEMA_NOT_FOUND', '2'],
          ['DESERIALIZATION_ERROR', '3'],
        ].map(([condition, offset]) => ({
          condition,
          responseContext: null,
          batchSize: 1,
          offsets: expect.objectContaining({ firstRecordOffset: offset, lastRecordOffset: offset }),
          payload: undefined,
        })),
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
