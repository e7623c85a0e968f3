/**
 * Which partition a record goes to. We choose it ourselves (instead of leaving it to kafkajs) so the
 * response can say where every record landed and why, and so a custom strategy can be plugged in by
 * configuration (PRODUCE_PARTITIONER).
 *
 *  - an explicit `partition` in the request always wins (checked against the topic by publish.ts);
 *  - `default`: a key goes where Kafka's Java client puts it: murmur2 of the key's UTF-8 bytes, made
 *    positive, modulo the partition count. Same key → same partition → per-key order;
 *  - `default` without a key: round-robin, record by record, over all partitions, starting at a random
 *    partition per topic and process (see README "Produce" for why not the Java client's sticky batches);
 *  - `vip-users`: the shipped example of a custom strategy (below).
 */

export interface PartitionInput {
  topic: string;
  numPartitions: number;
  /** UTF-8 bytes of the key; null when the record has none. */
  key: Buffer | null;
  /** The record's value as the caller sent it (a parsed JSON value), for strategies that look inside. */
  value: unknown;
}

/** Returns a partition number from 0 to numPartitions - 1. */
export type Partitioner = (input: PartitionInput) => number;

/**
 * Kafka's `Utils.murmur2` (Java client, clients/src/main/java/org/apache/kafka/common/utils/Utils.java),
 * bit for bit: 32-bit signed arithmetic, seed 0x9747b28c. Returns a signed 32-bit integer as Java does.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i += 1) {
    const i4 = i * 4;
    let k = (data[i4] ?? 0) | ((data[i4 + 1] ?? 0) << 8) | ((data[i4 + 2] ?? 0) << 16) | ((data[i4 + 3] ?? 0) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  // Java's switch on the remaining bytes falls through: 3 left mixes in all three, then multiplies once.
  const tail = length & ~3;
  const left = length % 4;
  if (left === 3) h ^= (data[tail + 2] ?? 0) << 16;
  if (left >= 2) h ^= (data[tail + 1] ?? 0) << 8;
  if (left >= 1) {
    h ^= data[tail] ?? 0;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs for negative numbers). */
export function toPositive(value: number): number {
  return value & 0x7fffffff;
}

/** The partition Kafka's Java client (and its console producer) chooses for a key. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}

/** The `default` strategy: murmur2 for keys, round-robin for records without one. */
export function createDefaultPartitioner(): Partitioner {
  const next = new Map<string, number>();
  return ({ topic, numPartitions, key }) => {
    if (key !== null) return partitionForKey(key, numPartitions);
    // A random start per topic and process, so many cold Lambda instances do not all begin on partition 0.
    const counter = next.get(topic) ?? Math.floor(Math.random() * 0x7fffffff);
    next.set(topic, (counter + 1) % 0x7fffffff);
    return counter % numPartitions;
  };
}

/** Partition reserved for VIP users by the `vip-users` example strategy. */
export const VIP_PARTITION = 0;

function isVip(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>).tier === 'vip';
}

/**
 * The shipped example of a custom strategy (PRODUCE_PARTITIONER=vip-users): a record whose value is an
 * object with `"tier": "vip"` goes to partition 0, a lane of its own that a dedicated consumer can keep
 * free of backlog. Every other record is spread by the default rules over the remaining partitions
 * 1..n-1, so nothing else queues in the VIP lane. A topic with one partition has no room for a lane:
 * everything goes to partition 0.
 *
 * Trade-off a reader should know: a user whose tier changes moves partitions, so the order of their
 * events across the change is not guaranteed.
 */
export function createVipUsersPartitioner(): Partitioner {
  const rest = createDefaultPartitioner();
  return (input) => {
    if (input.numPartitions <= 1 || isVip(input.value)) return VIP_PARTITION;
    return 1 + rest({ ...input, numPartitions: input.numPartitions - 1 });
  };
}

/**
 * The strategies PRODUCE_PARTITIONER can name: the one list (lib/config.ts takes its choices from here). A
 * strategy of your own is a function next to these, and a line here.
 */
const PARTITIONERS = {
  default: createDefaultPartitioner,
  'vip-users': createVipUsersPartitioner,
} satisfies Record<string, () => Partitioner>;

export type PartitionerName = keyof typeof PARTITIONERS;
export const PARTITIONER_NAMES = Object.keys(PARTITIONERS) as PartitionerName[];

export function createPartitioner(name: PartitionerName): Partitioner {
  return PARTITIONERS[name]();
}
