/**
 * The environment, read once into a typed, validated config. A missing or malformed variable fails at
 * start-up with a ConfigError naming the variable. Every module takes its settings from here.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { ConfigError, errorMessage } from './errors';
import {
  AWS_DEFAULT_ERROR_HANDLING,
  checkErrorHandling,
  type ErrorHandling,
  MAX_RECORD_AGE_SECONDS,
  MAX_RETRY_ATTEMPTS,
  parseFailureDestination,
} from './consumer/delivery-policy';
import { LOG_FORMATS, type LogFormat } from './log-format';
import { PARTITIONER_NAMES, type PartitionerName } from './produce/partitioners';
import { isGroupName, isHostPort, isTopicName, registryUrlProblem } from './validation';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaConnectionConfig {
  /** KAFKA_BROKERS (comma list), else localhost:KAFKA_PORT (9092). */
  brokers: string[];
  clientId: string;
  ssl: boolean;
  /** KAFKA_SSL_CA_FILE: a PEM file of the CA(s) that signed the brokers' certificates (a private CA), else Node's. */
  sslCaFile: string | undefined;
  sasl: { mechanism: SaslMechanism; username: string; password: string } | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Retries of a failed request before it is reported; kept small so a broker that is down fails fast. */
  retries: number;
}

export interface ProduceConfig {
  /** Topics /produce may write to (PRODUCE_TOPICS). Internal topics (`__*`) are always refused. */
  allowedTopics: string[];
  maxMessages: number;
  maxBodyBytes: number;
  /** How long a publish may take before it is answered 503 (PRODUCE_TIMEOUT_MS). */
  timeoutMs: number;
  /** `default` (Java client's murmur2) or `vip-users` (the shipped custom strategy example). */
  partitioner: PartitionerName;
  /** When set, /produce requires this value in `x-api-key` (PRODUCE_API_KEY). */
  apiKey: string | undefined;
}

export interface ConsumeConfig {
  /** Lambda BatchSize (1..10000, default 100). */
  batchSize: number;
  /** Lambda MaximumBatchingWindowInSeconds × 1000 (0 allowed, default 500). */
  batchWindowMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /**
   * AWS's error-handling controls for Kafka event sources, with AWS's defaults: CONSUME_MAXIMUM_RETRY_ATTEMPTS,
   * CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS, CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR, CONSUME_FUNCTION_RESPONSE_TYPES,
   * CONSUME_ON_FAILURE_DESTINATION.
   */
  errorHandling: ErrorHandling;
  /** Wait before the first retry; doubled for each further retry (at most 60 s). AWS does not say its own. */
  retryBackoffMs: number;
  /** Where SQS/SNS/S3 on-failure destinations are written locally (CONSUME_DESTINATIONS_DIR). */
  destinationsDir: string;
  /** How long one consume invocation runs when its input names no duration (CONSUME_DURATION_SECONDS). */
  durationSeconds: number;
  /** Module whose `processRecords`/`handler` receives the batches instead of functions/record-handler (CONSUME_HANDLER). */
  handlerModule: string | undefined;
  /** When set, batches are MSK events (`aws:kafka`) with this ARN; else `SelfManagedKafka` (CONSUME_EVENT_SOURCE_ARN). */
  eventSourceArn: string | undefined;
}

export interface SchemaRegistryConfig {
  /** Base URL of a Confluent-compatible registry: SCHEMA_REGISTRY_URL, else the local one (`npm run registry:up`). */
  url: string;
  /** True when SCHEMA_REGISTRY_URL names a registry the user runs (registry:up then starts nothing). */
  external: boolean;
  /** Port of the local registry (SCHEMA_REGISTRY_PORT, default 8081, Confluent's). */
  port: number;
  /** How long one registry request may take before it counts as unreachable (SCHEMA_REGISTRY_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface Config {
  kafka: KafkaConnectionConfig;
  schemaRegistry: SchemaRegistryConfig;
  /** The tutorial's topic and consumer group. */
  defaultTopic: string;
  defaultGroupId: string;
  produce: ProduceConfig;
  consume: ConsumeConfig;
  /** LOG_FORMAT (json or pretty); undefined: pretty on a terminal, else JSON (lib/log-format.ts). */
  logFormat: LogFormat | undefined;
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${value}`);
  return value;
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got '${raw}'`);
}

