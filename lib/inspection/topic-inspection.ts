/**
 * A topic as `kafka-topics --describe` and `kafka-get-offsets` show it: partitions, leader, replicas, in-sync
 * replicas, earliest and latest offsets.
 */
import type { Admin } from 'kafkajs';
import { TopicNotFoundError } from '../errors';
import { isUnknownTopic } from '../kafka/errors';
import { settleAll } from './settle-all';

export interface TopicPartitionDescription {
  partition: number;
  /** Broker id of the leader; null when the partition has none (Kafka prints `none`/-1). */
  leader: number | null;
  replicas: number[];
  isr: number[];
  /** First offset still in the log (kafka-get-offsets --time -2). */
  earliestOffset: string;
  /** Next offset to be written (kafka-get-offsets --time -1). */
  latestOffset: string;
  /** Records retained: latest − earliest. */
  records: string;
}

export interface TopicDescription {
  topic: string;
  replicationFactor: number;
  partitions: TopicPartitionDescription[];
  /** Sum over partitions. */
  records: string;
}

/** Describes a topic. Throws TopicNotFoundError when the cluster does not have it. */
export async function describeTopic(admin: Admin, topic: string): Promise<TopicDescription> {
  // listTopics first: kafkajs's metadata request for a missing topic retries (and may auto-create it).
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new TopicNotFoundError(topic);
  let metadata: Awaited<ReturnType<Admin['fetchTopicMetadata']>>;
  let offsets: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
  try {
    [metadata, offsets] = await settleAll<[typeof metadata, typeof offsets]>([
      admin.fetchTopicMetadata({ topics: [topic] }),
      admin.fetchTopicOffsets(topic),
    ]);
  } catch (error) {
    if (isUnknownTopic(error)) throw new TopicNotFoundError(topic, { cause: error });
    throw error;
  }
  const found = metadata.topics.find((candidate) => candidate.name === topic);
  if (found === undefined) throw new TopicNotFoundError(topic);
  const byPartition = new Map(offsets.map((offset) => [offset.partition, offset]));
  let total = 0n;
  const partitions = [...found.partitions]
    .sort((a, b) => a.partitionId - b.partitionId)
    .map((partition): TopicPartitionDescription => {
      const offset = byPartition.get(partition.partitionId);
      const earliestOffset = offset?.low ?? '0';
      const latestOffset = offset?.high ?? '0';
      const records = BigInt(latestOffset) - BigInt(earliestOffset);
      total += records;
      return {
        partition: partition.partitionId,
        leader: partition.leader < 0 ? null : partition.leader,
        replicas: partition.replicas,
        isr: partition.isr,
        earliestOffset,
        latestOffset,
        records: records.toString(),
      };
    });
  return {
    topic,
    replicationFactor: partitions[0]?.replicas.length ?? 0,
    partitions,
    records: total.toString(),
  };
}
