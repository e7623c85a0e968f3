/**
 * GET /groups/{groupId} through the real `serverless offline start`, against a real group with a member and
 * committed offsets.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { ConsumerGroupDocument } from '../lib/inspection/consumer-group-inspection';
import {
  MEMBER_CLIENT_ID,
  produceToPartitions,
  readmeInspectCommands,
  startMember,
  waitForStableGroup,
  type Member,
} from './support/group-members';
import { freePort } from './support/free-port';
import { committedOffsets, createTopic, testBrokers, uniqueName } from './support/kafka';
import { startOffline, type Offline } from './support/offline';
import { runCommand } from './support/processes';
import { waitFor } from './support/wait';

describe('GET /groups/{groupId} under serverless offline', () => {
  let offline: Offline;
  let member: Member;
  const topic = uniqueName('inspect-http');
  const groupId = uniqueName('inspect-http-group');

  beforeAll(async () => {
    await createTopic(topic, 2);
    await produceToPartitions(topic, [3, 2]);
    [offline, member] = await Promise.all([
      startOffline(),
      (async () => {
        const started = await startMember(groupId, topic);
        await waitForStableGroup(groupId, topic, 1, 2);
        await waitFor('offsets 3 and 2 committed', async () => {
          const offsets = await committedOffsets(groupId, topic);
          return offsets.get(0) === 3 && offsets.get(1) === 2;
        });
        started.consumer.pause([{ topic }]);
        return started;
      })(),
    ]);
    await produceToPartitions(topic, [1, 0]);
  });

  afterAll(async () => {
    await Promise.allSettled([member?.consumer.disconnect(), offline?.stop()]);
  });

  it('answers 200 with the group document: member, owner, committed and log end offsets, lag, coordinator', async () => {
    const response = await fetch(`${offline.baseUrl}/groups/${groupId}`);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const document = JSON.parse(text) as ConsumerGroupDocument;
    const memberId = member.memberId();
    expect(memberId).toBeDefined();
    const [host, port] = (testBrokers()[0] ?? '').split(':');
    expect(document).toEqual({
      groupId,
      state: 'Stable',
      protocol: 'RoundRobinAssigner',
      coordinator: { nodeId: expect.any(Number), host, port: Number(port) },
      members: [
        { memberId, clientId: MEMBER_CLIENT_ID, host: expect.stringMatching(/^\/\d+\.\d+\.\d+\.\d+$/), assignment: { [topic]: [0, 1] } },
      ],
      partitions: [
        {
          topic,
          partition: 0,
          currentOffset: '3',
          logEndOffset: '4',
          lag: '1',
          memberId,
          clientId: MEMBER_CLIENT_ID,
          host: document.members[0]?.host,
        },
        {
          topic,
          partition: 1,
          currentOffset: '2',
          logEndOffset: '2',
          lag: '0',
          memberId,
          clientId: MEMBER_CLIENT_ID,
          host: document.members[0]?.host,
        },
      ],
      totalLag: '1',
    });
  });

  it("answers the README's curl commands as the README says", async () => {
    const curls = readmeInspectCommands().filter(({ command }) => command.startsWith('curl '));
    expect(curls).toHaveLength(2);
    const host = new URL(offline.baseUrl).host;
    const [found, missing] = await Promise.all(
      curls.map(({ command }) => runCommand('sh', ['-c', command.replaceAll('localhost:3000', host).replaceAll('my-app3', groupId)])),
    );
    expect(found?.code).toBe(0);
    expect(JSON.parse(found?.stdout ?? '')).toMatchObject({ groupId, state: 'Stable', totalLag: '1' });
    expect(missing?.code).toBe(0);
    expect(`404 ${missing?.stdout ?? ''}`).toBe(curls[1]?.comment);
  });

  it('answers 404 GROUP_NOT_FOUND with the words of kafka-consumer-groups for a group that does not exist', async () => {
    const missing = uniqueName('no-such-group');
    const response = await fetch(`${offline.baseUrl}/groups/${missing}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'GROUP_NOT_FOUND', message: `Consumer group '${missing}' does not exist.` } });
  });
});

describe('GET /groups/{groupId} when Kafka cannot be reached', () => {
  it('answers 503 BROKER_UNAVAILABLE with Retry-After and no internals', async () => {
    const broker = `127.0.0.1:${await freePort()}`;
    const offline = await startOffline({ env: { KAFKA_BROKERS: broker } });
    onTestFinished(async () => {
      await offline.stop();
    });
    const response = await fetch(`${offline.baseUrl}/groups/my-app3`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: { code: 'BROKER_UNAVAILABLE', message: 'Kafka is not reachable right now; try again shortly' },
    });
  });
});
