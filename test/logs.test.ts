/**
 * Logs a person can read: the one Powertools logger prints one compact line per event on a terminal (or with
 * LOG_FORMAT=pretty) and Powertools' JSON otherwise; a broker outage prints one line per retry and one when
 * Kafka is back, with no kafkajs stack traces. The outage is real: a broker of this test's own, stopped and
 * started again with the code behind `npm run kafka:down` / `kafka:up`, under a real `npm run consume`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { kafkaDown, kafkaUp, optionsFromEnv } from '../scripts/local-kafka/index';
import { loadConfig } from '../lib/config';
import { ConfigError } from '../lib/errors';
import { chooseLogFormat, shortMemberId, terminalLine } from '../lib/log-format';
import { quietPagePolling } from '../plugins/offline-kafka/src/quiet-polling';
import { startConsumeCli, type Member } from './support/consume';
import { freePort, freePortPair } from './support/free-port';
import { startOffline, type Offline } from './support/offline';
import { REPO_ROOT, startProcess } from './support/processes';
import { uniqueName, withAdmin } from './support/kafka';
import { waitFor } from './support/wait';

describe('log format', () => {
  it('prints a processed record as time, level, message, topic-partition@offset and the rest as key=value', () => {
    const line = terminalLine(
      'INFO',
      'record processed',
      new Date(2026, 11, 1, 18, 9, 55, 952),
      {
        topic: 'payment-done',
        partition: 2,
        offset: 18175,
        key: 'user4',
        value: 'paid 40',
        groupId: 'my-app3',
        memberId: 'kafka-functions-8b8659a4-5d40-4f54-ab0c-92e8b446e119',
      },
      false,
    );
    expect(line).toBe('18:09:55.952 INFO  record processed payment-done-2@18175 key=user4 value="paid 40" group=my-app3 member=8b8659a4');
  });

  it('shows an error by its message, objects as compact JSON, and leaves out stack traces and per-process keys', () => {
    const line = terminalLine(
      'WARN',
      'batch failed',
      new Date(2026, 11, 1, 8, 0, 1, 2),
      {
        component: 'offline-kafka',
        error: { name: 'TypeError', message: 'bad input', stack: 'TypeError: bad input\n    at x (y.ts:1:1)' },
        assignment: { 'payment-done': [0, 1] },
        stack: 'Error\n    at z',
        attempt: 2,
      },
      false,
    );
    expect(line).toBe('08:00:01.002 WARN  batch failed error="TypeError: bad input" assignment={"payment-done":[0,1]} attempt=2');
  });

  it('is pretty on a terminal and JSON elsewhere unless LOG_FORMAT says which, and the config refuses any other LOG_FORMAT', () => {
    expect(chooseLogFormat(loadConfig({}).logFormat, true)).toBe('pretty');
    expect(chooseLogFormat(loadConfig({}).logFormat, false)).toBe('json');
    expect(chooseLogFormat(loadConfig({ LOG_FORMAT: 'json' }).logFormat, true)).toBe('json');
    expect(chooseLogFormat(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, false)).toBe('pretty');
    expect(chooseLogFormat(loadConfig({ LOG_FORMAT: '' }).logFormat, true)).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow("LOG_FORMAT: expected one of json, pretty, got 'yaml'");
  });

  it('shortens a member id to the first block of its UUID and leaves other ids alone', () => {
    expect(shortMemberId('kafka-functions-5f0c1a2b-0000-4000-8000-000000000000')).toBe('5f0c1a2b');
    expect(shortMemberId('some-member')).toBe('some-member');
  });
});

describe("serverless offline's request lines under npm start", () => {
  it("drop the live page's polling of /cluster/view and keep every other request's", () => {
    const written: string[] = [];
    const stream = { write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
    quietPagePolling(stream);
    for (const chunk of [
      '\n',
      '\n',
      'GET /cluster/view (λ: clusterView)\n',
      '(λ: clusterView) RequestId: 1f  Duration: 3.2 ms  Billed Duration: 4 ms\n',
      '\n',
      '\n',
      'POST /produce (λ: produce)\n',
      '(λ: produce) RequestId: 2e  Duration: 9.1 ms  Billed Duration: 10 ms\n',
    ]) {
      stream.write(chunk);
    }
    expect(written).toEqual([
      '\n',
      '\n',
      'POST /produce (λ: produce)\n',
      '(λ: produce) RequestId: 2e  Duration: 9.1 ms  Billed Duration: 10 ms\n',
    ]);
  });
});

describe('a LOG_FORMAT that is neither json nor pretty', () => {
  const refusal = "LOG_FORMAT: expected one of json, pretty, got 'yaml'";

  it('stops npm run consume at start with the config error naming LOG_FORMAT, exit code 2 and no stack trace', async () => {
    const member = startConsumeCli('bad-log-format', 'payment-done', uniqueName('bad-log-format'), [], { LOG_FORMAT: 'yaml' });
    expect(await member.process.exited).toBe(2);
    expect(member.process.stderr()).toContain(`consume: ${refusal}`);
    expect(member.process.output()).not.toMatch(/^\s+at /m);
    expect(member.process.output()).not.toContain('group joined');
  });

  it('stops serverless offline start before it serves, naming LOG_FORMAT', async () => {
    const workFolder = join('.esbuild', uniqueName('bad-log-format'));
    const offline = startProcess(
      'npx',
      ['serverless', 'offline', 'start', '--httpPort', String(await freePort()), '--lambdaPort', String(await freePort())],
      { FORCE_COLOR: '0', LOG_FORMAT: 'yaml', ESBUILD_WORK_FOLDER: workFolder },
    );
    onTestFinished(async () => {
      await offline.stop('SIGKILL', 5_000);
      rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
    });
    expect(await offline.exited).toBe(1);
    expect(offline.output()).toContain(`offline-kafka: ${refusal}`);
    expect(offline.output()).not.toContain('Server ready');
    expect(offline.output()).not.toMatch(/^\s+at /m);
  }, 90_000);
});

/** kafka:up/kafka:down options for a JVM broker of the test's own on `port` (quiet). */
const ownJvmBroker = (port: number) => optionsFromEnv({ KAFKA_PORT: String(port), KAFKA_MODE: 'jvm' }, () => undefined);

