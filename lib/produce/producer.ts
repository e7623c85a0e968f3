/**
 * The process's Kafka clients for /produce: an idempotent producer and an admin client (for topic
 * metadata), each connected once on first use and reused across warm invocations (lib/kafka/lazy-connection).
 * After a failure the client is dropped and the next request connects a fresh one, so the process recovers
 * by itself when the broker is back instead of failing forever; no request ever pays a connect while the
 * client is healthy.
 */
import { ConfigResourceTypes, type Admin, type ICustomPartitioner, type Kafka, type Producer } from 'kafkajs';
import { TopicNotFoundError } from '../errors';
import { isUnknownTopic } from '../kafka/errors';
import type { Connection } from '../kafka/lazy-connection';

/**
 * publish.ts chooses every record's partition itself (to report it and to apply the configured
 * strategy), so kafkajs's partitioner just returns that choice.
 */
const chosenPartition: ICustomPartitioner =
  () =>
  ({ message }) =>
    message.partition ?? 0;

/**
 * Idempotent with acks=all (set per send) and one request in flight, as kafkajs requires for
 * idempotence: a retried batch is never written twice and per-partition order holds. Never creates topics.
 */
export function createProduceProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: chosenPartition,
  });
}

export interface TopicInfo {
  numPartitions: number;
  /** The topic's `max.message.bytes`: the largest record batch the broker accepts for it. */
  maxMessageBytes: number;
}

export interface TopicInfoSource {
  /** Partition count and size limit of an existing topic; TopicNotFoundError when it does not exist. */
  get(topic: string): Promise<TopicInfo>;
  /** Forget what is cached about a topic (it was deleted, or changed). */
  forget(topic: string): void;
  /** The admin connection failed: drop it and the cache. */
  discardConnection(): void;
  close(): Promise<void>;
}

/** Kafka's default `message.max.bytes`, used when the topic's config cannot be described (e.g. no ACL). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

async function describeTopic(admin: Admin, topic: string): Promise<TopicInfo> {
  let numPartitions: number;
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    numPartitions = metadata.topics.find((found) => found.name === topic)?.partitions.length ?? 0;
  } catch (error: unknown) {
    if (isUnknownTopic(error)) throw new TopicNotFoundError(topic, { cause: error });
    throw error;
  }
  if (numPartitions === 0) throw new TopicNotFoundError(topic);

  let maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
  try {
    const described = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
      includeSynonyms: false,
    });
    const value = described.resources[0]?.configEntries.find((entry) => entry.configName === 'max.message.bytes')?.configValue;
    if (value !== undefined && /^\d+$/.test(value)) maxMessageBytes = Number(value);
  } catch {
    // Not allowed to describe configs (managed clusters may deny it): the broker still enforces its limit.
  }
  return { numPartitions, maxMessageBytes };
}

/**
 * Topic metadata through one admin connection, cached for ttlMs: existence is checked explicitly (never
 * by producing, which could auto-create the topic on brokers that allow it), without a metadata round
 * trip on every request.
 */
export function createTopicInfoCache(admin: Connection<Admin>, ttlMs: number): TopicInfoSource {
  const cache = new Map<string, { info: Promise<TopicInfo>; expires: number }>();
  return {
    get(topic) {
      const now = Date.now();
      const cached = cache.get(topic);
      if (cached !== undefined && cached.expires > now) return cached.info;
      const info = admin.get().then((client) => describeTopic(client, topic));
      const entry = { info, expires: now + ttlMs };
      cache.set(topic, entry);
      // Only answers are cached: a topic created right after a 404 is found on the next request.
      info.catch(() => {
        if (cache.get(topic) === entry) cache.delete(topic);
      });
      return info;
    },
    forget(topic) {
      cache.delete(topic);
    },
    discardConnection() {
      cache.clear();
      admin.discard();
    },
    close() {
      cache.clear();
      return admin.close();
    },
  };
}