function readChoice<T extends string>(env: Env, name: string, fallback: T, choices: readonly T[]): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const found = choices.find((choice) => choice === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(name, `expected one of ${choices.join(', ')}, got '${raw}'`);
  return found;
}

function readBrokers(env: Env): string[] {
  const raw = read(env, 'KAFKA_BROKERS');
  if (raw === undefined) return [`localhost:${readInt(env, 'KAFKA_PORT', 9092, 1, 65535)}`];
  const brokers = raw
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const bad = brokers.find((broker) => !isHostPort(broker));
  if (brokers.length === 0 || bad !== undefined) {
    throw new ConfigError('KAFKA_BROKERS', `expected a comma-separated list of host:port, got '${raw}'`);
  }
  return brokers;
}

function readTopic(env: Env, name: string, fallback: string): string {
  const topic = read(env, name) ?? fallback;
  if (!isTopicName(topic)) {
    throw new ConfigError(name, `'${topic}' is not a valid Kafka topic name`);
  }
  return topic;
}

function readSasl(env: Env): KafkaConnectionConfig['sasl'] {
  const mechanism = read(env, 'KAFKA_SASL_MECHANISM');
  if (mechanism === undefined) return undefined;
  const chosen = readChoice<SaslMechanism>(env, 'KAFKA_SASL_MECHANISM', 'plain', ['plain', 'scram-sha-256', 'scram-sha-512']);
  const username = read(env, 'KAFKA_SASL_USERNAME');
  const password = read(env, 'KAFKA_SASL_PASSWORD');
  if (username === undefined) throw new ConfigError('KAFKA_SASL_USERNAME', `required when KAFKA_SASL_MECHANISM is ${mechanism}`);
  if (password === undefined) throw new ConfigError('KAFKA_SASL_PASSWORD', `required when KAFKA_SASL_MECHANISM is ${mechanism}`);
  return { mechanism: chosen, username, password };
}

/** LOG_FORMAT: json or pretty, or undefined when unset. lib/logger.ts reads it too, before the config is loaded. */
export function readLogFormat(env: Env): LogFormat | undefined {
  const raw = read(env, 'LOG_FORMAT');
  return raw === undefined ? undefined : readChoice<LogFormat>(env, 'LOG_FORMAT', 'json', LOG_FORMATS);
}

/** Confluent's default port, so a client set up for a local Confluent registry finds the local one. */
export const LOCAL_SCHEMA_REGISTRY_PORT = 8081;
/** Where the local registry (Apicurio) serves Confluent's API; Confluent's own registry serves it at the root. */
export const CONFLUENT_COMPAT_PATH = '/apis/ccompat/v7';

export function localSchemaRegistryUrl(port: number): string {
  return `http://127.0.0.1:${port}${CONFLUENT_COMPAT_PATH}`;
}

function readSchemaRegistry(env: Env): SchemaRegistryConfig {
  const port = readInt(env, 'SCHEMA_REGISTRY_PORT', LOCAL_SCHEMA_REGISTRY_PORT, 1, 65535);
  const timeoutMs = readInt(env, 'SCHEMA_REGISTRY_TIMEOUT_MS', 3_000, 100, 60_000);
  const raw = read(env, 'SCHEMA_REGISTRY_URL');
  if (raw === undefined) return { url: localSchemaRegistryUrl(port), external: false, port, timeoutMs };
  const problem = registryUrlProblem(raw);
  if (problem !== undefined) throw new ConfigError('SCHEMA_REGISTRY_URL', problem);
  return { url: raw.replace(/\/+$/, ''), external: true, port, timeoutMs };
}