const PRETTY_LINE = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO|WARN|ERROR|CRITICAL) +\S/;

describe('a broker outage under a running member', () => {
  let port = 0;
  let member: Member | undefined;
  afterAll(async () => {
    await member?.process.stop('SIGKILL');
    if (port !== 0) await kafkaDown(ownJvmBroker(port), true);
  });

  it('prints one line per retry saying what it waits for, one when Kafka is back, and no stack traces', async () => {
    port = await freePortPair();
    const options = ownJvmBroker(port);
    await kafkaUp(options);
    const group = uniqueName('outage');
    // A fresh broker creates __consumer_offsets on first use; a member that asks before it is there is refused
    // for good ("Failed to find group coordinator"). kafkajs's admin waits for the coordinator with retries.
    await withAdmin((admin) => admin.describeGroups([group]), [`localhost:${port}`]);
    member = startConsumeCli('outage', 'payment-done', group, [], { KAFKA_BROKERS: `localhost:${port}`, LOG_FORMAT: 'pretty' });
    await member.process.waitForOutput(/INFO +group joined /, 60_000);

    await kafkaDown(options, false);
    const running = member;
    const retries = () => running.process.output().match(/WARN +kafka unreachable, member retrying .*$/gm) ?? [];
    await waitFor('two retry lines', () => retries().length >= 2, 60_000);
    await kafkaUp(options);
    const back = await member.process.waitForOutput(/INFO +kafka reachable again .*restarts=(\d+)/, 90_000);

    // kafkajs keeps the broker's address on its connection errors; a re-wrapped one says only "the cluster".
    for (const line of retries()) expect(line).toMatch(new RegExp(`waitingFor="(broker localhost:${port}|the cluster)"`));
    expect(retries().some((line) => line.includes(`waitingFor="broker localhost:${port}"`))).toBe(true);
    // One retry line per restart, as the member counted them.
    expect(retries().length).toBe(Number(back[1]));
    const lines = member.process
      .output()
      .split('\n')
      .filter((line) => line.trim() !== '');
    for (const line of lines) expect(line).toMatch(PRETTY_LINE);
    const text = member.process.output();
    expect(text).not.toMatch(/^\s+at /m);
    expect(text).not.toContain('Crash: ');
    expect(text).not.toContain('Restarting the consumer');
    expect(text).not.toContain('Failed to connect to seed broker');
    expect(text).not.toMatch(/ERROR +Connection error/);

    // npm passes the Ctrl-C on and reports it as its own exit; the member itself leaves the group.
    await member.process.stop('SIGINT');
    expect(member.process.output()).toMatch(/INFO +group left .*stoppedBecause=stopped/);
  }, 240_000);
});

