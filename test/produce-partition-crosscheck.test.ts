/**
 * The partition we choose for a key equals the one Kafka's own Java client chooses: random keys go through
 * the real `kafka-console-producer` (parse.key=true) and through lib/produce, and a real consumer reads
 * back where each landed.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { createKafka } from '../lib/kafka/client';
import { createDefaultPartitioner, partitionForKey } from '../lib/produce/partitioners';
import {
  closePublishDependencies,
  createPublishDependencies,
  publish,
  type PublishDependencies,
  type PublishedRecord,
} from '../lib/produce/publish';
import { createTopic, readRecords, testBrokers, uniqueName } from './support/kafka';
import { runKafkaTool } from './support/processes';

const KEYS = 1_200;
const PARTITIONS = 10;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@#!$%&*()+= üé€日本';

function randomKey(): string {
  const length = randomInt(1, 41);
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)] ?? 'x').join('');
}

/** Runs `npm run kafka -- kafka-console-producer …` with lines on stdin; resolves when it exits 0. */
async function consoleProduce(topic: string, lines: string[]): Promise<void> {
  const { code, stdout, stderr } = await runKafkaTool(
    'kafka-console-producer',
    ['--bootstrap-server', testBrokers().join(','), '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=\t'],
    { env: { LC_ALL: 'C.UTF-8' }, input: lines.map((line) => `${line}\n`).join(''), timeoutMs: 60_000 },
  );
  if (code !== 0) throw new Error(`console producer exited with ${code}:\n${stdout}${stderr}`);
}

describe("partitioning compared with Kafka's Java client", () => {
  let dependencies: PublishDependencies;
  beforeAll(() => {
    const config = loadConfig({ KAFKA_BROKERS: testBrokers().join(',') });
    dependencies = createPublishDependencies(createKafka(config.kafka), { partitioner: createDefaultPartitioner(), timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await closePublishDependencies(dependencies);
  });

  it(`puts each of ${KEYS} random keys on the partition the Java console producer chose`, async () => {
    const topic = await createTopic(uniqueName('crosscheck'), PARTITIONS);
    const keys = [...new Set(Array.from({ length: KEYS }, randomKey))];
    await consoleProduce(
      topic,
      keys.map((key, i) => `${key}\tjava-${i}`),
    );

    const ours: PublishedRecord[] = [];
    for (let start = 0; start < keys.length; start += 500) {
      const slice = keys.slice(start, start + 500);
      const { results } = await publish(
        {
          topic,
          records: slice.map((key, i) => ({ key, value: `ours-${start + i}`, parsedValue: null, headers: {}, partition: undefined })),
        },
        dependencies,
      );
      ours.push(...results);
    }

    const read = await readRecords(topic, keys.length * 2, 60_000);
    const javaPartition = new Map(read.filter((r) => r.value?.startsWith('java-')).map((r) => [r.key, r.partition]));
    const ourPartition = new Map(read.filter((r) => r.value?.startsWith('ours-')).map((r) => [r.key, r.partition]));
    expect(javaPartition.size).toBe(keys.length);
    expect(ourPartition.size).toBe(keys.length);

    const mismatches = keys.filter(
      (key, i) =>
        javaPartition.get(key) !== ourPartition.get(key) ||
        ours[i]?.partition !== javaPartition.get(key) ||
        partitionForKey(Buffer.from(key), PARTITIONS) !== javaPartition.get(key),
    );
    expect(mismatches).toEqual([]);
    // The keys really were spread: every partition got some.
    expect(new Set(javaPartition.values()).size).toBe(PARTITIONS);
  });
});
