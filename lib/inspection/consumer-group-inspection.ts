/**
 * A consumer group as `kafka-consumer-groups --describe` sees it: members and what they own, committed
 * offsets, log end offsets and lag, plus state, assignment strategy and coordinator — one document, used by
 * `npm run inspect-group` and by GET /groups/{groupId}.
 *
 * Rows follow Kafka's ConsumerGroupCommand (3.7): members that own partitions, the member with most
 * partitions first, each member's partitions in order; then partitions that have a committed offset but no
 * owner. Offsets and lag are strings (64-bit); null where Kafka prints `-`.
 */
import { AssignerProtocol, type Admin, type GroupDescription, type MemberDescription } from 'kafkajs';
import { GroupNotFoundError, TopicNotFoundError } from '../errors';
import type { CoordinatorFinder, GroupCoordinator } from './group-coordinator';
import { settleAll } from './settle-all';

export interface GroupMember {
  memberId: string;
  clientId: string;
  /** As the broker reports it and Kafka's tool prints it, e.g. `/127.0.0.1`. */
  host: string;
  /** topic → partitions the member owns, in order. */
  assignment: Record<string, number[]>;
}

export interface PartitionState {
  topic: string;
  partition: number;
  /** The group's committed offset; null when none is committed. */
  currentOffset: string | null;
  /** Latest offset of the partition; null when the broker does not know the partition. */
  logEndOffset: string | null;
  lag: string | null;
  /** The owning member; null when no member owns the partition. */
  memberId: string | null;
  clientId: string | null;
  host: string | null;
}

export interface ConsumerGroupDocument {
  groupId: string;
  /** Stable, Empty, PreparingRebalance, CompletingRebalance. */
  state: string;
  /** The assignment strategy the group agreed on (e.g. RoundRobinAssigner); null when there is none. */
  protocol: string | null;
  coordinator: GroupCoordinator | null;
  members: GroupMember[];
  partitions: PartitionState[];
  /** Sum of the known lags, as a string. */
  totalLag: string;
}

export interface DescribeGroupOptions {
  /** Only this topic's partitions (and members' assignments). */
  topic?: string;
  /** Looks the coordinator up; without it, `coordinator` is null. */
  coordinators?: CoordinatorFinder;
}

const CONSUMER_PROTOCOL = 'consumer';

/** topic → partitions of a member's assignment; empty when the member has none (yet) or is not a consumer. */
function decodeAssignment(protocolType: string, member: MemberDescription): Record<string, number[]> {
  if (protocolType !== CONSUMER_PROTOCOL || member.memberAssignment.length === 0) return {};
  const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
  if (decoded === null) return {};
  const assignment: Record<string, number[]> = {};
  for (const topic of Object.keys(decoded.assignment).sort()) {
    const partitions = decoded.assignment[topic] ?? [];
    if (partitions.length > 0) assignment[topic] = [...partitions].sort((a, b) => a - b);
  }
  return assignment;
}

function countPartitions(member: GroupMember): number {
  return Object.values(member.assignment).reduce((sum, partitions) => sum + partitions.length, 0);
}

function lagOf(currentOffset: string | null, logEndOffset: string | null): string | null {
  // As ConsumerGroupCommand.getLag: no lag without a committed offset (or with -1) and a log end offset.
  if (currentOffset === null || logEndOffset === null || currentOffset === '-1') return null;
  return (BigInt(logEndOffset) - BigInt(currentOffset)).toString();
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

async function describeGroup(admin: Admin, groupId: string): Promise<GroupDescription | undefined> {
  const { groups } = await admin.describeGroups([groupId]);
  return groups.find((candidate) => candidate.groupId === groupId);
}

/**
 * partition → committed offset, for every partition the group has committed (all topics, or one). All are
 * fetched (OffsetFetch with no topic list) and filtered here: naming a topic would make kafkajs look up its
 * partitions first, which fails for a topic that is gone while the group still has its offsets.
 */
async function committedOffsets(admin: Admin, groupId: string, topic: string | undefined): Promise<Map<string, string>> {
  const offsets = await admin.fetchOffsets({ groupId });
  const committed = new Map<string, string>();
  for (const { topic: name, partitions } of offsets) {
    if (topic !== undefined && name !== topic) continue;
    for (const { partition, offset } of partitions) {
      if (offset !== '-1') committed.set(key(name, partition), offset);
    }
  }
  return committed;
}

/**
 * topic → (partition → latest offset), for topics the cluster has; any other has no entry (Kafka prints `-`).
 * Only existing topics are asked for: kafkajs keeps every topic it was asked about in its metadata requests,
 * and one that does not exist would fail every later request of a long-lived admin.
 * kafkajs asks ListOffsets with READ_COMMITTED, which is the high watermark Kafka's tool prints unless a
 * transaction is open on the partition (then it is the last stable offset).
 */
async function logEndOffsets(admin: Admin, topics: string[]): Promise<Map<string, string>> {
  const ends = new Map<string, string>();
  await settleAll(
    topics.map(async (topic) => {
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) ends.set(key(topic, partition), high);
    }),
  );
  return ends;
}

