/**
 * The tutorial's three terminals with the commands users run (`npm run consume`, `npx serverless invoke
 * local -f consume`), against the real broker: sharing the partitions, a graceful stop, a SIGKILL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { committedOffsets, createTopic, endOffsets, uniqueName } from './support/kafka';
import {
  latestAssignment,
  processed,
  produceKeyed,
  startConsumeCli,
  startConsumeInvoke,
  summaryOf,
  waitForOnePartitionEach,
  type Member,
  type ProcessedRecord,
} from './support/consume';
import { waitFor } from './support/wait';

// The broker's minimum session timeout: a killed member is noticed within ~6 s.
const FAST_SESSION = { KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '500', CONSUME_BATCH_WINDOW_MS: '100' };

function allProcessed(members: Member[]): ProcessedRecord[] {
  return members.flatMap(processed);
}

function waitForProcessed(members: Member[], count: number, timeoutMs = 60_000): Promise<ProcessedRecord[]> {
  return waitFor(
    () => `processed ${new Set(allProcessed(members).map(({ partition, offset }) => `${partition}@${offset}`)).size} of ${count}`,
    () => {
      const records = allProcessed(members);
      const distinct = new Set(records.map(({ partition, offset }) => `${partition}@${offset}`));
      return distinct.size >= count ? records : undefined;
    },
    timeoutMs,
  );
}

async function expectCommittedToEnd(groupId: string, topic: string) {
  const ends = await endOffsets(topic);
  const committed = await committedOffsets(groupId, topic);
  for (const [partition, end] of ends) expect(committed.get(partition), `partition ${partition}`).toBe(Number(end));
}

describe('consume: members of one consumer group', () => {
  it(
    'three members share three partitions and process each of 300 keyed ' + 'records exactly once, each key by one member in offset order',
    async () => {
      // Prepare
      const topic = await createTopic(uniqueName('consume-three'), 3);
      const groupId = uniqueName('group-three');
      const members = [
        startConsumeCli('cli-1', topic, groupId, [], FAST_SESSION),
        startConsumeCli('cli-2', topic, groupId, [], FAST_SESSION),
        startConsumeInvoke('invoke-3', { groupId, topic, durationSeconds: 120 }, FAST_SESSION),
      ];
      const held = await waitForOnePartitionEach(members, topic, [0, 1, 2], 90_000);

      // Act
      await produceKeyed(topic, 300, 30);
      const records = await waitForProcessed(members, 300);
      await Promise.all(members.map((member) => member.process.stop('SIGINT', 30_000)));

      // Assess
      // A clean run logs no errors of ours, and the routine rebalances are not reported as kafkajs errors.
      const errors = members.flatMap((member) =>
        member.process
          .output()
          .split('\n')
          .filter((line) => line.includes('"level":"ERROR"')),
      );
      expect(errors.filter((line) => !line.includes('"kafkajs"'))).toEqual([]);
      expect(errors.filter((line) => /rebalancing/.test(line))).toEqual([]);
      const final = allProcessed(members);
      expect(final).toHaveLength(300);
      expect(new Set(final.map(({ partition, offset }) => `${partition}@${offset}`)).size).toBe(300);
      expect(records.length).toBeLessThanOrEqual(300);
      for (const member of members) {
        const partitions = new Set(processed(member).map(({ partition }) => partition));
        expect([...partitions], member.name).toEqual([held.get(member.name)]);
      }
      const byKey = new Map<string, ProcessedRecord[]>();
      for (const record of final) byKey.set(record.key ?? '', [...(byKey.get(record.key ?? '') ?? []), record]);
      expect(byKey.size).toBe(30);
      for (const [key, list] of byKey) {
        expect(new Set(list.map(({ member }) => member)).size, key).toBe(1);
        const offsets = list.map(({ offset }) => offset);
        expect(offsets, key).toEqual([...offsets].sort((a, b) => a - b));
      }
      await expectCommittedToEnd(groupId, topic);
      for (const member of members) expect(summaryOf(member)?.stoppedBecause, member.name).toBe('stopped');
    },
  );

  it(
    'a fourth member idles, and when a member stops gracefully its ' + 'partition moves to the others at once and nothing is lost',
    async () => {
      // Prepare: a long session timeout, so a partition that moves quickly can only have moved by LeaveGroup.
      const env = { ...FAST_SESSION, KAFKA_SESSION_TIMEOUT_MS: '45000', KAFKA_REBALANCE_TIMEOUT_MS: '20000' };
      const topic = await createTopic(uniqueName('consume-four'), 3);
      const groupId = uniqueName('group-four');
      const members = [1, 2, 3, 4].map((n) => startConsumeCli(`cli-${n}`, topic, groupId, [], env));
      await waitFor(
        () => members.map((member) => `${member.name}: ${JSON.stringify(latestAssignment(member, topic))}`).join('; '),
        () => {
          const assignments = members.map((member) => latestAssignment(member, topic));
          if (assignments.some((assignment) => assignment === undefined)) return undefined;
          const sizes = assignments.map((assignment) => assignment?.length ?? 0).sort();
          return sizes.join(',') === '0,1,1,1';
        },
        90_000,
      );
      await produceKeyed(topic, 150, 30);
      await waitForProcessed(members, 150);
      const idle = members.find((member) => latestAssignment(member, topic)?.length === 0);
      const leaving = members.find((member) => member !== idle);
      if (idle === undefined || leaving === undefined) throw new Error('no idle or no busy member');
      expect(processed(idle)).toHaveLength(0);
      const [movedPartition] = latestAssignment(leaving, topic) ?? [];
      const survivors = members.filter((member) => member !== leaving);

      // Act
      const stoppedAt = Date.now();
      await leaving.process.stop('SIGINT', 30_000);
      const survivorsHoldAll = await waitForOnePartitionEach(survivors, topic, [0, 1, 2], 40_000);
      const movedAfterMs = Date.now() - stoppedAt;
      await produceKeyed(topic, 150, 30, 150);
      await waitForProcessed(members, 300);
      await Promise.all(survivors.map((member) => member.process.stop('SIGINT', 30_000)));

      // Assess
      expect(leaving.process.output()).toMatch(/"message":"group left"/);
      expect(summaryOf(leaving)?.stoppedBecause).toBe('stopped');
      expect([...survivorsHoldAll.values()]).toContain(movedPartition);
      // Well before the 45 s session timeout: the member left the group instead of going silent.
      expect(movedAfterMs).toBeLessThan(20_000);
      const final = allProcessed(members);
      expect(new Set(final.map(({ partition, offset }) => `${partition}@${offset}`)).size).toBe(300);
      expect(final).toHaveLength(300);
      await expectCommittedToEnd(groupId, topic);
    },
  );

  it('a handler slower than the session timeout keeps its partition, because the member heartbeats while the handler runs', async () => {
    // Prepare: a 6 s session and a handler that takes 8 s after logging its records.
    const env = { ...FAST_SESSION, CONSUME_HANDLER: 'test/fixtures/test-record-handler.ts', TEST_HANDLER_DELAY_MS: '8000' };
    const topic = await createTopic(uniqueName('consume-slow'), 1);
    const groupId = uniqueName('group-slow');
    const members = [startConsumeCli('first', topic, groupId, [], env), startConsumeCli('second', topic, groupId, [], env)];
    // One partition, two members: the group gives it to one of them (round-robin over member ids).
    const [busy, idle] = await waitFor(
      () => members.map((member) => `${member.name}: ${JSON.stringify(latestAssignment(member, topic))}`).join('; '),
      () => {
        const holders = members.filter((member) => latestAssignment(member, topic)?.join() === '0');
        const idlers = members.filter((member) => latestAssignment(member, topic)?.length === 0);
        return holders.length === 1 && idlers.length === 1 ? ([holders[0], idlers[0]] as const) : undefined;
      },
      60_000,
    );
    if (busy === undefined || idle === undefined) throw new Error('no busy or no idle member');
    const stdoutBefore = busy.process.stdout().length;

    // Act
    await produceKeyed(topic, 3, 3);
    await waitFor(
      () => `offset 3 committed on partition 0:\n${busy.process.output().slice(-2000)}`,
      async () => (await committedOffsets(groupId, topic)).get(0) === 3,
      40_000,
    );
    await Promise.all([busy, idle].map((member) => member.process.stop('SIGINT', 30_000)));

    // Assess
    expect(processed(busy).map(({ offset }) => offset)).toEqual([0, 1, 2]);
    expect(processed(idle)).toEqual([]);
    // Nothing happened to the group while the handler ran: no rejoin, no rebalance, no refused commit.
    const busyLog = busy.process.stdout().slice(stdoutBefore);
    expect(busyLog).not.toMatch(/"message":"group joined"/);
    expect(busyLog).not.toMatch(/"message":"group rebalancing"/);
    expect(busy.process.output()).not.toMatch(/"message":"commit refused"/);
  });

  it(
    'a member killed with SIGKILL mid-stream loses its partition after the session timeout; every ' +
      'record is processed at least once and duplicates come only from its uncommitted batch',
    async () => {
      // Prepare
      const topic = await createTopic(uniqueName('consume-kill'), 3);
      const groupId = uniqueName('group-kill');
      // A slow handler (200 ms after logging its records) makes the kill land while a batch is processed but not committed.
      const env = {
        ...FAST_SESSION,
        CONSUME_BATCH_SIZE: '5',
        CONSUME_HANDLER: 'test/fixtures/test-record-handler.ts',
        TEST_HANDLER_DELAY_MS: '200',
      };
      const members = [1, 2, 3].map((n) => startConsumeCli(`cli-${n}`, topic, groupId, [], env));
      const held = await waitForOnePartitionEach(members, topic, [0, 1, 2], 90_000);
      const [victim, ...survivors] = members;
      if (victim === undefined) throw new Error('no members');
      const victimPartition = held.get(victim.name);

      // Act: a stream of records; SIGKILL the victim once it has processed some of them.
      const streaming = (async () => {
        for (let round = 0; round < 30; round += 1) {
          await produceKeyed(topic, 10, 30, round * 10);
          // Pacing, not waiting for an event: the records come as a stream, not as one batch.
          await sleep(100);
        }
      })();
      await waitFor(
        () => `victim processed ${processed(victim).length}`,
        () => processed(victim).length >= 10,
        60_000,
      );
      const killedAt = Date.now();
      await victim.process.stop('SIGKILL');
      await streaming;
      await waitFor(
        () => survivors.map((member) => `${member.name}: ${JSON.stringify(latestAssignment(member, topic))}`).join('; '),
        () => survivors.some((member) => latestAssignment(member, topic)?.includes(victimPartition ?? -1)),
        60_000,
      );
      const movedAfterMs = Date.now() - killedAt;
      await waitForProcessed(members, 300);
      await Promise.all(survivors.map((member) => member.process.stop('SIGINT', 30_000)));

      // Assess
      const final = allProcessed(members);
      const seen = new Map<string, ProcessedRecord[]>();
      for (const record of final)
        seen.set(`${record.partition}@${record.offset}`, [...(seen.get(`${record.partition}@${record.offset}`) ?? []), record]);
      expect(seen.size).toBe(300);
      const duplicates = [...seen.values()].filter((list) => list.length > 1);
      console.log(
        `SIGKILL: partition ${victimPartition} moved after ${movedAfterMs} ms; ` +
          `${duplicates.length} duplicate records of ${final.length} processed`,
      );
      expect(duplicates.length).toBeLessThanOrEqual(5);
      for (const list of duplicates) {
        expect(list).toHaveLength(2);
        expect(list[0]?.member).toBe(victim.name);
        expect(list[0]?.partition).toBe(victimPartition);
      }
      expect(victim.process.output()).not.toMatch(/"message":"group left"/);
      // The survivors only got the partition once the broker gave up on the silent member.
      expect(movedAfterMs).toBeGreaterThan(2_000);
      await expectCommittedToEnd(groupId, topic);
    },
  );
});
