/**
 * npm run inspect-group against a real group of real kafkajs members with committed offsets, compared with
 * what Kafka's own kafka-consumer-groups prints for the same group at the same moment.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConsumerGroupDocument } from '../lib/inspection/consumer-group-inspection';
import { DEFAULT_KAFKA_VERSION, kafkaRelease } from '../scripts/local-kafka/versions';
import { freePort } from './support/free-port';
import {
  MEMBER_CLIENT_ID,
  describeGroupNow,
  inspectGroup,
  kafkaConsumerGroups,
  ownership,
  produceToPartitions,
  readmeInspectCommands,
  startMember,
  waitForStableGroup,
  type Member,
} from './support/group-members';
import { committedOffsets, createTopic, testBrokers, uniqueName } from './support/kafka';
import { runCommand, startProcess } from './support/processes';
import { waitFor } from './support/wait';

const TUTORIAL_KAFKA_VERSION = DEFAULT_KAFKA_VERSION;

interface KafkaRow {
  topic: string;
  partition: number;
  currentOffset: string;
  logEndOffset: string;
  lag: string;
  consumerId: string;
  host: string;
  clientId: string;
}

/** The data rows of kafka-consumer-groups --describe (after the header). */
function kafkaRows(stdout: string): KafkaRow[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const header = lines.findIndex((line) => line.startsWith('GROUP '));
  expect(header, `no header in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  return lines.slice(header + 1).map((line) => {
    const [, topic = '', partition = '', currentOffset = '', logEndOffset = '', lag = '', consumerId = '', host = '', clientId = ''] = line
      .trim()
      .split(/\s+/);
    return { topic, partition: Number(partition), currentOffset, logEndOffset, lag, consumerId, host, clientId };
  });
}

const dash = (value: string | null) => value ?? '-';

function expectSameNumbers(document: ConsumerGroupDocument, rows: KafkaRow[]): void {
  expect(document.partitions.map((row) => `${row.topic}-${row.partition}`).sort()).toEqual(
    rows.map((row) => `${row.topic}-${row.partition}`).sort(),
  );
  for (const row of rows) {
    const ours = document.partitions.find((candidate) => candidate.topic === row.topic && candidate.partition === row.partition);
    expect(ours, `${row.topic}-${row.partition}`).toBeDefined();
    expect(
      {
        currentOffset: dash(ours?.currentOffset ?? null),
        logEndOffset: dash(ours?.logEndOffset ?? null),
        lag: dash(ours?.lag ?? null),
        consumerId: dash(ours?.memberId ?? null),
        host: dash(ours?.host ?? null),
        clientId: dash(ours?.clientId ?? null),
      },
      `${row.topic}-${row.partition}`,
    ).toEqual({
      currentOffset: row.currentOffset,
      logEndOffset: row.logEndOffset,
      lag: row.lag,
      consumerId: row.consumerId,
      host: row.host,
      clientId: row.clientId,
    });
  }
}

describe('inspect-group on a group with two members and committed offsets', () => {
  const brokers = testBrokers();
  /** Our table, our --json and Kafka's own --describe, for the same group at the same moment. */
  const describeThreeWays = (groupId: string) =>
    Promise.all([
      inspectGroup(['--group', groupId]),
      inspectGroup(['--group', groupId, '--json']),
      kafkaConsumerGroups(brokers, ['--describe', '--group', groupId]),
    ]);
  const topic = uniqueName('inspect');
  const groupId = uniqueName('inspect-group');
  const members: Member[] = [];

  beforeAll(async () => {
    const disconnectMembers = async () => {
      await Promise.allSettled(members.map((member) => member.consumer.disconnect()));
    };
    await createTopic(topic, 4);
    // Partition 3 gets no record before the members read, so the group commits nothing there.
    await produceToPartitions(topic, [5, 7, 4, 0]);
    try {
      members.push(await startMember(groupId, topic));
      await waitForStableGroup(groupId, topic, 1, 4);
      members.push(await startMember(groupId, topic));
      await waitForStableGroup(groupId, topic, 2, 4);
      let last: Map<number, number> | undefined;
      await waitFor(
        () => `offsets 5, 7, 4 committed; last: ${JSON.stringify([...(last ?? [])])}`,
        async () => {
          last = await committedOffsets(groupId, topic);
          return last.get(0) === 5 && last.get(1) === 7 && last.get(2) === 4;
        },
      );
    } catch (error) {
      await disconnectMembers();
      throw error;
    }
    // Paused members stay in the group (they heartbeat) but read and commit nothing more: lag appears.
    for (const member of members) member.consumer.pause([{ topic }]);
    await produceToPartitions(topic, [2, 3, 0, 1]);
    return disconnectMembers;
  });

  it(
    `prints the table kafka-consumer-groups ${kafkaRelease().version} --describe prints (the broker's release), then a summary ` +
      'line, and --json has the same numbers partition by partition',
    async () => {
      const [table, json, kafka] = await describeThreeWays(groupId);
      expect(kafka.code, kafka.stderr).toBe(0);
      expect(table.code, table.stderr).toBe(0);
      expect(json.code, json.stderr).toBe(0);

      // Same header, same rows in the same order, same column widths.
      expect(table.stdout).toBe(
        `${kafka.stdout}\nGroup '${groupId}': state Stable, 2 members, assignment strategy RoundRobinAssigner, total lag 5\n`,
      );

      const document = JSON.parse(json.stdout) as ConsumerGroupDocument;
      const rows = kafkaRows(kafka.stdout);
      expect(rows).toHaveLength(4);
      expectSameNumbers(document, rows);

      // And the numbers are the broker's: committed 5/7/4/none, log end 7/10/4/1.
      const byPartition = new Map(document.partitions.map((row) => [row.partition, row]));
      expect([0, 1, 2, 3].map((partition) => byPartition.get(partition)?.currentOffset)).toEqual(['5', '7', '4', null]);
      expect([0, 1, 2, 3].map((partition) => byPartition.get(partition)?.logEndOffset)).toEqual(['7', '10', '4', '1']);
      expect([0, 1, 2, 3].map((partition) => byPartition.get(partition)?.lag)).toEqual(['2', '3', '0', null]);
      expect(document.totalLag).toBe('5');
      expect(document.state).toBe('Stable');
      expect(document.protocol).toBe('RoundRobinAssigner');
      expect(document.groupId).toBe(groupId);

      const owners = ownership(await describeGroupNow(groupId), topic);
      expect(new Set(document.members.map((member) => member.memberId))).toEqual(new Set(members.map((member) => member.memberId())));
      for (const member of document.members) {
        expect(member.clientId).toBe(MEMBER_CLIENT_ID);
        expect(member.host).toMatch(/^\/\d+\.\d+\.\d+\.\d+$/);
        expect(member.assignment).toEqual({ [topic]: owners.get(member.memberId) });
      }
      const [host, port] = (brokers[0] ?? '').split(':');
      expect(document.coordinator).toEqual({ nodeId: expect.any(Number), host, port: Number(port) });
    },
  );

  // Kafka 4.x's tool prints --members --verbose with KIP-848's epoch columns and another assignment format;
  // inspect-group keeps the tutorial's (3.7.1) layout, so these two compare with 3.7.1's tool on any broker.
  it('prints with --members and --state what kafka-consumer-groups 3.7.1 prints with --members --verbose and --state', async () => {
    const [members, state, kafkaMembers, kafkaState] = await Promise.all([
      inspectGroup(['--group', groupId, '--members']),
      inspectGroup(['--group', groupId, '--state']),
      kafkaConsumerGroups(brokers, ['--describe', '--group', groupId, '--members', '--verbose'], TUTORIAL_KAFKA_VERSION),
      kafkaConsumerGroups(brokers, ['--describe', '--group', groupId, '--state'], TUTORIAL_KAFKA_VERSION),
    ]);
    expect(kafkaMembers.code, kafkaMembers.stderr).toBe(0);
    expect(kafkaState.code, kafkaState.stderr).toBe(0);
    expect(members.code, members.stderr).toBe(0);
    expect(state.code, state.stderr).toBe(0);
    expect(members.stdout).toBe(kafkaMembers.stdout);
    expect(state.stdout).toBe(kafkaState.stdout);
    expect(state.stdout).toMatch(/ Stable +2\n$/);
  });

  it('runs every command of the README section "Inspect the group" (bar --watch) with this test\'s group, topic and broker', async () => {
    const commands = readmeInspectCommands()
      .map(({ command }) => command)
      .filter((command) => command.startsWith('npm run') && !command.includes('--watch'));
    expect(commands.length).toBeGreaterThanOrEqual(7);
    const env = { KAFKA_GROUP_ID: groupId, KAFKA_TOPIC: topic };
    const results = await Promise.all(
      commands.map((command) => {
        const adapted = command
          .replaceAll('my-app3', groupId)
          .replaceAll('payment-done', topic)
          .replaceAll('localhost:9092', brokers.join(','));
        return runCommand('sh', ['-c', adapted.replace(/^npm run /, 'npm run -s ')], { env }).then((result) => ({ command, ...result }));
      }),
    );
    for (const { command, code, stdout, stderr } of results) {
      expect(code, `${command}\n${stderr}`).toBe(0);
      expect(stdout, command).toMatch(command.includes('inspect-topic') ? /^TOPIC +PARTITION +LEADER/m : /^GROUP |"groupId"/m);
      expect(stdout, command).toContain(command.includes('inspect-topic') ? topic : groupId);
    }
  });

  it('shows an Empty group once its members have left: offsets still there, no owners, and the "no active members" line', async () => {
    await Promise.all(members.map((member) => member.consumer.disconnect()));
    await waitFor('group Empty', async () => (await describeGroupNow(groupId)).state === 'Empty');

    const [table, json, kafka] = await describeThreeWays(groupId);
    expect(kafka.code, kafka.stderr).toBe(0);
    expect(table.code, table.stderr).toBe(0);
    const notice = `Consumer group '${groupId}' has no active members.`;
    expect(kafka.stderr).toContain(notice);
    expect(table.stderr).toBe(`\n${notice}\n`);
    expect(table.stdout).toBe(`${kafka.stdout}\nGroup '${groupId}': state Empty, 0 members, assignment strategy -, total lag 5\n`);

    const document = JSON.parse(json.stdout) as ConsumerGroupDocument;
    expect(document.state).toBe('Empty');
    expect(document.members).toEqual([]);
    expect(document.protocol).toBeNull();
    expectSameNumbers(document, kafkaRows(kafka.stdout));
    expect(document.partitions.map((row) => [row.partition, row.currentOffset, row.memberId])).toEqual([
      [0, '5', null],
      [1, '7', null],
      [2, '4', null],
    ]);
  });
});

