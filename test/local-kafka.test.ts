/**
 * kafka:up / kafka:down / kafka:status and the Kafka tools wrapper, run as users run them (npm scripts),
 * checked against what the broker reports.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { jvmBrokerPaths, runningJvmBrokerPid } from '../scripts/local-kafka/jvm-broker';
import { stateFile } from '../scripts/local-kafka/paths';
import { run } from '../scripts/local-kafka/processes';
import { freePortPair } from './support/free-port';
import { createTopic, readRecords, testKafka, uniqueName, withAdmin } from './support/kafka';
import { REPO_ROOT } from './support/processes';

/** Environment for a child that should see the suite's broker the way kafka:up would find it. */
function suiteBrokerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_MODE: '' };
  if (inject('kafkaMode') === 'jvm') {
    delete env.KAFKA_BROKERS;
    env.KAFKA_PORT = String(inject('kafkaPort'));
  }
  return env;
}

function npm(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 120_000) {
  return run('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, env, timeoutMs, ...(input === undefined ? {} : { input }) });
}

async function partitionCounts(topics: string[], brokers: string[]): Promise<Record<string, number>> {
  return withAdmin(async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics });
    return Object.fromEntries(metadata.topics.map(({ name, partitions }) => [name, partitions.length]));
  }, brokers);
}