describe('a broker that is down when serverless offline starts', () => {
  let port = 0;
  let offline: Offline | undefined;
  afterAll(async () => {
    await offline?.stop();
    if (port !== 0) await kafkaDown(ownJvmBroker(port), true);
  });

  it("prints one line per retry of the Kafka-triggered function's mapping and one when Kafka is back, then delivers", async () => {
    // Nothing listens on the port yet: offline starts with the shipped mapping on and its broker down.
    port = await freePortPair();
    offline = await startOffline({ env: { KAFKA_BROKERS: `localhost:${port}`, OFFLINE_KAFKA_ENABLED: 'true', LOG_FORMAT: 'pretty' } });
    const running = offline;
    // A broker that just came up may not have the topic yet (kafka:up creates it once the broker serves): a wait of its own.
    const retries = () =>
      running.process.output().match(/WARN +(kafka unreachable|topic not found), member retrying function=recordHandler .*$/gm) ?? [];
    await waitFor('two retry lines', () => retries().length >= 2, 60_000);
    expect((await fetch(`${running.baseUrl}/groups/payment-done-record-handler`)).status).toBe(503);

    const options = ownJvmBroker(port);
    await kafkaUp(options);
    const back = await running.process.waitForOutput(/INFO +kafka reachable again function=recordHandler .*restarts=(\d+)/, 90_000);
    await running.process.waitForOutput(/INFO +group joined function=recordHandler group=payment-done-record-handler /, 30_000);

    // Until Kafka answered, the mapping said it started (stdout) and then one retry line per attempt (stderr), nothing else.
    const messagesOf = (text: string) =>
      text
        .split('\n')
        .filter((line) => PRETTY_LINE.test(line) && line.includes(' function=recordHandler '))
        .map((line) => line.replace(/^\S+ +\S+ +/, '').split(' function=')[0]);
    const stdoutBeforeRecovery = running.process.stdout().split(/INFO +kafka reachable again /)[0] ?? '';
    expect(messagesOf(stdoutBeforeRecovery)).toEqual(['event source mapping started payment-done']);
    const retryMessage = (line: string) => /(kafka unreachable|topic not found), member retrying/.exec(line)?.[0];
    expect(messagesOf(running.process.stderr())).toEqual(retries().map(retryMessage));
    expect(retries().filter((line) => line.includes(`waitingFor="broker localhost:${port}"`)).length).toBeGreaterThanOrEqual(2);
    for (const [index, line] of retries().entries()) {
      // A fresh broker's group coordinator comes a moment after the broker: kafkajs then names no broker.
      const waitingFor = line.includes('kafka unreachable') ? `(broker localhost:${port}|the cluster)` : 'topic payment-done';
      expect(line).toMatch(new RegExp(`waitingFor="${waitingFor}"`));
      expect(line).toContain(`attempt=${index + 1} `);
      expect(line).toMatch(/retryInMs=\d+ /);
    }
    expect(retries().length).toBe(Number(back[1]));
    const text = running.process.output();
    expect(text).not.toMatch(/^\s+at /m);
    expect(text).not.toMatch(/member failed|group leaving|mapping member stopped/);

    // Back for good: a record produced now reaches the function.
    const response = await fetch(`${running.baseUrl}/produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'payment-done', messages: [{ key: 'user1', value: 'paid 10' }] }),
    });
    expect(response.status).toBe(200);
    await running.process.waitForOutput(/INFO +function invoked function=recordHandler .*outcome=success/, 30_000);
  }, 240_000);
});
