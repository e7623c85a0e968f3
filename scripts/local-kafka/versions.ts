/**
 * The Kafka releases kafka:up can run (KAFKA_VERSION, default 3.7.1, the tutorial's) and what differs
 * between them: the jars Maven fetches, the logging backend (reload4j in 3.x, log4j2 in 4.x) and the
 * classes behind each of Kafka's command-line tools (4.x moved most of them to `org.apache.kafka.tools.*`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KAFKA_HOME } from './paths';

export type KafkaLogging = 'reload4j' | 'log4j2';

export interface KafkaRelease {
  version: string;
  logging: KafkaLogging;
  /** Tool name (as in Kafka's bin/, without `.sh`) → main class. */
  tools: Readonly<Record<string, string>>;
  /** Tool name → the flag that takes a client properties file (security settings); none for kafka-storage. */
  clientConfigFlags: Readonly<Record<string, string>>;
}

export const DEFAULT_KAFKA_VERSION = '3.7.1';

const TOOLS_3_7: Record<string, string> = {
  'kafka-topics': 'org.apache.kafka.tools.TopicCommand',
  'kafka-console-producer': 'kafka.tools.ConsoleProducer',
  'kafka-console-consumer': 'kafka.tools.ConsoleConsumer',
  'kafka-consumer-groups': 'kafka.admin.ConsumerGroupCommand',
  'kafka-producer-perf-test': 'org.apache.kafka.tools.ProducerPerformance',
  'kafka-consumer-perf-test': 'org.apache.kafka.tools.ConsumerPerformance',
  'kafka-get-offsets': 'org.apache.kafka.tools.GetOffsetShell',
  'kafka-configs': 'kafka.admin.ConfigCommand',
  'kafka-delete-records': 'org.apache.kafka.tools.DeleteRecordsCommand',
  'kafka-leader-election': 'org.apache.kafka.tools.LeaderElectionCommand',
  'kafka-broker-api-versions': 'kafka.admin.BrokerApiVersionsCommand',
  'kafka-metadata-quorum': 'org.apache.kafka.tools.MetadataQuorumCommand',
  'kafka-storage': 'kafka.tools.StorageTool',
};

// As in Kafka 4.4.0's bin/ scripts (checked against the classes in the kafka_2.13 and kafka-tools jars).
const TOOLS_4_4: Record<string, string> = {
  ...TOOLS_3_7,
  'kafka-console-producer': 'org.apache.kafka.tools.ConsoleProducer',
  'kafka-console-consumer': 'org.apache.kafka.tools.consumer.ConsoleConsumer',
  'kafka-consumer-groups': 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
  'kafka-configs': 'org.apache.kafka.tools.ConfigCommand',
  'kafka-broker-api-versions': 'org.apache.kafka.tools.BrokerApiVersionsCommand',
};

const CONFIG_FLAGS_3_7: Record<string, string> = {
  'kafka-topics': '--command-config',
  'kafka-console-producer': '--producer.config',
  'kafka-console-consumer': '--consumer.config',
  'kafka-consumer-groups': '--command-config',
  'kafka-producer-perf-test': '--producer.config',
  'kafka-consumer-perf-test': '--consumer.config',
  'kafka-get-offsets': '--command-config',
  'kafka-configs': '--command-config',
  'kafka-delete-records': '--command-config',
  'kafka-leader-election': '--admin.config',
  'kafka-broker-api-versions': '--command-config',
  'kafka-metadata-quorum': '--command-config',
};

// 4.2 gave every tool --command-config (KIP-1147); the older names are deprecated there.
const CONFIG_FLAGS_4_4: Record<string, string> = Object.fromEntries(
  Object.keys(CONFIG_FLAGS_3_7).map((tool) => [tool, '--command-config']),
);

/** The releases this project runs and tests. Another release needs its tool classes checked and added here. */
export const KAFKA_RELEASES: Readonly<Record<string, KafkaRelease>> = {
  '3.7.1': { version: '3.7.1', logging: 'reload4j', tools: TOOLS_3_7, clientConfigFlags: CONFIG_FLAGS_3_7 },
  '4.4.0': { version: '4.4.0', logging: 'log4j2', tools: TOOLS_4_4, clientConfigFlags: CONFIG_FLAGS_4_4 },
};

/** The release KAFKA_VERSION names (default 3.7.1); any other value is an error that lists the choices. */
export function kafkaRelease(env: NodeJS.ProcessEnv = process.env): KafkaRelease {
  const asked = env.KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION;
  const release = KAFKA_RELEASES[asked];
  if (release === undefined) {
    throw new Error(`KAFKA_VERSION: expected one of ${Object.keys(KAFKA_RELEASES).join(', ')}, got '${asked}'`);
  }
  return release;
}

