/**
 * Kafka-triggered functions with `schemaRegistryConfig` under the real `serverless offline start`, with
 * the real registry and broker (test/fixtures/offline-kafka/schema-service.yml): records written in
 * Confluent's wire format reach the SOURCE example decoded by Powertools' kafkaConsumer with the Avro
 * schema, and the JSON example as JSON; a record without the wire format, one with an unknown schema id
 * and one that is not the schema's Avro are dropped with AWS's reason codes, and committed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_AVRO_SCHEMA } from '../functions/schema-registry/payment-schema';
import { frame } from '../lib/schema-registry/wire-format';
import { committedOffsets, createTopic, sendRecords, uniqueName } from './support/kafka';
import { type Offline, startOffline } from './support/offline';
import { serviceFile } from './support/offline-kafka';
import { jsonLines } from './support/processes';
import { registerSchema, testRegistryUrl, testSerde, uniqueSubject } from './support/schema-registry';
import { waitFor } from './support/wait';

const sourceTopic = uniqueName('schema-source');
const jsonTopic = uniqueName('schema-json');
let service: ReturnType<typeof serviceFile>;
let offline: Offline;

function logged(message: string, topic: string) {
  return jsonLines(offline.process.output()).filter((line) => line.message === message && line.topic === topic);
}

beforeAll(async () => {
  await createTopic(sourceTopic, 1);
  await createTopic(jsonTopic, 1);
  service = serviceFile('schema-service');
  offline = await startOffline({
    env: {
      OFFLINE_KAFKA_ENABLED: 'true',
      SOURCE_TOPIC: sourceTopic,
      JSON_TOPIC: jsonTopic,
      SCHEMA_REGISTRY_URL: testRegistryUrl(),
      ESBUILD_WORK_FOLDER: join('.esbuild', uniqueName('schema-offline')),
    },
    args: ['--config', service.config],
    readyTimeoutMs: 150_000,
  });
});

afterAll(async () => {
  await offline?.stop();
  service?.remove();
});

describe('schemaRegistryConfig under serverless offline', () => {
  it('hands SOURCE Avro to the Powertools example and JSON to the other; drops what fails validation', async () => {
    const subject = uniqueSubject('offline-payment');
    const id = await registerSchema(subject, 'AVRO', PAYMENT_AVRO_SCHEMA);
    const serde = testSerde();
    const encoder = await serde.encoderFor(subject);
    const payment = (user: string, amount: number) => encoder.encode({ user, amount }, 'value');
    const poison = [
      { key: 'plain', value: Buffer.from('{"user":"plain","amount":1}') },
      { key: 'unknown-id', value: frame(2_000_000_000, Buffer.from([2, 0x61, 2])) },
      { key: 'not-avro', value: frame(id, Buffer.from([0x0a])) },
    ];
    await sendRecords(sourceTopic, [
      { key: 'user1', value: payment('user1', 42) },
      ...poison,
      { key: 'user2', value: payment('user2', 7) },
    ]);
    await sendRecords(jsonTopic, [{ key: 'user3', value: payment('user3', 5) }, ...poison]);

    const source = await waitFor(
      '2 payments through the SOURCE example',
      () => {
        const lines = logged('payment received', sourceTopic);
        return lines.length >= 2 && lines;
      },
      90_000,
    );
    expect(
      source.map(({ format, offset, key, user, amount, schemaId, dataFormat }) => ({
        format,
        offset,
        key,
        user,
        amount,
        schemaId,
        dataFormat,
      })),
    ).toEqual([
      { format: 'SOURCE', offset: 0, key: 'user1', user: 'user1', amount: 42, schemaId: String(id), dataFormat: 'AVRO' },
      { format: 'SOURCE', offset: 4, key: 'user2', user: 'user2', amount: 7, schemaId: String(id), dataFormat: 'AVRO' },
    ]);
    const json = await waitFor(
      '1 payment through the JSON example',
      () => {
        const lines = logged('payment received', jsonTopic);
        return lines.length >= 1 && lines;
      },
      90_000,
    );
    expect(json.map(({ format, key, user, amount, dataFormat }) => ({ format, key, user, amount, dataFormat }))).toEqual([
      { format: 'JSON', key: 'user3', user: 'user3', amount: 5, dataFormat: 'AVRO' },
    ]);

    const dropped = await waitFor(
      '3 records dropped on each topic',
      () => {
        const lines = [
          ...logged('record dropped by schema validation', sourceTopic),
          ...logged('record dropped by schema validation', jsonTopic),
        ];
        return lines.length >= 6 && lines;
      },
      30_000,
    );
    expect(dropped.filter((line) => line.topic === sourceTopic).map(({ offset, reason }) => ({ offset, reason }))).toEqual([
      { offset: 1, reason: 'DESERIALIZATION_ERROR' },
      { offset: 2, reason: 'SCHEMA_NOT_FOUND' },
      { offset: 3, reason: 'DESERIALIZATION_ERROR' },
    ]);
    // Dropped records are done with, as on AWS without an on-failure destination: the group commits past them.
    const group = `offline-kafka-schema-test-test-paymentsAvro-${sourceTopic}`;
    await waitFor(`group ${group} to commit offset 5`, async () => (await committedOffsets(group, sourceTopic)).get(0) === 5, 30_000);
  });
});