describe('npm run kafka:up', () => {
  it('finds the running broker, exits 0 quickly, and the tutorial topics exist with 1 and 3 partitions', async () => {
    const started = Date.now();
    const result = await npm(['kafka:up'], suiteBrokerEnv());
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    if (inject('kafkaMode') === 'jvm') expect(result.stdout).toContain('already running');
    expect(result.stdout).toMatch(/Kafka serves at/);
    expect(await partitionCounts(['payment-done', 'quickstart-events'], inject('kafkaBrokers'))).toEqual({
      'payment-done': 3,
      'quickstart-events': 1,
    });
  });

  it("creates topics that a client which is not ours (Kafka's own kafka-topics, in Java) sees with 3 and 1 partitions", async () => {
    const described = await npm(
      [
        'kafka',
        '--',
        'kafka-topics',
        '--describe',
        '--topic',
        '^(payment-done|quickstart-events)$',
        '--bootstrap-server',
        inject('kafkaBrokers').join(','),
      ],
      process.env,
    );
    expect(described.code, described.stderr).toBe(0);
    const counts = Object.fromEntries(
      [...described.stdout.matchAll(/^Topic: (\S+)\tTopicId: \S+\tPartitionCount: (\d+)/gm)].map(([, topic, count]) => [
        topic,
        Number(count),
      ]),
    );
    expect(counts['payment-done']).toBe(3);
    expect(counts['quickstart-events']).toBe(1);
  });

  it("with KAFKA_BROKERS checks that cluster and leaves the local broker's state on KAFKA_PORT alone", async () => {
    const port = await freePortPair();
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: inject('kafkaBrokers').join(','), KAFKA_PORT: String(port) };
    delete env.KAFKA_MODE;
    const result = await npm(['kafka:up'], env);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('mode: existing cluster');
    expect(existsSync(stateFile(port))).toBe(false);
  });

  it('uses a Kafka that already serves on KAFKA_PORT and was not started by kafka:up, and says so', async () => {
    // A port of its own that holds a Kafka kafka:up did not start: a TCP relay to the suite's broker, which
    // answers Kafka's metadata request there (as the tutorial's `docker run -p 9092:9092 apache/kafka` would).
    const [host = 'localhost', brokerPort = '9092'] = (inject('kafkaBrokers')[0] ?? '').split(':');
    const sockets = new Set<Socket>();
    const relay: Server = createServer((socket) => {
      const upstream = connect(Number(brokerPort), host);
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    const port = await freePortPair();
    await new Promise<void>((resolveListen) => relay.listen(port, '127.0.0.1', resolveListen));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_PORT: String(port) };
      delete env.KAFKA_BROKERS;
      delete env.KAFKA_MODE;
      const result = await npm(['kafka:up'], env);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(`Kafka already serves at localhost:${port} (not started by kafka:up): using it`);
      expect(result.stdout).toMatch(/topics payment-done and quickstart-events are there|created topics/);
      expect(runningJvmBrokerPid(port)).toBeUndefined();
      expect(existsSync(stateFile(port))).toBe(false);
      const down = await npm(['kafka:down'], env);
      expect(down.code, down.stdout + down.stderr).toBe(0);
      expect(down.stdout).toContain(`no Kafka started by kafka:up is running on port ${port}`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolveClose) => relay.close(resolveClose));
    }
  });

  it.each(['127.0.0.1', '::1'])(
    'refuses a port taken on %s by something that is not Kafka, naming the port and the ways out',
    async (host) => {
      const port = await freePortPair();
      const squatter: Server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolveListen) => squatter.listen(port, host, resolveListen));
      try {
        const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_PORT: String(port), KAFKA_MODE: 'jvm' };
        delete env.KAFKA_BROKERS;
        const result = await npm(['kafka:up'], env);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`port ${port} is in use by a program that kafka:up did not start`);
        expect(result.stderr).toContain('it does not answer as Kafka');
        expect(result.stderr).toContain('KAFKA_PORT');
        expect(runningJvmBrokerPid(port)).toBeUndefined();
      } finally {
        await new Promise((resolveClose) => squatter.close(resolveClose));
      }
    },
  );

  it('names all three ways out when there is no cluster, no Docker engine and no Java', async () => {
    // A PATH that holds node and nothing else: no java, no docker.
    const onlyNode = mkdtempSync(join(tmpdir(), 'only-node-'));
    symlinkSync(process.execPath, join(onlyNode, 'node'));
    const env: NodeJS.ProcessEnv = { PATH: onlyNode, HOME: process.env.HOME, KAFKA_PORT: String(await freePortPair()) };
    const result = await run(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/kafka.ts', 'up'], {
      cwd: REPO_ROOT,
      env,
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('KAFKA_BROKERS');
    expect(result.stderr).toContain('Docker engine');
    expect(result.stderr).toContain('Java 17+');
  });

  it('rejects a malformed KAFKA_MODE, KAFKA_PORT or --brokers naming what is wrong', async () => {
    const badMode = await npm(['kafka:up'], { ...process.env, KAFKA_MODE: 'kubernetes' });
    expect(badMode.code).toBe(1);
    expect(badMode.stderr).toContain("KAFKA_MODE: expected one of external, docker, jvm, got 'kubernetes'");
    const badCount = await npm(['kafka:up', '--', '--brokers', '2'], { ...process.env, KAFKA_PORT: String(await freePortPair()) });
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain("--brokers: expected one of 1, 3, got '2'");
    const withCluster = await npm(['kafka:up', '--', '--brokers', '3'], {
      ...process.env,
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    });
    expect(withCluster.code).toBe(1);
    expect(withCluster.stderr).toContain('--brokers 3 starts a local cluster, but KAFKA_BROKERS names an existing one');
    const badPort = await npm(['kafka:status'], { ...process.env, KAFKA_PORT: 'abc' });
    expect(badPort.code).toBe(1);
    expect(badPort.stderr).toContain("KAFKA_PORT: expected a port number, got 'abc'");
  });
});

