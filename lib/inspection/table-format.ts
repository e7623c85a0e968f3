/**
 * Text output in the column layout of Kafka's `kafka-consumer-groups --describe` (3.7): each column
 * left-justified to the longest of its header, its values and the tool's minimum width, one space between,
 * `-` for a missing value, and the same blank first line. Tables end with a newline.
 */
import type { ConsumerGroupDocument } from './consumer-group-inspection';
import type { TopicDescription } from './topic-inspection';

export const MISSING = '-';

/** Java's `%-Ns`: pads on the right to width, never truncates. */
function pad(value: string, width: number): string {
  return value.padEnd(width);
}

function widthOf(minimum: number, values: string[]): number {
  return values.reduce((width, value) => Math.max(width, value.length), minimum);
}

const orMissing = (value: string | number | null): string => (value === null ? MISSING : String(value));

/**
 * What Kafka's tool prints on stderr before the table for a group that is not Stable (with its leading blank
 * line), or undefined.
 */
export function groupStateNotice(document: Pick<ConsumerGroupDocument, 'groupId' | 'state'>): string | undefined {
  switch (document.state) {
    case 'Empty':
      return `\nConsumer group '${document.groupId}' has no active members.`;
    case 'PreparingRebalance':
    case 'CompletingRebalance':
      return `\nWarning: Consumer group '${document.groupId}' is rebalancing.`;
    default:
      return undefined;
  }
}

/** GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID; empty when no rows (as Kafka). */
export function formatOffsetsTable(document: ConsumerGroupDocument): string {
  const rows = document.partitions;
  if (rows.length === 0) return '';
  const groupWidth = widthOf(15, [document.groupId]);
  const topicWidth = widthOf(
    15,
    rows.map((row) => row.topic),
  );
  const consumerWidth = widthOf(
    15,
    rows.map((row) => orMissing(row.memberId)),
  );
  const hostWidth = widthOf(
    15,
    rows.map((row) => orMissing(row.host)),
  );
  const line = (cells: string[]) => {
    const [group = '', topic = '', partition = '', current = '', end = '', lag = '', consumer = '', host = '', client = ''] = cells;
    return [
      pad(group, groupWidth),
      pad(topic, topicWidth),
      pad(partition, 10),
      pad(current, 15),
      pad(end, 15),
      pad(lag, 15),
      pad(consumer, consumerWidth),
      pad(host, hostWidth),
      client,
    ].join(' ');
  };
  const header = line(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID']);
  const body = rows.map((row) =>
    line([
      document.groupId,
      row.topic,
      String(row.partition),
      orMissing(row.currentOffset),
      orMissing(row.logEndOffset),
      orMissing(row.lag),
      orMissing(row.memberId),
      orMissing(row.host),
      orMissing(row.clientId),
    ]),
  );
  return `\n${header}\n${body.join('\n')}\n`;
}

/** `topic(0,1), other(2)` as `--members --verbose` prints a member's assignment; `-` when it has none. */
export function assignmentText(assignment: Record<string, number[]>): string {
  const parts = Object.entries(assignment)
    .filter(([, partitions]) => partitions.length > 0)
    .map(([topic, partitions]) => `${topic}(${[...partitions].sort((a, b) => a - b).join(',')})`)
    .sort();
  return parts.length === 0 ? MISSING : parts.join(', ');
}

/** GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT, as `--members --verbose`; empty when no members. */
export function formatMembersTable(document: ConsumerGroupDocument): string {
  const { members } = document;
  if (members.length === 0) return '';
  const groupWidth = widthOf(15, [document.groupId]);
  const consumerWidth = widthOf(
    15,
    members.map((member) => member.memberId),
  );
  const hostWidth = widthOf(
    15,
    members.map((member) => member.host),
  );
  const clientWidth = widthOf(
    15,
    members.map((member) => member.clientId),
  );
  // Kafka prints "%-15s " for #PARTITIONS, so every line has a space before ASSIGNMENT.
  const line = (group: string, consumer: string, host: string, client: string, count: string, assignment: string) =>
    [pad(group, groupWidth), pad(consumer, consumerWidth), pad(host, hostWidth), pad(client, clientWidth), pad(count, 15), assignment].join(
      ' ',
    );
  const header = line('GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', 'ASSIGNMENT');
  const body = members.map((member) => {
    const count = Object.values(member.assignment).reduce((sum, partitions) => sum + partitions.length, 0);
    return line(document.groupId, member.memberId, member.host, member.clientId, String(count), assignmentText(member.assignment));
  });
  return `\n${header}\n${body.join('\n')}\n`;
}

/** `host:port (id)`, as Kafka's tool prints the coordinator. */
export function coordinatorText(document: Pick<ConsumerGroupDocument, 'coordinator'>): string {
  const { coordinator } = document;
  return coordinator === null ? MISSING : `${coordinator.host}:${coordinator.port} (${coordinator.nodeId})`;
}

/**
 * GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS, as `--describe --state`. Kafka sizes the first
 * column from the coordinator text (min 25) and the second at 25; we do the same so the output is identical.
 */
export function formatStateTable(document: ConsumerGroupDocument): string {
  const coordinator = coordinatorText(document);
  const firstWidth = Math.max(25, coordinator.length);
  const line = (group: string, coord: string, strategy: string, state: string, members: string) =>
    `${pad(group, firstWidth)} ${pad(coord, 25)} ${pad(strategy, 20)} ${pad(state, 15)} ${members}`;
  return (
    `\n${line('GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS')}\n` +
    `${line(document.groupId, coordinator, document.protocol ?? '', document.state, String(document.members.length))}\n`
  );
}

/** The line under the default table: state, member count, assignment strategy, total lag. */
export function formatSummary(document: ConsumerGroupDocument): string {
  const count = document.members.length;
  return (
    `Group '${document.groupId}': state ${document.state}, ${count} member${count === 1 ? '' : 's'}, ` +
    `assignment strategy ${document.protocol ?? MISSING}, total lag ${document.totalLag}\n`
  );
}

/** TOPIC PARTITION LEADER REPLICAS ISR EARLIEST-OFFSET LATEST-OFFSET RECORDS, then a summary line. */
export function formatTopicTable(topic: TopicDescription): string {
  const topicWidth = widthOf(15, [topic.topic]);
  const replicas = topic.partitions.map((partition) => partition.replicas.join(','));
  const isr = topic.partitions.map((partition) => partition.isr.join(','));
  const replicasWidth = widthOf(10, replicas);
  const isrWidth = widthOf(10, isr);
  const line = (cells: string[]) => {
    const [name = '', partition = '', leader = '', replicaList = '', isrList = '', earliest = '', latest = '', records = ''] = cells;
    return [
      pad(name, topicWidth),
      pad(partition, 10),
      pad(leader, 10),
      pad(replicaList, replicasWidth),
      pad(isrList, isrWidth),
      pad(earliest, 15),
      pad(latest, 15),
      records,
    ].join(' ');
  };
  const header = line(['TOPIC', 'PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'EARLIEST-OFFSET', 'LATEST-OFFSET', 'RECORDS']);
  const body = topic.partitions.map((partition, index) =>
    line([
      topic.topic,
      String(partition.partition),
      partition.leader === null ? MISSING : String(partition.leader),
      replicas[index] ?? '',
      isr[index] ?? '',
      partition.earliestOffset,
      partition.latestOffset,
      partition.records,
    ]),
  );
  const count = topic.partitions.length;
  const summary =
    `Topic '${topic.topic}': ${count} partition${count === 1 ? '' : 's'}, replication factor ${topic.replicationFactor}, ` +
    `${topic.records} record${topic.records === '1' ? '' : 's'} retained`;
  return `\n${header}\n${body.join('\n')}\n\n${summary}\n`;
}
