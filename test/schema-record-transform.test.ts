/**
 * The event-source mapping's schema registry step (lib/schema-registry/record-transform.ts) on records
 * written by our serializer to the real registry, read back the way a function reads them: turned into
 * Lambda's records as the group member does (lib/consumer/lambda-event.ts), then read with Powertools' own
 * `kafkaConsumer` deserializers (Avro, Protobuf, JSON), as AWS's pages recommend.
 */
import { SchemaType, kafkaConsumer } from '@aws-lambda-powertools/kafka';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, MSKRecord } from 'aws-lambda';
import type { KafkaMessage } from 'kafkajs';
import protobuf from 'protobufjs';
import { describe, expect, it, vi } from 'vitest';
import { lambdaRecord } from '../lib/consumer/lambda-event';
import { SchemaRegistryUnavailableError } from '../lib/errors';
import { createSchemaRegistryClient } from '../lib/schema-registry/registry-client';
import { schemaRegistryValidation, type SchemaMetadata, type SchemaRegistrySettings } from '../lib/schema-registry/record-transform';
import { createSchemaSerde, type SchemaSerde } from '../lib/schema-registry/schema-serde';
import { frame } from '../lib/schema-registry/wire-format';
import { freePort } from './support/free-port';
import { PAYMENT_AVRO, PAYMENT_JSON_SCHEMA, PAYMENT_PROTO, registerSchema, testSerde, uniqueSubject } from './support/schema-registry';

const TOPIC = 'payments';

function record(offset: number, value: Buffer, key?: Buffer): KafkaMessage {
  return { offset: String(offset), key: key ?? null, value, timestamp: '1764000000000', attributes: 0, headers: {} };
}

/** A Lambda Kafka record with the schema metadata AWS adds. */
type SchemaRecord = MSKRecord & { keySchemaMetadata?: SchemaMetadata; valueSchemaMetadata?: SchemaMetadata };

/**
 * The records of partition 0 through the step, as the function receives them, each record it refused as the
 * step logs it (topic, partition, offset, attribute, reason, detail), and the runs it refused together.
 */
async function throughStep(messages: KafkaMessage[], settings: SchemaRegistrySettings, serde: SchemaSerde) {
  const logger = new Logger({ logLevel: 'SILENT' });
  const warn = vi.spyOn(logger, 'warn');
  const result = await schemaRegistryValidation(settings, serde, logger)([{ topic: TOPIC, partition: 0, messages }]);
  const delivered = (result.batches[0]?.messages ?? []).map((message) => lambdaRecord(TOPIC, 0, message) as SchemaRecord);
  const rejected = warn.mock.calls.map(([, fields]) => fields as { offset: string; attribute: string; reason: string; detail: string });
  // What goes to the on-failure destination: runs of consecutive records refused for one reason.
  const refusedRuns = result.rejected.map(({ condition, batches }) => ({
    condition,
    offsets: batches.flatMap((batch) => batch.messages.map(({ offset }) => offset)),
  }));
  return { delivered, rejected, refusedRuns };
}

/** Powertools' own event type (its records carry the schema metadata). */
type PowertoolsEvent = Parameters<ReturnType<typeof kafkaConsumer>>[0];

function eventOf(records: SchemaRecord[]): PowertoolsEvent {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: 'localhost:9092',
    records: { 'payments-0': records },
  } as PowertoolsEvent;
}

/** What a handler wrapped in Powertools' kafkaConsumer sees as its records' keys and values. */
async function readWithPowertools(records: SchemaRecord[], config: Parameters<typeof kafkaConsumer>[1]) {
  const seen: { key: unknown; value: unknown }[] = [];
  const handler = kafkaConsumer(async (event) => {
    for (const consumed of event.records) seen.push({ key: consumed.key, value: consumed.value });
  }, config);
  await handler(eventOf(records), {} as Context);
  return seen;
}

const VALUE_ONLY = (eventRecordFormat: 'JSON' | 'SOURCE'): SchemaRegistrySettings => ({ eventRecordFormat, attributes: ['VALUE'] });

