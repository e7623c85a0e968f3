/**
 * Provides a real Kafka broker to every test:
 *   1. KAFKA_BROKERS if set (an existing cluster);
 *   2. else testcontainers (apache/kafka:<KAFKA_VERSION>, default 3.7.1) when a container runtime answers;
 *   3. else that Kafka release on the JVM, through the same code as `npm run kafka:up`, on free ports of its own
 *      (so a broker you run on 9092 is left alone), wiped afterwards.
 * Tests read the brokers with inject('kafkaBrokers'); child processes get KAFKA_BROKERS in their env.
 */
import type { TestProject } from 'vitest/node';
import { kafkaUp, optionsFromEnv } from '../scripts/local-kafka/index';
import { stopJvmBroker } from '../scripts/local-kafka/jvm-broker';
import { KAFKA_HOME, stateFile } from '../scripts/local-kafka/paths';
import { processAlive } from '../scripts/local-kafka/processes';
import { dockerImage, kafkaRelease } from '../scripts/local-kafka/versions';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePortPair } from './support/free-port';

const say = (line: string) => console.log(`[kafka] ${line}`);

/** Marks a JVM test broker with the pid of the test run that owns it. */
const ownerFile = (port: number) => join(KAFKA_HOME, `test-broker-${port}.owner`);

/** Stops test brokers whose test run is gone (killed before its teardown ran) and deletes their data. */
async function reapOrphanedTestBrokers(): Promise<void> {
  if (!existsSync(KAFKA_HOME)) return;
  for (const name of readdirSync(KAFKA_HOME)) {
    const match = /^test-broker-(\d+)\.owner$/.exec(name);
    if (!match) continue;
    const port = Number(match[1]);
    const owner = Number(readFileSync(join(KAFKA_HOME, name), 'utf8'));
    if (processAlive(owner)) continue;
    say(`stopping the test broker on port ${port} left by an earlier run (pid ${owner} is gone)`);
    await stopJvmBroker(port, { wipe: true });
    rmSync(stateFile(port), { force: true });
    rmSync(ownerFile(port), { force: true });
  }
}

async function containerRuntimeAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  const timeout = new Promise<false>((resolveTimeout) => setTimeout(() => resolveTimeout(false), 15_000).unref());
  const probe = getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  return Promise.race([probe, timeout]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) {
    const brokers = fromEnv.split(',').map((broker) => broker.trim());
    say(`using the cluster in KAFKA_BROKERS: ${brokers.join(',')}`);
    await kafkaUp(optionsFromEnv(process.env, say));
    project.provide('kafkaBrokers', brokers);
    project.provide('kafkaMode', 'external');
    project.provide('kafkaPort', 0);
    return async () => undefined;
  }

  if (process.env.KAFKA_TEST_NO_CONTAINERS !== 'true' && (await containerRuntimeAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const port = await freePortPair();
    const image = dockerImage(kafkaRelease());
    say(`starting ${image} with testcontainers on port ${port}…`);
    // Kafka must advertise the address clients use, so the host port is fixed and equal to the container's.
    const container = await new GenericContainer(image)
      .withExposedPorts({ container: port, host: port })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_LISTENERS: `PLAINTEXT://:${port},CONTROLLER://:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://localhost:${port}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(180_000)
      .start();
    const brokers = [`localhost:${port}`];
    process.env.KAFKA_BROKERS = brokers.join(',');
    await kafkaUp(optionsFromEnv(process.env, say));
    project.provide('kafkaBrokers', brokers);
    project.provide('kafkaMode', 'testcontainers');
    project.provide('kafkaPort', port);
    return async () => {
      await container.stop();
    };
  }

  await reapOrphanedTestBrokers();
  const port = await freePortPair();
  say(`no KAFKA_BROKERS and no container runtime: starting Kafka on the JVM on port ${port}`);
  mkdirSync(KAFKA_HOME, { recursive: true });
  writeFileSync(ownerFile(port), String(process.pid));
  const options = optionsFromEnv({ ...process.env, KAFKA_PORT: String(port), KAFKA_MODE: 'jvm' }, say);
  const state = await kafkaUp(options);
  process.env.KAFKA_BROKERS = state.brokers.join(',');
  project.provide('kafkaBrokers', state.brokers);
  project.provide('kafkaMode', 'jvm');
  project.provide('kafkaPort', port);
  return async () => {
    say(`stopping the test broker on port ${port}`);
    await stopJvmBroker(port, { wipe: true });
    rmSync(stateFile(port), { force: true });
    rmSync(ownerFile(port), { force: true });
  };
}