/**
 * Describes a consumer group. Throws GroupNotFoundError for a group the cluster does not know, and
 * TopicNotFoundError when options.topic names a topic the cluster does not have.
 */
export async function describeConsumerGroup(
  admin: Admin,
  groupId: string,
  options: DescribeGroupOptions = {},
): Promise<ConsumerGroupDocument> {
  const { topic } = options;
  const [topics, group, committed, coordinator] = await settleAll<
    [string[], GroupDescription | undefined, Map<string, string>, GroupCoordinator | null]
  >([
    admin.listTopics(),
    describeGroup(admin, groupId),
    committedOffsets(admin, groupId, topic),
    options.coordinators === undefined ? Promise.resolve(null) : options.coordinators.find(groupId),
  ]);
  // With a topic filter, a topic the cluster does not have is an error, not an empty table.
  if (topic !== undefined && !topics.includes(topic)) throw new TopicNotFoundError(topic);
  // A group the coordinator does not know is reported as Dead, with no error; Kafka's tool says it does not exist.
  if (group === undefined || group.state === 'Dead') throw new GroupNotFoundError(groupId);

  const members: GroupMember[] = group.members.map((member) => {
    const assignment = decodeAssignment(group.protocolType, member);
    if (topic !== undefined) {
      for (const name of Object.keys(assignment)) if (name !== topic) delete assignment[name];
    }
    return { memberId: member.memberId, clientId: member.clientId, host: member.clientHost, assignment };
  });

  // Owners first (most partitions first; stable for ties, as Kafka sorts), then committed partitions nobody owns.
  const owned: Array<{ topic: string; partition: number; member: GroupMember | null }> = [];
  const ownedKeys = new Set<string>();
  const byPartition = (a: { topic: string; partition: number }, b: { topic: string; partition: number }) =>
    a.partition - b.partition || a.topic.localeCompare(b.topic);
  for (const member of [...members].sort((a, b) => countPartitions(b) - countPartitions(a))) {
    // Kafka sorts a member's partitions by partition number (across topics).
    const memberRows = Object.entries(member.assignment)
      .flatMap(([name, partitions]) => partitions.map((partition) => ({ topic: name, partition, member })))
      .sort(byPartition);
    for (const row of memberRows) {
      owned.push(row);
      ownedKeys.add(key(row.topic, row.partition));
    }
  }
  const unowned = [...committed.keys()]
    .filter((partitionKey) => !ownedKeys.has(partitionKey))
    .map((partitionKey) => {
      const [name = '', partition = '0'] = partitionKey.split('\u0000');
      return { topic: name, partition: Number(partition), member: null };
    })
    .sort(byPartition);
  const rows = [...owned, ...unowned];

  const existing = new Set(topics);
  const ends = await logEndOffsets(
    admin,
    [...new Set(rows.map((row) => row.topic))].filter((name) => existing.has(name)),
  );
  let totalLag = 0n;
  const partitions: PartitionState[] = rows.map(({ topic: name, partition, member }) => {
    const currentOffset = committed.get(key(name, partition)) ?? null;
    const logEndOffset = ends.get(key(name, partition)) ?? null;
    const lag = lagOf(currentOffset, logEndOffset);
    if (lag !== null) totalLag += BigInt(lag);
    return {
      topic: name,
      partition,
      currentOffset,
      logEndOffset,
      lag,
      memberId: member?.memberId ?? null,
      clientId: member?.clientId ?? null,
      host: member?.host ?? null,
    };
  });

  return {
    groupId,
    state: group.state,
    protocol: group.protocol === '' ? null : group.protocol,
    coordinator,
    members,
    partitions,
    totalLag: totalLag.toString(),
  };
}

/** `topic-partition` → owning memberId (null when unowned), for following ownership over time. */
export function partitionOwners(document: ConsumerGroupDocument): Map<string, string | null> {
  return new Map(document.partitions.map((row) => [`${row.topic}-${row.partition}`, row.memberId]));
}

export interface OwnerChange {
  /** `topic-partition`, e.g. payment-done-1. */
  partition: string;
  from: string | null;
  to: string | null;
}

/** Partitions whose owner differs between two snapshots (a partition absent from one counts as unowned). */
export function ownerChanges(before: Map<string, string | null>, after: Map<string, string | null>): OwnerChange[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const changes: OwnerChange[] = [];
  for (const partition of names) {
    const from = before.get(partition) ?? null;
    const to = after.get(partition) ?? null;
    if (from !== to) changes.push({ partition, from, to });
  }
  return changes;
}