describe('the schema registry step before invoking', () => {
  it('SOURCE Avro: the value without its header, with valueSchemaMetadata, decoded by Powertools with the Avro schema', async () => {
    const subject = uniqueSubject('src-avro');
    const id = await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const codec = testSerde();
    const { bytes } = await codec.encodeForSubject(subject, { user: 'user1', amount: 42, note: 'first' }, 'value');

    const { delivered, rejected } = await throughStep([record(0, bytes, Buffer.from('user1'))], VALUE_ONLY('SOURCE'), codec);

    expect(rejected).toEqual([]);
    expect(delivered[0]?.value).toBe(bytes.subarray(5).toString('base64'));
    expect(delivered[0]?.valueSchemaMetadata).toEqual({ dataFormat: 'AVRO', schemaId: String(id) });
    expect(delivered[0]?.keySchemaMetadata).toBeUndefined();
    expect(delivered[0]?.key).toBe(Buffer.from('user1').toString('base64'));
    const seen = await readWithPowertools(delivered, { value: { type: SchemaType.AVRO, schema: PAYMENT_AVRO } });
    // avro-js (Powertools' Avro library) gives records as class instances and wraps union values by type.
    expect(JSON.parse(JSON.stringify(seen))).toEqual([{ key: 'user1', value: { user: 'user1', amount: 42, note: { string: 'first' } } }]);
  });

  it('SOURCE Protobuf: message indexes kept after the header, so Powertools decodes [0] and other messages', async () => {
    const subject = uniqueSubject('src-proto');
    const id = await registerSchema(subject, 'PROTOBUF', PAYMENT_PROTO);
    const root = protobuf.parse(PAYMENT_PROTO, { keepCase: true }).root;
    const Payment = root.lookupType('tutorial.Payment');
    const Refund = root.lookupType('tutorial.Refund');
    const codec = testSerde();
    const first = (await codec.encodeForSubject(subject, { user: 'user1', amount: 42 }, 'value')).bytes;
    const refund = frame(id, Buffer.from([2, 2, ...Refund.encode(Refund.fromObject({ user: 'user2', status: 'DONE' })).finish()]));

    const { delivered } = await throughStep([record(0, first), record(1, refund)], VALUE_ONLY('SOURCE'), codec);

    expect(delivered.map((one) => Buffer.from(one.value, 'base64')[0])).toEqual([0, 2]);
    expect(delivered.map((one) => one.valueSchemaMetadata)).toEqual([
      { dataFormat: 'PROTOBUF', schemaId: String(id) },
      { dataFormat: 'PROTOBUF', schemaId: String(id) },
    ]);
    const [payment] = await readWithPowertools(delivered.slice(0, 1), { value: { type: SchemaType.PROTOBUF, schema: Payment } });
    expect(Payment.toObject(payment?.value as protobuf.Message, { longs: String })).toEqual({ user: 'user1', amount: '42' });
    const [refunded] = await readWithPowertools(delivered.slice(1), { value: { type: SchemaType.PROTOBUF, schema: Refund } });
    expect(Refund.toObject(refunded?.value as protobuf.Message, { enums: String })).toEqual({ user: 'user2', status: 'DONE' });
  });

  it('JSON: Avro, Protobuf and JSON Schema values delivered as JSON text, read by Powertools as JSON; KEY validated too', async () => {
    const avroSubject = uniqueSubject('json-avro');
    const protoSubject = uniqueSubject('json-proto');
    const jsonSubject = uniqueSubject('json-json');
    const keySubject = uniqueSubject('json-key');
    const avroId = await registerSchema(avroSubject, 'AVRO', PAYMENT_AVRO);
    const keyId = await registerSchema(keySubject, 'AVRO', JSON.stringify({ type: 'string' }));
    await registerSchema(protoSubject, 'PROTOBUF', PAYMENT_PROTO);
    const jsonId = await registerSchema(jsonSubject, 'JSON', PAYMENT_JSON_SCHEMA);
    const codec = testSerde();
    const key = (await codec.encodeForSubject(keySubject, 'user1', 'key')).bytes;
    const records = [
      record(0, (await codec.encodeForSubject(avroSubject, { user: 'user1', amount: 42, note: null }, 'value')).bytes, key),
      record(1, (await codec.encodeForSubject(protoSubject, { user: 'user2', amount: '9007199254740993' }, 'value')).bytes, key),
      record(2, (await codec.encodeForSubject(jsonSubject, { user: 'user3', amount: 7 }, 'value')).bytes, key),
    ];

    const { delivered, rejected } = await throughStep(records, { eventRecordFormat: 'JSON', attributes: ['KEY', 'VALUE'] }, codec);

    expect(rejected).toEqual([]);
    expect(delivered[0]?.keySchemaMetadata).toEqual({ dataFormat: 'AVRO', schemaId: String(keyId) });
    expect(delivered[0]?.valueSchemaMetadata).toEqual({ dataFormat: 'AVRO', schemaId: String(avroId) });
    expect(delivered[2]?.valueSchemaMetadata).toEqual({ dataFormat: 'JSON', schemaId: String(jsonId) });
    const seen = await readWithPowertools(delivered, { key: { type: SchemaType.JSON }, value: { type: SchemaType.JSON } });
    expect(seen).toEqual([
      { key: 'user1', value: { user: 'user1', amount: 42, note: null } },
      { key: 'user1', value: { user: 'user2', amount: '9007199254740993' } },
      { key: 'user1', value: { user: 'user3', amount: 7 } },
    ]);
  });

  it('rejects with AWS reason codes: a record without the wire format, an unknown schema id, one failing validation', async () => {
    const subject = uniqueSubject('reject');
    const id = await registerSchema(subject, 'JSON', PAYMENT_JSON_SCHEMA);
    const codec = testSerde();
    const good = (await codec.encodeForSubject(subject, { user: 'user1', amount: 1 }, 'value')).bytes;
    const records = [
      record(0, Buffer.from('{"user":"plain","amount":1}')),
      record(1, frame(1_999_999_999, Buffer.from('{}'))),
      record(2, frame(id, Buffer.from('{"user":"user1","amount":-5}'))),
      record(3, good),
    ];

    const { delivered, rejected, refusedRuns } = await throughStep(records, VALUE_ONLY('JSON'), codec);

    expect(delivered.map((one) => one.offset)).toEqual([3]);
    expect(rejected.map(({ offset, attribute, reason }) => ({ offset, attribute, reason }))).toEqual([
      { offset: '0', attribute: 'VALUE', reason: 'DESERIALIZATION_ERROR' },
      { offset: '1', attribute: 'VALUE', reason: 'SCHEMA_NOT_FOUND' },
      { offset: '2', attribute: 'VALUE', reason: 'DESERIALIZATION_ERROR' },
    ]);
    expect(rejected[2]?.detail).toContain('amount');
    expect(refusedRuns).toEqual([
      { condition: 'DESERIALIZATION_ERROR', offsets: ['0'] },
      { condition: 'SCHEMA_NOT_FOUND', offsets: ['1'] },
      { condition: 'DESERIALIZATION_ERROR', offsets: ['2'] },
    ]);
  });

  it('leaves attributes that are not validated as they are, and a record without a key keyless', async () => {
    const subject = uniqueSubject('keyless');
    await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const codec = testSerde();
    const bytes = (await codec.encodeForSubject(subject, { user: 'user1', amount: 1, note: null }, 'value')).bytes;
    const keyOnly = await throughStep([record(0, bytes)], { eventRecordFormat: 'JSON', attributes: ['KEY'] }, codec);
    expect(keyOnly.delivered).toEqual([lambdaRecord(TOPIC, 0, record(0, bytes))]);
  });

  it('decides nothing when the registry does not answer: the whole batch fails, to be retried', async () => {
    const down = createSchemaSerde(
      createSchemaRegistryClient({ url: `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`, timeoutMs: 1_000 }),
    );
    const attempt = throughStep([record(0, frame(1, Buffer.from([2, 0x61, 2])))], VALUE_ONLY('SOURCE'), down);
    await expect(attempt).rejects.toBeInstanceOf(SchemaRegistryUnavailableError);
  });
});
