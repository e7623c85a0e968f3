/**
 * The offline-kafka plugin under the real `serverless offline start` against the real broker: one service
 * (test/fixtures/offline-kafka/service.yml) holds every kind of Kafka-triggered function, so one offline
 * instance serves all checks; each function has its own topic and consumer group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/free-port';
import { startOffline, type Offline } from './support/offline';
import { committedOffsets, endOffsets, readRecords, sendRecords, testBrokers, uniqueName, withAdmin } from './support/kafka';
import { createServedTopics, fixtureRecords, jsonLines, receivedRecords, serviceFile, startTcpProxy } from './support/offline-kafka';
import { waitFor } from './support/wait';

const SERVICE = 'offline-kafka-test-test';
const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/fixture/11111111-2222-3333-4444-555555555555-1';

const topics = {
  recorder: uniqueName('ok-recorder'),
  selfManaged: uniqueName('ok-self'),
  throwsOnce: uniqueName('ok-throws'),
  timesOutOnce: uniqueName('ok-timeout'),
  alwaysThrows: uniqueName('ok-always-throws'),
  disabled: uniqueName('ok-disabled'),
  filtered: uniqueName('ok-filtered'),
  latest: uniqueName('ok-latest'),
  atTimestamp: uniqueName('ok-timestamp'),
};
const recorderGroup = uniqueName('ok-recorder-group');
/** The plugin's local default group: `<service>-<stage>-<function>-<topic>`. */
const defaultGroup = (fn: keyof typeof topics) => `${SERVICE}-${fn}-${topics[fn]}`;
const groups = {
  recorder: recorderGroup,
  selfManaged: defaultGroup('selfManaged'),
  throwsOnce: defaultGroup('throwsOnce'),
  timesOutOnce: defaultGroup('timesOutOnce'),
  filtered: defaultGroup('filtered'),
  latest: defaultGroup('latest'),
  atTimestamp: defaultGroup('atTimestamp'),
};

let offline: Offline;
let service: ReturnType<typeof serviceFile>;
let stateDir: string;
let proxyPort: number;
let proxy: { close: () => Promise<void> } | undefined;
let env: NodeJS.ProcessEnv;