describe('inspect-group --watch', () => {
  it(
    'prints a line with the time when a member leaves and its partitions ' + 'move to the member that stays, and exits 0 on Ctrl-C',
    async () => {
      const topic = await createTopic(uniqueName('inspect-watch'), 3);
      const groupId = uniqueName('inspect-watch-group');
      const staying = await startMember(groupId, topic);
      await waitForStableGroup(groupId, topic, 1, 3);
      const leaving = await startMember(groupId, topic);
      const group = await waitForStableGroup(groupId, topic, 2, 3);
      const stayingId = staying.memberId() ?? '';
      const leavingId = leaving.memberId() ?? '';
      const moved = ownership(group, topic).get(leavingId) ?? [];
      expect(moved.length).toBeGreaterThan(0);

      // The command `npm run inspect-group` runs, started directly: on Ctrl-C npm itself always ends by the signal
      // (the shell sees 130), so only the command's own exit code says whether it stopped cleanly.
      const watch = startProcess('node', [
        '--import',
        'tsx',
        'scripts/inspect-group.ts',
        '--group',
        groupId,
        '--watch',
        '--interval',
        '200',
      ]);
      try {
        await watch.waitForOutput(new RegExp(`${leavingId}[\\s\\S]*Group '${groupId}': state Stable, 2 members`), 30_000);
        await leaving.consumer.disconnect();
        for (const partition of moved) {
          await watch.waitForOutput(
            new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${topic}-${partition}: ${leavingId} → `, 'm'),
            30_000,
          );
          await watch.waitForOutput(new RegExp(`^\\S+ ${topic}-${partition}: (?:-|${leavingId}) → ${stayingId}$`, 'm'), 30_000);
        }
        await watch.waitForOutput(new RegExp(`Group '${groupId}': state Stable, 1 member,`), 30_000);
      } finally {
        const code = await watch.stop('SIGINT', 10_000);
        await staying.consumer.disconnect();
        expect(code, watch.output().slice(-2000)).toBe(0);
      }
      expect(watch.output()).not.toMatch(/Error|\n\s+at /);
    },
  );
});

describe('inspect-group errors', () => {
  // Kafka 4.x's tool words it "… GroupIdNotFoundException: Group <g> not found."; ours keeps 3.7.1's words.
  it('says a group that does not exist does not exist, with the words of kafka-consumer-groups 3.7.1, and exits 1', async () => {
    const groupId = uniqueName('no-such-group');
    const [ours, kafka] = await Promise.all([
      inspectGroup(['--group', groupId]),
      kafkaConsumerGroups(testBrokers(), ['--describe', '--group', groupId], TUTORIAL_KAFKA_VERSION),
    ]);
    const message = `Error: Consumer group '${groupId}' does not exist.`;
    expect(kafka.stdout).toContain(message);
    expect(ours.code).toBe(1);
    expect(ours.stderr).toBe(`${message}\n`);
    expect(ours.stdout).toBe('');
  });

  it('says a topic given with --topic does not exist when the cluster does not have it, and exits 1', async () => {
    const missing = uniqueName('no-such-topic');
    const result = await inspectGroup(['--group', uniqueName('any-group'), '--topic', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`Error: topic '${missing}' does not exist\n`);
  });

  it('answers an unknown flag with the usage and exit code 2', async () => {
    const result = await inspectGroup(['--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("'--bogus'");
    expect(result.stderr).toContain('usage: npm run inspect-group -- [--group <id>]');
    expect(result.stdout).toBe('');
  });

  it('says clearly that Kafka is not reachable when no broker listens, and exits 1', async () => {
    const broker = `127.0.0.1:${await freePort()}`;
    const result = await inspectGroup(['--group', 'my-app3'], { KAFKA_BROKERS: broker });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`Error: Kafka is not reachable at ${broker}: Connection error: connect ECONNREFUSED ${broker}\n`);
    expect(result.stdout).toBe('');
  });
});