/** Each release's jars in a folder of their own, so switching KAFKA_VERSION never mixes two releases. */
export function jarsDir(release: KafkaRelease): string {
  return resolve(KAFKA_HOME, 'jars', release.version);
}

/** The Docker image of a release (docker-compose.yml and the test setup's testcontainers). */
export function dockerImage(release: KafkaRelease): string {
  return `apache/kafka:${release.version}`;
}

function write(file: string, lines: string[]): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * The JVM flag that points a tool at a logging config with root level WARN to stderr, as Kafka's own
 * tools-log4j.properties (3.x) and tools-log4j2.yaml (4.x) do: at INFO the tools print their whole
 * client config before their output.
 */
export function toolsLoggingFlag(release: KafkaRelease): string {
  if (release.logging === 'reload4j') {
    const file = write(join(KAFKA_HOME, 'tools-log4j.properties'), [
      'log4j.rootLogger=WARN, stderr',
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.appender.stderr.Target=System.err',
    ]);
    return `-Dlog4j.configuration=file:${file}`;
  }
  const file = write(join(KAFKA_HOME, 'tools-log4j2.properties'), [
    'status = warn',
    'appender.stderr.type = Console',
    'appender.stderr.name = STDERR',
    'appender.stderr.target = SYSTEM_ERR',
    'appender.stderr.layout.type = PatternLayout',
    'appender.stderr.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = WARN',
    'rootLogger.appenderRef.stderr.ref = STDERR',
  ]);
  return `-Dlog4j2.configurationFile=${file}`;
}

/**
 * Writes the broker's logging config into its instance folder (INFO to stdout, which kafka:up sends to
 * broker.log; the request and state-change loggers at WARN) and returns the JVM flag that points at it.
 */
export function brokerLoggingFlag(release: KafkaRelease, instanceDir: string): string {
  if (release.logging === 'reload4j') {
    const file = write(join(instanceDir, 'log4j.properties'), [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.request.logger=WARN',
      'log4j.logger.state.change.logger=WARN',
      'log4j.logger.kafka.log.LogCleaner=WARN',
    ]);
    return `-Dlog4j.configuration=file:${file}`;
  }
  const file = write(join(instanceDir, 'log4j2.properties'), [
    'status = warn',
    'appender.stdout.type = Console',
    'appender.stdout.name = STDOUT',
    'appender.stdout.layout.type = PatternLayout',
    'appender.stdout.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.stdout.ref = STDOUT',
    'logger.request.name = kafka.request.logger',
    'logger.request.level = WARN',
    'logger.statechange.name = state.change.logger',
    'logger.statechange.level = WARN',
    'logger.cleaner.name = kafka.log.LogCleaner',
    'logger.cleaner.level = WARN',
  ]);
  return `-Dlog4j2.configurationFile=${file}`;
}

const dataVersionFile = (instanceDir: string) => join(instanceDir, 'kafka-version');

/**
 * A broker's data is written in its release's format: a 4.x broker upgrades 3.x metadata for good, and a
 * 3.x broker cannot read 4.x data. So each instance remembers the release that formatted it, and starting
 * it with another KAFKA_VERSION is refused with the ways out.
 */
export function checkDataVersion(instanceDir: string, release: KafkaRelease, port: number): void {
  const file = dataVersionFile(instanceDir);
  if (!existsSync(file)) return;
  const written = readFileSync(file, 'utf8').trim();
  if (written === release.version) return;
  throw new Error(
    `the broker data in ${instanceDir} was written by Kafka ${written}, and KAFKA_VERSION asks for ${release.version}: ` +
      `run \`npm run kafka:down -- --wipe\` (deletes that data) or set KAFKA_PORT to another port (port ${port} now)`,
  );
}

export function recordDataVersion(instanceDir: string, release: KafkaRelease): void {
  write(dataVersionFile(instanceDir), [release.version]);
}

/** The release that formatted an instance's data, if it recorded one. */
export function dataVersion(instanceDir: string): string | undefined {
  const file = dataVersionFile(instanceDir);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/**
 * A broker of ours already runs `running` (the release that formatted its data): an explicit KAFKA_VERSION
 * that differs is an error; with KAFKA_VERSION unset the running broker is used as it is.
 */
export function checkRunningVersion(running: string | undefined, port: number, env: NodeJS.ProcessEnv = process.env): void {
  const asked = env.KAFKA_VERSION?.trim();
  if (!asked || running === undefined || running === asked) return;
  throw new Error(
    `Kafka ${running} already runs on port ${port}, and KAFKA_VERSION asks for ${asked}: ` +
      'stop it and delete its data with `npm run kafka:down -- --wipe` first, or set KAFKA_PORT to another port',
  );
}