describe('a local broker from kafka:up, stopped with kafka:down and started again', () => {
  let port = 0;
  const env = (): NodeJS.ProcessEnv => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, KAFKA_PORT: String(port) };
    delete childEnv.KAFKA_BROKERS;
    delete childEnv.KAFKA_MODE;
    return childEnv;
  };

  afterAll(async () => {
    if (port !== 0) await npm(['kafka:down', '--', '--wipe'], env());
  });

  it('starts, serves, stops cleanly leaving no process, and comes back with its data', async () => {
    port = await freePortPair();
    const brokers = [`localhost:${port}`];

    const first = await npm(['kafka:up'], env(), undefined, 300_000);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('waiting for');
    expect(first.stdout).toContain('created topics: quickstart-events, payment-done');
    const pid = runningJvmBrokerPid(port);
    if (inject('kafkaMode') === 'jvm') expect(pid).toBeGreaterThan(0);

    const status = await npm(['kafka:status'], env());
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`serving at localhost:${port}`);

    const producer = testKafka(brokers).producer();
    await producer.connect();
    await producer.send({ topic: 'payment-done', messages: [{ key: 'user1', value: 'kept across restarts' }] });
    await producer.disconnect();

    const down = await npm(['kafka:down'], env());
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(runningJvmBrokerPid(port)).toBeUndefined();
    if (pid !== undefined) expect(existsSync(`/proc/${pid}`)).toBe(false);
    const statusDown = await npm(['kafka:status'], env());
    expect(statusDown.code).toBe(1);
    expect(statusDown.stdout).toContain('not serving');

    const again = await npm(['kafka:up'], env(), undefined, 300_000);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('topics payment-done and quickstart-events are there');
    const records = await readRecords('payment-done', 1, 30_000, brokers);
    expect(records.map(({ key, value }) => ({ key, value }))).toEqual([{ key: 'user1', value: 'kept across restarts' }]);

    const wiped = await npm(['kafka:down', '--', '--wipe'], env());
    expect(wiped.code).toBe(0);
    expect(existsSync(jvmBrokerPaths(port).dir)).toBe(false);
    port = 0;
    // Two broker starts: bounded like the kafka:up runs inside it, not by the suite's 120 s default.
  }, 600_000);
});

describe('npm run kafka -- <tool>', () => {
  it('creates and describes a topic with the real kafka-topics, verbatim after the prefix', async () => {
    const topic = uniqueName('cli-topic');
    const bootstrap = inject('kafkaBrokers').join(',');
    const created = await npm(
      ['kafka', '--', 'kafka-topics.sh', '--create', '--topic', topic, '--partitions', '2', '--bootstrap-server', bootstrap],
      process.env,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`Created topic ${topic}.`);

    const described = await npm(
      ['kafka', '--', 'kafka-topics', '--describe', '--topic', topic, '--bootstrap-server', bootstrap],
      process.env,
    );
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toContain('PartitionCount: 2');
    expect(await partitionCounts([topic], inject('kafkaBrokers'))).toEqual({ [topic]: 2 });
  });

  it('passes standard input to the console producer and the console consumer reads it back', async () => {
    const topic = await createTopic(uniqueName('cli-roundtrip'), 1);
    const bootstrap = inject('kafkaBrokers').join(',');
    const produced = await npm(
      [
        'kafka',
        '--',
        'kafka-console-producer',
        '--topic',
        topic,
        '--bootstrap-server',
        bootstrap,
        '--property',
        'parse.key=true',
        '--property',
        'key.separator=:',
      ],
      process.env,
      'user1:hi there\nuser2:second line\n',
    );
    expect(produced.code, produced.stderr).toBe(0);

    const consumed = await npm(
      [
        'kafka',
        '--',
        'kafka-console-consumer.sh',
        '--topic',
        topic,
        '--from-beginning',
        '--bootstrap-server',
        bootstrap,
        '--max-messages',
        '2',
        '--timeout-ms',
        '30000',
        '--property',
        'print.key=true',
      ],
      process.env,
    );
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.trim().split('\n')).toEqual(['user1\thi there', 'user2\tsecond line']);
    const records = await readRecords(topic, 2);
    expect(records.map(({ key, value }) => `${key}:${value}`)).toEqual(['user1:hi there', 'user2:second line']);
  });

  it('names the known tools for an unknown one', async () => {
    const result = await npm(['kafka', '--', 'kafka-frobnicate'], process.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown Kafka tool 'kafka-frobnicate'");
    expect(result.stderr).toContain('kafka-consumer-groups');
  });
});
