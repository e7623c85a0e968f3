/** Test helpers against the real broker: unique names, topics, reading records back, offsets. */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage, type Message } from 'kafkajs';
import { inject } from 'vitest';

/** `${prefix}-<random>`: every test owns its topics and groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function testBrokers(): string[] {
  return inject('kafkaBrokers');
}

/** A kafkajs client for the test's own checks (not the code under test). */
export function testKafka(brokers: string[] = testBrokers()): Kafka {
  return new Kafka({
    clientId: uniqueName('test'),
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 5 },
  });
}

/** Runs fn with a connected admin client and disconnects it afterwards. */
export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>, brokers: string[] = testBrokers()): Promise<T> {
  const admin = testKafka(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic with its leaders elected; returns its name. */
export async function createTopic(topic: string, numPartitions = 3, brokers: string[] = testBrokers()): Promise<string> {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  }, brokers);
  return topic;
}

/**
 * Writes records with a throwaway producer of the test's own (connected, then disconnected) and resolves once
 * the broker has acknowledged them all. Keys go through the Java client's partitioner, as Kafka's tools do.
 */
export async function sendRecords(topic: string, messages: Message[], brokers: string[] = testBrokers()): Promise<void> {
  const producer = testKafka(brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The group's committed offsets on the topic by partition (-1: none), from the broker. */
export async function committedOffsets(groupId: string, topic: string, brokers: string[] = testBrokers()): Promise<Map<number, number>> {
  return withAdmin(async (admin) => {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((offsets?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
  }, brokers);
}

/** Partition → latest (log end) offset, as the broker reports it. */
export async function endOffsets(topic: string, brokers: string[] = testBrokers()): Promise<Map<number, string>> {
  return withAdmin(async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map(({ partition, high }) => [partition, high]));
  }, brokers);
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function toReadRecord(partition: number, message: KafkaMessage): ReadRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
  }
  return {
    partition,
    offset: message.offset,
    key: message.key === null ? null : message.key.toString(),
    value: message.value === null ? null : message.value.toString(),
    headers,
  };
}

export interface RawRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads `count` records from the start of a topic with a real consumer of its own group, waiting at most
 * timeoutMs, keys and values as the bytes Kafka holds. Rejects with what it got when they do not all arrive.
 */
export async function readRawRecords(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  brokers: string[] = testBrokers(),
): Promise<RawRecord[]> {
  const consumer = testKafka(brokers).consumer({ groupId: uniqueName('reader'), sessionTimeout: 6_000, heartbeatInterval: 500 });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${records.length} of ${count} records from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (count === 0) {
        clearTimeout(timer);
        resolvePromise();
        return;
      }
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const { headers } = toReadRecord(partition, message);
            records.push({ partition, offset: message.offset, key: message.key, value: message.value, headers });
            if (records.length >= count) {
              clearTimeout(timer);
              resolvePromise();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** As readRawRecords, with keys and values as UTF-8 text. */
export async function readRecords(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  brokers: string[] = testBrokers(),
): Promise<ReadRecord[]> {
  const raw = await readRawRecords(topic, count, timeoutMs, brokers);
  return raw.map((record) => ({ ...record, key: record.key?.toString() ?? null, value: record.value?.toString() ?? null }));
}

/**
 * Environment for a child `kafka:up`/`kafka:down`/project command that must start (or find) its own JVM broker
 * or cluster on `port`, not the suite's: no KAFKA_BROKERS, no controller port inherited.
 */
export function ownJvmKafkaEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_PORT: String(port), KAFKA_MODE: 'jvm' };
  delete env.KAFKA_BROKERS;
  delete env.KAFKA_CONTROLLER_PORT;
  return env;
}
