/**
 * Kafka-triggered functions with `schemaRegistryConfig` under the real `serverless offline start`, with
 * the real registry and broker (test/fixtures/offline-kafka/schema-service.yml): records written in
 * Confluent's wire format reach the SOURCE example decoded by Powertools' kafkaConsumer with the Avro
 * schema, and the JSON example as JSON; a record without the wire format, one with an unknown schema id
 * and one that is not the schema's Avro land in the SOURCE mapping's kafka:// destination with AWS's reason
 * codes, and are dropped by the JSON one (no destination); the SOURCE mapping's filterPatterns match the
 * decoded value. The registry URI reaches the test's registry through custom.offlineKafka.schemaRegistries.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_AVRO_SCHEMA } from '../functions/schema-registry/payment-schema';
import { frame } from '../lib/schema-registry/wire-format';
import { freePort } from './support/free-port';
import { committedOffsets, createTopic, readRecords, sendRecords, uniqueName } from './support/kafka';
import { type Offline, startOffline } from './support/offline';
import { serviceFile } from './support/offline-kafka';
import { jsonLines } from './support/processes';
import { registerSchema, testRegistryUrl, testSerde, uniqueSubject } from './support/schema-registry';
import { waitFor } from './support/wait';

const sourceTopic = uniqueName('schema-source');
const jsonTopic = uniqueName('schema-json');
const dlqTopic = uniqueName('schema-dlq');
let service: ReturnType<typeof serviceFile>;
let offline: Offline;

function logged(message: string, topic: string) {
  return jsonLines(offline.process.output()).filter((line) => line.message === message && line.topic === topic);
}

beforeAll(async () => {
  await createTopic(sourceTopic, 1);
  await createTopic(jsonTopic, 1);
  await createTopic(dlqTopic, 1);
  service = serviceFile('schema-service');
  offline = await startOffline({
    env: {
      OFFLINE_KAFKA_ENABLED: 'true',
      SOURCE_TOPIC: sourceTopic,
      JSON_TOPIC: jsonTopic,
      DLQ_TOPIC: dlqTopic,
      TEST_REGISTRY_URL: testRegistryUrl(),
      // Not the registry: the mapping in custom.offlineKafka.schemaRegistries must be what reaches it.
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`,
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
  it('gives SOURCE Avro to the Powertools example, JSON to the other; refused records go to the destination or are dropped', async () => {
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
      { key: 'user4', value: payment('user4', 99) },
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
      // user2's 7 is not over 10: the filter, matched against the decoded value, left it out.
      { format: 'SOURCE', offset: 5, key: 'user4', user: 'user4', amount: 99, schemaId: String(id), dataFormat: 'AVRO' },
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

    // With a destination: each refused record is there, read by a real consumer, with AWS's reason code.
    const failed = (await readRecords(dlqTopic, 3)).map(({ key, value }) => {
      const record = JSON.parse(value ?? 'null');
      return { key, condition: record.requestContext.condition, offset: record.KafkaBatchInfo.recordInfo.offset };
    });
    expect(failed).toEqual([
      { key: 'plain', condition: 'DESERIALIZATION_ERROR', offset: '1' },
      { key: 'unknown-id', condition: 'SCHEMA_NOT_FOUND', offset: '2' },
      { key: 'not-avro', condition: 'DESERIALIZATION_ERROR', offset: '3' },
    ]);
    // Without one (the JSON mapping): logged and dropped, as AWS drops them.
    const refused = await waitFor(
      '3 records refused on the JSON topic',
      () => {
        const lines = logged('record failed schema validation', jsonTopic);
        return lines.length >= 3 && lines;
      },
      30_000,
    );
    expect(refused.map(({ offset, reason }) => ({ offset, reason }))).toEqual([
      { offset: '1', reason: 'DESERIALIZATION_ERROR' },
      { offset: '2', reason: 'SCHEMA_NOT_FOUND' },
      { offset: '3', reason: 'DESERIALIZATION_ERROR' },
    ]);
    expect(jsonLines(offline.process.output()).filter((line) => line.message === 'records discarded').length).toBeGreaterThan(0);
    // Refused and filtered records are done with: both groups commit past them.
    const sourceGroup = `offline-kafka-schema-test-test-paymentsAvro-${sourceTopic}`;
    await waitFor(
      `group ${sourceGroup} to commit offset 6`,
      async () => (await committedOffsets(sourceGroup, sourceTopic)).get(0) === 6,
      30_000,
    );
    const jsonGroup = `offline-kafka-schema-test-test-paymentsJson-${jsonTopic}`;
    await waitFor(`group ${jsonGroup} to commit offset 4`, async () => (await committedOffsets(jsonGroup, jsonTopic)).get(0) === 4, 30_000);
  });
});