async function produceOverHttp(topic: string, messages: { key?: string; value: unknown; headers?: Record<string, string> }[]) {
  const response = await fetch(`${offline.baseUrl}/produce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, messages }),
  });
  const body = await response.text();
  expect(response.status, `${body}\n${offline.process.output().slice(-3000)}`).toBe(200);
}

/** Waits until the group's committed offsets equal the topic's end offsets on every partition. */
async function waitForCommitted(group: string, topic: string, timeoutMs = 30_000) {
  return waitFor(
    `group ${group} to commit to the end of ${topic}`,
    async () => {
      const [ends, committed] = await Promise.all([endOffsets(topic), committedOffsets(group, topic)]);
      return [...ends].every(([partition, end]) => end === '0' || committed.get(partition) === Number(end)) && ends;
    },
    timeoutMs,
    300,
  );
}

function invocations(output: string, fn: string) {
  return jsonLines(output).filter((line) => line.message === 'function invoked' && line.function === fn);
}

function recordIds(records: { partition: number; offset: number | string }[]): string[] {
  return records.map(({ partition, offset }) => `${partition}@${offset}`).sort();
}

function joinedGroup(output: string, group: string): boolean {
  return jsonLines(output).some((line) => line.message === 'group joined' && line.groupId === group);
}

async function startService(): Promise<Offline> {
  const started = await startOffline({ env, args: ['--config', service.config] });
  return started;
}

describe('Kafka-triggered functions under serverless offline (offline-kafka plugin)', () => {
  const oldTimestamp = String(Date.now() - 120_000);
  const atTimestampSeconds = Math.floor((Date.now() - 60_000) / 1000);

  beforeAll(async () => {
    await createServedTopics(Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })));
    // Before the mappings exist: LATEST must skip these, AT_TIMESTAMP must skip the old-stamped ones.
    await sendRecords(topics.latest, [
      { key: 'a', value: 'before-1' },
      { key: 'b', value: 'before-2' },
    ]);
    await sendRecords(topics.atTimestamp, [
      { key: 'a', value: 'old-1', timestamp: oldTimestamp },
      { key: 'b', value: 'old-2', timestamp: oldTimestamp },
      { key: 'c', value: 'new-1' },
      { key: 'd', value: 'new-2' },
    ]);
    stateDir = mkdtempSync(join(tmpdir(), 'offline-kafka-'));
    proxyPort = await freePort();
    service = serviceFile('service');
    env = {
      FIXTURE_STATE_DIR: stateDir,
      PROXY_PORT: String(proxyPort),
      PRODUCE_TOPICS: Object.values(topics).join(','),
      TOPIC_RECORDER: topics.recorder,
      GROUP_RECORDER: recorderGroup,
      TOPIC_SELF: topics.selfManaged,
      TOPIC_THROWS: topics.throwsOnce,
      TOPIC_TIMEOUT: topics.timesOutOnce,
      TOPIC_ALWAYS_THROWS: topics.alwaysThrows,
      TOPIC_DISABLED: topics.disabled,
      TOPIC_FILTERED: topics.filtered,
      TOPIC_LATEST: topics.latest,
      TOPIC_AT_TIMESTAMP: topics.atTimestamp,
      AT_TIMESTAMP_SECONDS: String(atTimestampSeconds),
      CONSUME_RETRY_BACKOFF_MS: '200',
    };
    offline = await startService();
    // Every mapping whose brokers answer joins its group after offline is ready.
    for (const group of [
      defaultGroup('alwaysThrows'),
      groups.recorder,
      groups.throwsOnce,
      groups.timesOutOnce,
      groups.filtered,
      groups.latest,
      groups.atTimestamp,
    ]) {
      await waitFor(`group ${group} joined`, () => joinedGroup(offline.process.output(), group), 30_000);
    }
  });

  afterAll(async () => {
    await offline?.stop();
    await proxy?.close();
    service?.remove();
    if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts each enabled mapping once offline is ready and logs it with its function, type, topic, group and members', () => {
    const output = offline.process.output();
    const started = jsonLines(output).filter((line) => line.message === 'event source mapping started');
    expect(started.map((line) => line.function).sort()).toEqual([
      'alwaysThrows',
      'atTimestamp',
      'filtered',
      'latest',
      'recorder',
      'selfManaged',
      'throwsOnce',
      'timesOutOnce',
    ]);
    expect(started.find((line) => line.function === 'recorder')).toMatchObject({
      eventType: 'msk',
      topic: topics.recorder,
      groupId: recorderGroup,
      members: 1,
      batchSize: 10,
      batchWindowMs: 0,
    });
    expect(started.find((line) => line.function === 'throwsOnce')).toMatchObject({ batchSize: 100, startingPosition: 'TRIM_HORIZON' });
  });

  it("keeps serving HTTP while a kafka event's brokers are down, and that mapping joins by itself once they answer", async () => {
    await waitFor(
      'the self-managed mapping to retry',
      () =>
        jsonLines(offline.process.output()).some(
          (line) =>
            line.message === 'kafka unreachable, member retrying' &&
            line.function === 'selfManaged' &&
            line.waitingFor === `broker localhost:${proxyPort}`,
        ),
      20_000,
    );
    const ping = await fetch(`${offline.baseUrl}/ping`);
    expect(ping.status).toBe(200);
    expect(joinedGroup(offline.process.output(), groups.selfManaged)).toBe(false);

    proxy = await startTcpProxy(proxyPort, testBrokers()[0] ?? 'localhost:9092');
    await waitFor('the self-managed mapping to join', () => joinedGroup(offline.process.output(), groups.selfManaged), 20_000);
    await produceOverHttp(topics.selfManaged, [
      { key: 'k1', value: 'one' },
      { key: 'k2', value: 'two' },
    ]);
    const records = await waitFor('2 records through the kafka event', () => {
      const found = fixtureRecords(offline.process.output(), topics.selfManaged);
      return found.length >= 2 && found;
    });
    for (const record of records) {
      expect(record).toMatchObject({
        function: 'selfManaged',
        eventSource: 'SelfManagedKafka',
        bootstrapServers: `localhost:${proxyPort}`,
      });
      expect(record.eventSourceArn).toBeUndefined();
    }
    expect(records.map((record) => record.value).sort()).toEqual(['one', 'two']);
  });

  it(
    'delivers records produced over HTTP to an msk-triggered function ' + 'exactly once, in the event AWS sends, and commits them',
    async () => {
      const messages = Array.from({ length: 30 }, (_, index) => ({
        key: `key-${index % 6}`,
        value: { n: index },
        headers: { source: 'test' },
      }));
      await produceOverHttp(topics.recorder, messages.slice(0, 15));
      await produceOverHttp(topics.recorder, messages.slice(15));
      await waitForCommitted(recorderGroup, topics.recorder);
      const delivered = receivedRecords(stateDir, topics.recorder);
      const expected = await readRecords(topics.recorder, 30);

      expect(recordIds(delivered)).toEqual(recordIds(expected));
      expect(new Set(recordIds(delivered)).size).toBe(30);
      for (const record of delivered) {
        const read = expected.find(({ partition, offset }) => partition === record.partition && Number(offset) === record.offset);
        expect(record).toMatchObject({
          function: 'recorder',
          eventSource: 'aws:kafka',
          eventSourceArn: ARN,
          bootstrapServers: testBrokers().join(','),
          recordsKey: `${topics.recorder}-${record.partition}`,
          key: read?.key,
          value: read?.value,
        });
        expect(record.headers).toEqual([{ source: [...Buffer.from('test')] }]);
      }
      // In offset order per partition.
      for (const partition of [0, 1, 2]) {
        const offsets = delivered.filter((record) => record.partition === partition).map((record) => record.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
      const calls = invocations(offline.process.output(), 'recorder');
      expect(calls.every((call) => call.outcome === 'success' && Number(call.records) <= 10)).toBe(true);
      expect(calls.reduce((sum, call) => sum + Number(call.records), 0)).toBe(30);
      expect(calls[0]).toHaveProperty('firstOffset');
      expect(calls[0]).toHaveProperty('durationMs');
    },
  );

  it('gives a batch whose function threw to the function again, then commits it', async () => {
    await produceOverHttp(topics.throwsOnce, [
      { key: 'a', value: 'x1' },
      { key: 'b', value: 'x2' },
      { key: 'c', value: 'x3' },
    ]);
    await waitForCommitted(groups.throwsOnce, topics.throwsOnce);
    const output = offline.process.output();
    const calls = invocations(output, 'throwsOnce');
    expect(calls.some((call) => call.outcome === 'error' && String(call.error).includes('failing this batch once'))).toBe(true);
    expect(calls.filter((call) => call.outcome === 'success').reduce((sum, call) => sum + Number(call.records), 0)).toBe(3);
    expect(
      jsonLines(output).some((line) => line.message === 'batch failed' && line.groupId === groups.throwsOnce && line.attempt === 1),
    ).toBe(true);
    expect(recordIds(receivedRecords(stateDir, topics.throwsOnce))).toHaveLength(3);
  });

  it('gives a batch whose function ran past its timeout to the function again, then commits it', async () => {
    await produceOverHttp(topics.timesOutOnce, [
      { key: 'a', value: 't1' },
      { key: 'b', value: 't2' },
    ]);
    await waitForCommitted(groups.timesOutOnce, topics.timesOutOnce);
    const output = offline.process.output();
    const calls = invocations(output, 'timesOutOnce');
    const timedOut = calls.find((call) => call.outcome === 'timeout');
    expect(timedOut).toBeDefined();
    // The function's `timeout: 1` is enforced by serverless-offline's runner.
    expect(Number(timedOut?.durationMs)).toBeGreaterThanOrEqual(900);
    expect(Number(timedOut?.durationMs)).toBeLessThan(4_000);
    expect(calls.filter((call) => call.outcome === 'success').reduce((sum, call) => sum + Number(call.records), 0)).toBe(2);
    expect(
      receivedRecords(stateDir, topics.timesOutOnce)
        .map((record) => record.value)
        .sort(),
    ).toEqual(['t1', 't2']);
  });

  it(
    "keeps retrying a batch whose function keeps failing (AWS's default: infinite retries), keeping its offset, " +
      'while HTTP keeps serving',
    async () => {
      await produceOverHttp(topics.alwaysThrows, [{ key: 'a', value: 'poison' }]);
      await waitFor(
        'three failed invocations of alwaysThrows',
        () => invocations(offline.process.output(), 'alwaysThrows').filter((call) => call.outcome === 'error').length >= 3,
        20_000,
      );
      const retries = jsonLines(offline.process.output()).filter(
        (line) => line.message === 'batch failed' && line.groupId === defaultGroup('alwaysThrows'),
      );
      expect(retries.every((line) => line.of === 'infinite')).toBe(true);
      expect(invocations(offline.process.output(), 'alwaysThrows').every((call) => call.outcome === 'error')).toBe(true);
      const committed = await committedOffsets(defaultGroup('alwaysThrows'), topics.alwaysThrows);
      expect([...committed.values()]).toEqual([-1, -1, -1]);
      expect((await fetch(`${offline.baseUrl}/ping`)).status).toBe(200);
    },
  );

  it('passes only records matching filterPatterns to the function and commits the others too', async () => {
    await produceOverHttp(topics.filtered, [
      { key: 'a', value: { amount: 150 } },
      { key: 'b', value: { amount: 5 } },
      { key: 'c', value: 'keep this' },
      { key: 'd', value: 'drop this' },
      { key: 'e', value: { amount: 101, note: 'x' } },
      { key: 'f', value: { other: 1 } },
    ]);
    await waitForCommitted(groups.filtered, topics.filtered);
    const delivered = receivedRecords(stateDir, topics.filtered)
      .map((record) => record.value)
      .sort();
    expect(delivered).toEqual(['keep this', '{"amount":101,"note":"x"}', '{"amount":150}'].sort());
  });

  it('starts a LATEST mapping after the records that were there before it joined', async () => {
    await produceOverHttp(topics.latest, [
      { key: 'a', value: 'after-1' },
      { key: 'b', value: 'after-2' },
    ]);
    await waitForCommitted(groups.latest, topics.latest);
    expect(
      receivedRecords(stateDir, topics.latest)
        .map((record) => record.value)
        .sort(),
    ).toEqual(['after-1', 'after-2']);
  });

  it('starts an AT_TIMESTAMP mapping at the first records stamped at or after startingPositionTimestamp', async () => {
    await waitForCommitted(groups.atTimestamp, topics.atTimestamp);
    expect(
      receivedRecords(stateDir, topics.atTimestamp)
        .map((record) => record.value)
        .sort(),
    ).toEqual(['new-1', 'new-2']);
  });

  it('starts nothing for an event with enabled: false', async () => {
    expect(
      jsonLines(offline.process.output()).some((line) => line.message === 'event source mapping disabled' && line.function === 'disabled'),
    ).toBe(true);
    const { groups: described } = await withAdmin((admin) => admin.describeGroups([defaultGroup('disabled')]));
    expect(described[0]?.members).toHaveLength(0);
    expect(described[0]?.state).toBe('Dead');
  });

  it(
    'leaves every group on Ctrl-C before offline exits, so the broker shows them Empty at once; started again it loses ' +
      'nothing and delivers nothing twice: it resumes from the committed offsets',
    async () => {
      // What the other mappings had delivered and committed before the stop, so a redelivery would show.
      await waitForCommitted(groups.throwsOnce, topics.throwsOnce);
      await waitForCommitted(groups.filtered, topics.filtered);
      const deliveredBefore = {
        throwsOnce: receivedRecords(stateDir, topics.throwsOnce).length,
        filtered: receivedRecords(stateDir, topics.filtered).length,
      };
      // Acknowledged by /produce just before Ctrl-C: these must not be lost (checked after the restart).
      await produceOverHttp(
        topics.recorder,
        Array.from({ length: 10 }, (_, index) => ({ key: `s${index}`, value: `at-stop-${index}` })),
      );
      const started = Date.now();
      await offline.stop();
      await waitFor(
        'every member to log "group left"',
        () => {
          const left = jsonLines(offline.process.output()).filter(
            (line) => line.message === 'group left' && line.stoppedBecause === 'stopped',
          );
          return Object.values(groups).every((group) => left.some((line) => line.groupId === group));
        },
        10_000,
      );
      const { groups: described } = await withAdmin((admin) => admin.describeGroups(Object.values(groups)));
      for (const group of described) {
        expect({ group: group.groupId, state: group.state, members: group.members.length }).toEqual({
          group: group.groupId,
          state: 'Empty',
          members: 0,
        });
      }
      // Well within the 10 s session timeout: the members left, the broker did not have to expire them.
      expect(Date.now() - started).toBeLessThan(8_000);

      // Started again after two more records were written while it was stopped.
      await sendRecords(topics.recorder, [
        { key: 'r1', value: 'while-stopped-1' },
        { key: 'r2', value: 'while-stopped-2' },
      ]);
      offline = await startService();
      await waitForCommitted(recorderGroup, topics.recorder);
      // Both runs, as the function received them (its stdout may be cut off at an exit, its file is not).
      const both = receivedRecords(stateDir, topics.recorder);
      const inTopic = [...(await endOffsets(topics.recorder)).values()].reduce((sum, end) => sum + Number(end), 0);
      const expected = await readRecords(topics.recorder, inTopic);
      expect(recordIds(both)).toEqual(recordIds(expected));
      expect(both.map((record) => record.value)).toEqual(
        expect.arrayContaining(['at-stop-0', 'at-stop-9', 'while-stopped-1', 'while-stopped-2']),
      );
      // Nothing of the first run came again on the other topics whose groups had committed.
      await waitForCommitted(groups.throwsOnce, topics.throwsOnce);
      await waitForCommitted(groups.filtered, topics.filtered);
      expect(receivedRecords(stateDir, topics.throwsOnce)).toHaveLength(deliveredBefore.throwsOnce);
      expect(receivedRecords(stateDir, topics.filtered)).toHaveLength(deliveredBefore.filtered);
    },
  );
});