/** KAFKA_SSL_CA_FILE: must name a readable file, and only makes sense with KAFKA_SSL=true. */
function readCaFile(env: Env, ssl: boolean): string | undefined {
  const file = read(env, 'KAFKA_SSL_CA_FILE');
  if (file === undefined) return undefined;
  if (!ssl) throw new ConfigError('KAFKA_SSL_CA_FILE', 'is set but KAFKA_SSL is not true: set KAFKA_SSL=true to use TLS');
  try {
    if (!statSync(file).isFile()) throw new ConfigError('KAFKA_SSL_CA_FILE', `'${file}' is not a file`);
    accessSync(file, constants.R_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError('KAFKA_SSL_CA_FILE', `cannot read '${file}' (${code === 'ENOENT' ? 'no such file' : (code ?? String(error))})`);
  }
  return file;
}

function readArn(env: Env, name: string): string | undefined {
  const arn = read(env, name);
  if (arn !== undefined && !/^arn:[^:\s]+:kafka:/.test(arn))
    throw new ConfigError(name, `expected an MSK cluster ARN (arn:aws:kafka:…), got '${arn}'`);
  return arn;
}

/** The consume function's error-handling controls, named as AWS names them; the replaced variables are refused. */
function readErrorHandling(env: Env): ErrorHandling {
  const replaced: [string, string][] = [
    ['CONSUME_MAX_ATTEMPTS', 'CONSUME_MAXIMUM_RETRY_ATTEMPTS (retries after the first attempt; -1, the default, is infinite)'],
    ['CONSUME_ON_FAILURE', 'CONSUME_ON_FAILURE_DESTINATION (kafka://<topic> or an SQS, SNS or S3 ARN)'],
    ['CONSUME_DEAD_LETTER_TOPIC', 'CONSUME_ON_FAILURE_DESTINATION=kafka://<topic>'],
  ];
  for (const [old, replacement] of replaced) {
    if (read(env, old) !== undefined) throw new ConfigError(old, `no longer read: use ${replacement}`);
  }
  const responseTypes = read(env, 'CONSUME_FUNCTION_RESPONSE_TYPES');
  if (responseTypes !== undefined && responseTypes !== 'ReportBatchItemFailures') {
    throw new ConfigError('CONSUME_FUNCTION_RESPONSE_TYPES', `expected ReportBatchItemFailures or nothing, got '${responseTypes}'`);
  }
  const destination = read(env, 'CONSUME_ON_FAILURE_DESTINATION');
  let onFailure: ErrorHandling['onFailure'];
  try {
    onFailure = destination === undefined ? undefined : parseFailureDestination(destination);
  } catch (error) {
    throw new ConfigError('CONSUME_ON_FAILURE_DESTINATION', errorMessage(error));
  }
  const settings: ErrorHandling = {
    maximumRetryAttempts: readInt(
      env,
      'CONSUME_MAXIMUM_RETRY_ATTEMPTS',
      AWS_DEFAULT_ERROR_HANDLING.maximumRetryAttempts,
      -1,
      MAX_RETRY_ATTEMPTS,
    ),
    maximumRecordAgeInSeconds: readInt(
      env,
      'CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS',
      AWS_DEFAULT_ERROR_HANDLING.maximumRecordAgeInSeconds,
      -1,
      MAX_RECORD_AGE_SECONDS,
    ),
    bisectBatchOnFunctionError: readBool(
      env,
      'CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR',
      AWS_DEFAULT_ERROR_HANDLING.bisectBatchOnFunctionError,
    ),
    reportBatchItemFailures: responseTypes === 'ReportBatchItemFailures',
    onFailure,
  };
  // The source topic is the invocation's: it is compared with a kafka:// destination when the invocation starts.
  const problem = checkErrorHandling(settings, '');
  if (problem !== undefined) throw new ConfigError(ERROR_HANDLING_VARIABLES[problem.field], problem.message);
  return settings;
}

/** The variable that sets each error-handling control of the consume function. */
export const ERROR_HANDLING_VARIABLES: Record<keyof ErrorHandling, string> = {
  maximumRetryAttempts: 'CONSUME_MAXIMUM_RETRY_ATTEMPTS',
  maximumRecordAgeInSeconds: 'CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS',
  bisectBatchOnFunctionError: 'CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR',
  reportBatchItemFailures: 'CONSUME_FUNCTION_RESPONSE_TYPES',
  onFailure: 'CONSUME_ON_FAILURE_DESTINATION',
};

/** Builds the config from an environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const defaultTopic = readTopic(env, 'KAFKA_TOPIC', 'payment-done');
  const groupId = read(env, 'KAFKA_GROUP_ID') ?? 'my-app3';
  if (!isGroupName(groupId)) throw new ConfigError('KAFKA_GROUP_ID', `'${groupId}' is not a valid group id`);

  const topicsRaw = read(env, 'PRODUCE_TOPICS');
  const allowedTopics =
    topicsRaw === undefined
      ? ['payment-done', 'quickstart-events']
      : topicsRaw
          .split(',')
          .map((topic) => topic.trim())
          .filter((topic) => topic !== '');
  for (const topic of allowedTopics) {
    if (!isTopicName(topic)) throw new ConfigError('PRODUCE_TOPICS', `'${topic}' is not a valid Kafka topic name`);
  }

  const sessionTimeoutMs = readInt(env, 'KAFKA_SESSION_TIMEOUT_MS', 10_000, 6_000, 300_000);
  const heartbeatIntervalMs = readInt(env, 'KAFKA_HEARTBEAT_INTERVAL_MS', 1_000, 100, 60_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError('KAFKA_HEARTBEAT_INTERVAL_MS', `must be lower than KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  }

  const ssl = readBool(env, 'KAFKA_SSL', false);
  return {
    kafka: {
      brokers: readBrokers(env),
      clientId: read(env, 'KAFKA_CLIENT_ID') ?? 'kafka-functions',
      ssl,
      sslCaFile: readCaFile(env, ssl),
      sasl: readSasl(env),
      connectionTimeoutMs: readInt(env, 'KAFKA_CONNECTION_TIMEOUT_MS', 3_000, 100, 120_000),
      requestTimeoutMs: readInt(env, 'KAFKA_REQUEST_TIMEOUT_MS', 5_000, 100, 300_000),
      retries: readInt(env, 'KAFKA_RETRIES', 2, 0, 20),
    },
    schemaRegistry: readSchemaRegistry(env),
    defaultTopic,
    defaultGroupId: groupId,
    produce: {
      allowedTopics,
      maxMessages: readInt(env, 'PRODUCE_MAX_MESSAGES', 500, 1, 10_000),
      maxBodyBytes: readInt(env, 'PRODUCE_MAX_BODY_BYTES', 1_048_576, 1_024, 6_291_456),
      timeoutMs: readInt(env, 'PRODUCE_TIMEOUT_MS', 5_000, 100, 120_000),
      partitioner: readChoice<PartitionerName>(env, 'PRODUCE_PARTITIONER', 'default', PARTITIONER_NAMES),
      apiKey: read(env, 'PRODUCE_API_KEY'),
    },
    consume: {
      batchSize: readInt(env, 'CONSUME_BATCH_SIZE', 100, 1, 10_000),
      batchWindowMs: readInt(env, 'CONSUME_BATCH_WINDOW_MS', 500, 0, 300_000),
      sessionTimeoutMs,
      heartbeatIntervalMs,
      rebalanceTimeoutMs: readInt(env, 'KAFKA_REBALANCE_TIMEOUT_MS', 10_000, 1_000, 300_000),
      errorHandling: readErrorHandling(env),
      retryBackoffMs: readInt(env, 'CONSUME_RETRY_BACKOFF_MS', 500, 0, 60_000),
      destinationsDir: read(env, 'CONSUME_DESTINATIONS_DIR') ?? '.offline-destinations',
      durationSeconds: readInt(env, 'CONSUME_DURATION_SECONDS', 60, 1, 86_400),
      handlerModule: read(env, 'CONSUME_HANDLER'),
      eventSourceArn: readArn(env, 'CONSUME_EVENT_SOURCE_ARN'),
    },
    logFormat: readLogFormat(env),
  };
}

let cached: Config | undefined;

/** The process's config, read and validated on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}
