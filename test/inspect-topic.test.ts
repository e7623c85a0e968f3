/**
 * npm run inspect-topic against a real topic, compared with Kafka's own kafka-topics --describe and
 * kafka-get-offsets for the same topic.
 */
import { describe, expect, it } from 'vitest';
import type { TopicDescription } from '../lib/inspection/topic-inspection';
import { produceToPartitions } from './support/group-members';
import { createTopic, testBrokers, uniqueName, withAdmin } from './support/kafka';
import { runCommand, runKafkaTool } from './support/processes';

function kafkaTool(tool: string, args: string[]) {
  return runKafkaTool(tool, ['--bootstrap-server', testBrokers().join(','), ...args]);
}

/** `topic:partition:offset` lines of kafka-get-offsets → partition → offset. */
function offsetsByPartition(stdout: string): Map<number, string> {
  return new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [, partition = '', offset = ''] = line.trim().split(':');
        return [Number(partition), offset];
      }),
  );
}

describe('inspect-topic', () => {
  it("shows each partition with the leader, replicas, ISR and earliest and latest offsets that Kafka's tools show", async () => {
    const topic = await createTopic(uniqueName('inspect-topic'), 3);
    await produceToPartitions(topic, [4, 0, 2]);
    // Delete partition 0's first record, so the earliest offset is not 0 there.
    await withAdmin(async (admin) => {
      await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs finds the leaders from loaded metadata
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] });
    });

    const [json, table, latest, earliest, described] = await Promise.all([
      runCommand('npm', ['run', '-s', 'inspect-topic', '--', topic, '--json']),
      runCommand('npm', ['run', '-s', 'inspect-topic', '--', topic]),
      kafkaTool('kafka-get-offsets', ['--topic', topic, '--time', '-1']),
      kafkaTool('kafka-get-offsets', ['--topic', topic, '--time', '-2']),
      kafkaTool('kafka-topics', ['--describe', '--topic', topic]),
    ]);
    for (const result of [json, table, latest, earliest, described]) expect(result.code, result.stderr).toBe(0);

    const document = JSON.parse(json.stdout) as TopicDescription;
    const latestOffsets = offsetsByPartition(latest.stdout);
    const earliestOffsets = offsetsByPartition(earliest.stdout);
    expect(document.partitions.map((partition) => partition.latestOffset)).toEqual(
      [0, 1, 2].map((partition) => latestOffsets.get(partition)),
    );
    expect(document.partitions.map((partition) => partition.earliestOffset)).toEqual(
      [0, 1, 2].map((partition) => earliestOffsets.get(partition)),
    );
    expect(document.partitions.map((partition) => [partition.earliestOffset, partition.latestOffset, partition.records])).toEqual([
      ['1', '4', '3'],
      ['0', '0', '0'],
      ['0', '2', '2'],
    ]);
    expect(document.records).toBe('5');

    // kafka-topics: "Topic: T	Partition: 0	Leader: 1	Replicas: 1	Isr: 1"
    for (const partition of document.partitions) {
      const line = described.stdout.split('\n').find((candidate) => candidate.includes(`Partition: ${partition.partition}\t`));
      expect(line, described.stdout).toBeDefined();
      expect(line).toContain(`Leader: ${partition.leader}\t`);
      expect(line).toContain(`Replicas: ${partition.replicas.join(',')}\t`);
      expect(line).toMatch(new RegExp(`Isr: ${partition.isr.join(',')}(\\t|$)`));
    }
    expect(described.stdout).toContain(`ReplicationFactor: ${document.replicationFactor}\t`);

    const leader = String(document.partitions[0]?.leader);
    expect(table.stdout).toContain(`\n${topic.padEnd(15)} 0          ${leader.padEnd(10)} `);
    expect(table.stdout).toMatch(new RegExp(`^${topic} +0 +${leader} +${leader} +${leader} +1 +4 +3$`, 'm'));
    expect(table.stdout).toContain(`Topic '${topic}': 3 partitions, replication factor 1, 5 records retained`);
  });

  it('says a topic that does not exist does not exist and exits 1; an unknown flag gets the usage and exit 2', async () => {
    const missing = uniqueName('no-such-topic');
    const [unknownTopic, unknownFlag] = await Promise.all([
      runCommand('npm', ['run', '-s', 'inspect-topic', '--', missing]),
      runCommand('npm', ['run', '-s', 'inspect-topic', '--', '--bogus']),
    ]);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.stderr).toBe(`Error: topic '${missing}' does not exist\n`);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('usage: npm run inspect-topic -- [<topic>] [--json]');
  });
});
