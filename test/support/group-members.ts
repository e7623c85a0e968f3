/**
 * Real consumer-group members for inspection tests: kafkajs consumers started in the test, records produced to
 * chosen partitions, waits (with deadlines) until the group and its committed offsets reach a known state, and
 * running the commands users run to completion.
 */
import { AssignerProtocol, Kafka, logLevel, type Consumer, type GroupDescription } from 'kafkajs';
import { runCommand, runKafkaTool, type Finished } from './processes';
import { readmeSection, shellCommands } from './readme';
import { waitFor } from './wait';
import { sendRecords, testBrokers, withAdmin } from './kafka';

export const MEMBER_CLIENT_ID = 'inspect-test';

export interface Member {
  consumer: Consumer;
  memberId: () => string | undefined;
  consumed: () => number;
}

/** Joins `groupId` on `topic` from the beginning; commits after each batch (kafkajs's default). */
export async function startMember(groupId: string, topic: string): Promise<Member> {
  const kafka = new Kafka({ clientId: MEMBER_CLIENT_ID, brokers: testBrokers(), logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  // Short fetch waits: kafkajs heartbeats between fetches, so a long poll would delay noticing a rebalance.
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6_000,
    heartbeatInterval: 300,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 300,
  });
  let memberId: string | undefined;
  let consumed = 0;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    memberId = event.payload.memberId;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async () => {
      consumed += 1;
    },
  });
  return { consumer, memberId: () => memberId, consumed: () => consumed };
}

/** Produces `counts[p]` records to partition p of the topic. */
export async function produceToPartitions(topic: string, counts: number[]): Promise<void> {
  const messages = counts.flatMap((count, partition) =>
    Array.from({ length: count }, (_, index) => ({ partition, key: `k-${partition}-${index}`, value: `v-${index}` })),
  );
  await sendRecords(topic, messages);
}

export async function describeGroupNow(groupId: string): Promise<GroupDescription> {
  return withAdmin(async (admin) => {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group === undefined) throw new Error(`no description for ${groupId}`);
    return group;
  });
}

/** memberId → partitions of `topic` it owns, from the broker's description. */
export function ownership(group: GroupDescription, topic: string): Map<string, number[]> {
  return new Map(
    group.members.map((member) => {
      const decoded = member.memberAssignment.length === 0 ? null : AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return [member.memberId, [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b)];
    }),
  );
}

/** Waits until the group is Stable with `count` members that together own all `partitions` partitions. */
export async function waitForStableGroup(groupId: string, topic: string, count: number, partitions: number): Promise<GroupDescription> {
  let last: GroupDescription | undefined;
  return waitFor(
    () => `group ${groupId} Stable with ${count} members owning ${partitions} partitions; last: ${JSON.stringify(last)}`,
    async () => {
      const group = await describeGroupNow(groupId);
      last = group;
      if (group.state !== 'Stable' || group.members.length !== count) return undefined;
      const owned = [...ownership(group, topic).values()];
      return owned.every((list) => list.length > 0) && owned.flat().length === partitions && group;
    },
  );
}

/**
 * Kafka's own kafka-consumer-groups, run through `npm run kafka --`: of the suite's KAFKA_VERSION, or of the
 * release given (the tutorial's 3.7.1 prints what inspect-group prints, whatever release the broker runs).
 */
export function kafkaConsumerGroups(brokers: string[], args: string[], release?: string): Promise<Finished> {
  const options = release === undefined ? {} : { env: { KAFKA_VERSION: release } };
  return runKafkaTool('kafka-consumer-groups', ['--bootstrap-server', brokers.join(','), ...args], options);
}

export function inspectGroup(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runCommand('npm', ['run', '-s', 'inspect-group', '--', ...args], { env });
}

/** The commands of the README's "Inspect the group" section (```sh blocks), with their trailing comments. */
export function readmeInspectCommands(): Array<{ command: string; comment: string | undefined }> {
  return shellCommands(readmeSection('## Inspect the group')).map(({ command, comment }) => ({ command, comment }));
}
