/**
 * Reads every function's `msk` and `kafka` events from the service and turns them into validated
 * event-source mapping specs with AWS's defaults and limits. A bad event is an InvalidKafkaEventError
 * naming the function and the field (`functions.<fn>.events[<i>].msk.batchSize`), so `offline start`
 * stops before anything listens, even when osls's own schema check is relaxed (`configValidationMode`).
 */
import type { Config } from '../../../lib/config';
import { isHostPort, isRecord, isTopicName, registryUrlProblem } from '../../../lib/validation';
import type { EventSourceSpec } from '../../../lib/consumer/lambda-event';
import type { StartingPosition } from '../../../lib/consumer/group-member';
import {
  AWS_DEFAULT_ERROR_HANDLING,
  checkErrorHandling,
  parseFailureDestination,
  type ErrorHandling,
} from '../../../lib/consumer/delivery-policy';
import { errorMessage, KafkaFunctionsError } from '../../../lib/errors';
import { compileFilterPatterns, FilterPatternError, type CompiledFilter } from './filter-patterns';
import { readSchemaRegistryConfig, type SchemaRegistryEventConfig } from './schema-registry-config';

/** The parts of osls's Service this plugin reads. */
export interface ServiceView {
  service: string;
  provider: { region?: string; stage?: string; environment?: Record<string, unknown> };
  custom?: Record<string, unknown>;
  getAllFunctions(): string[];
  getFunction(functionKey: string): { name?: string; handler?: string; events?: unknown[] } & Record<string, unknown>;
}

export type KafkaEventType = 'msk' | 'kafka';

export interface MappingSpec {
  /** `<functionKey>/<eventType>/<topic>`: how logs name the mapping. */
  id: string;
  functionKey: string;
  /** Deployed name (`<service>-<stage>-<functionKey>`), used by serverless-offline's runner. */
  functionName: string;
  eventType: KafkaEventType;
  /** `functions.<fn>.events[<i>].<type>`: where the event is written, for error messages. */
  path: string;
  topic: string;
  brokers: string[];
  eventSource: EventSourceSpec;
  groupId: string;
  batchSize: number;
  batchWindowMs: number;
  startingPosition: StartingPosition;
  enabled: boolean;
  filter: CompiledFilter | undefined;
  members: number;
  /** AWS's error-handling controls for this event, AWS's defaults where unset. */
  errorHandling: ErrorHandling;
  /** AWS's SchemaRegistryConfig, when the event has one, with the local registry its URI resolves to. */
  schemaRegistry: (SchemaRegistryEventConfig & { localUrl: string }) | undefined;
}

/** Plugin settings from `custom.offlineKafka` (all optional). */
export interface PluginSettings {
  /** False turns every mapping off (e.g. `enabled: ${env:OFFLINE_KAFKA_ENABLED, 'true'}`). */
  enabled: boolean;
  /** Members per mapping unless the event's `provisionedPollerConfig.minimumPollers` says otherwise. */
  members: number;
  /** Event source (an `msk` ARN, or a `kafka` event's first bootstrap server) → local brokers. */
  brokers: Map<string, string[]>;
  /** Whether to ask the broker at start that every topic exists (default true). */
  checkTopics: boolean;
  /**
   * A schemaRegistryURI (a Glue registry's ARN or a Confluent registry's URL, as the event writes it) → the base
   * URL of the Confluent-compatible registry that stands in for it; others resolve to config's (SCHEMA_REGISTRY_URL,
   * else the local one).
   */
  schemaRegistries: Map<string, string>;
}

export class InvalidKafkaEventError extends KafkaFunctionsError {
  readonly functionKey: string | undefined;
  readonly field: string;
  constructor(field: string, message: string, functionKey?: string) {
    super('INVALID_CONFIG', `${field}: ${message}`);
    this.field = field;
    this.functionKey = functionKey;
  }
}

// AWS's own limits for an event-source mapping (CreateEventSourceMapping).
const MAX_BATCH_SIZE = 10_000;
const MAX_WINDOW_SECONDS = 300;
const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_WINDOW_SECONDS = 0.5;
const CONSUMER_GROUP_ID = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const SETTINGS_KEY = 'offlineKafka';

type Fields = Record<string, unknown>;

function readBoolean(value: unknown, field: string, fallback: boolean, functionKey?: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  // `${env:X, 'true'}` resolves to a string.
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw new InvalidKafkaEventError(field, `expected true or false, got ${JSON.stringify(value)}`, functionKey);
}

function readWholeNumber(value: unknown, field: string, fallback: number, min: number, max: number, functionKey?: string): number {
  if (value === undefined || value === null) return fallback;
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new InvalidKafkaEventError(field, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`, functionKey);
  }
  return number;
}

/** `a:1,b:2` or `['a:1', 'b:2,c:3']` → host:port list. */
function readBrokerList(value: unknown, field: string, functionKey?: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  const brokers: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new InvalidKafkaEventError(field, 'expected host:port strings', functionKey);
    brokers.push(
      ...item
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => broker !== ''),
    );
  }
  const bad = brokers.find((broker) => !isHostPort(broker));
  if (brokers.length === 0 || bad !== undefined) {
    throw new InvalidKafkaEventError(field, `expected host:port entries, got ${JSON.stringify(value)}`, functionKey);
  }
  return brokers;
}

export function readPluginSettings(custom: Record<string, unknown> | undefined): PluginSettings {
  const raw = custom?.[SETTINGS_KEY];
  const base = `custom.${SETTINGS_KEY}`;
  if (raw !== undefined && raw !== null && !isRecord(raw)) throw new InvalidKafkaEventError(base, 'expected an object');
  const settings: Fields = raw ?? {};
  const known = ['enabled', 'members', 'brokers', 'checkTopics', 'schemaRegistries'];
  const unknown = Object.keys(settings).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new InvalidKafkaEventError(`${base}.${unknown}`, `unknown setting (known: ${known.join(', ')})`);

  const brokers = new Map<string, string[]>();
  if (settings.brokers !== undefined && settings.brokers !== null) {
    if (!isRecord(settings.brokers)) {
      throw new InvalidKafkaEventError(`${base}.brokers`, 'expected a map of event source → host:port list');
    }
    for (const [source, list] of Object.entries(settings.brokers)) {
      brokers.set(source, readBrokerList(list, `${base}.brokers.${source}`));
    }
  }
  const schemaRegistries = new Map<string, string>();
  if (settings.schemaRegistries !== undefined && settings.schemaRegistries !== null) {
    if (!isRecord(settings.schemaRegistries)) {
      throw new InvalidKafkaEventError(`${base}.schemaRegistries`, 'expected a map of schemaRegistryURI → registry base URL');
    }
    for (const [uri, url] of Object.entries(settings.schemaRegistries)) {
      const field = `${base}.schemaRegistries.${uri}`;
      const trimmed = typeof url === 'string' ? url.trim() : '';
      if (trimmed === '') {
        throw new InvalidKafkaEventError(field, `expected the base URL of a Confluent-compatible registry, got ${JSON.stringify(url)}`);
      }
      const problem = registryUrlProblem(trimmed);
      if (problem !== undefined) throw new InvalidKafkaEventError(field, problem);
      schemaRegistries.set(uri, trimmed.replace(/\/+$/, ''));
    }
  }
  return {
    enabled: readBoolean(settings.enabled, `${base}.enabled`, true),
    members: readWholeNumber(settings.members, `${base}.members`, 1, 1, 100),
    brokers,
    checkTopics: readBoolean(settings.checkTopics, `${base}.checkTopics`, true),
    schemaRegistries,
  };
}

function readStartingPosition(event: Fields, path: string, functionKey: string): StartingPosition {
  const position = event.startingPosition ?? 'TRIM_HORIZON';
  switch (position) {
    case 'TRIM_HORIZON':
    case 'LATEST':
      if (event.startingPositionTimestamp !== undefined) {
        throw new InvalidKafkaEventError(
          `${path}.startingPositionTimestamp`,
          'only allowed with startingPosition AT_TIMESTAMP',
          functionKey,
        );
      }
      return position === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
    case 'AT_TIMESTAMP': {
      const seconds = event.startingPositionTimestamp;
      if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
        throw new InvalidKafkaEventError(
          `${path}.startingPositionTimestamp`,
          'required with startingPosition AT_TIMESTAMP: Unix time in seconds',
          functionKey,
        );
      }
      // AWS takes seconds; Kafka's offsets-for-times takes milliseconds.
      return { timestamp: Math.round(seconds * 1000) };
    }
    default:
      throw new InvalidKafkaEventError(
        `${path}.startingPosition`,
        `expected TRIM_HORIZON, LATEST or AT_TIMESTAMP, got ${JSON.stringify(position)}`,
        functionKey,
      );
  }
}

/** The event fields of AWS's Kafka error-handling controls, and the ErrorHandling key each sets. */
export const ERROR_HANDLING_FIELDS = {
  maximumRetryAttempts: 'maximumRetryAttempts',
  maximumRecordAgeInSeconds: 'maximumRecordAgeInSeconds',
  bisectBatchOnFunctionError: 'bisectBatchOnFunctionError',
  functionResponseType: 'reportBatchItemFailures',
  onFailureDestination: 'onFailure',
} as const satisfies Record<string, keyof ErrorHandling>;

/** The controls AWS offers only with provisioned pollers (its console shows them under provisioned mode). */
const PROVISIONED_ONLY = ['maximumRetryAttempts', 'maximumRecordAgeInSeconds', 'bisectBatchOnFunctionError', 'functionResponseType'];

/** A number (`${env:X, '3'}` resolves to a string); the range is checkErrorHandling's. */
function readNumber(value: unknown, field: string, fallback: number, functionKey: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value);
  throw new InvalidKafkaEventError(field, `expected a whole number, got ${JSON.stringify(value)}`, functionKey);
}

/**
 * The event's error-handling controls with AWS's defaults and limits. A value out of AWS's range, a
 * destination that is not `kafka://<topic>` or an SQS/SNS/S3 ARN, the source topic as destination, or a
 * control AWS offers only in provisioned mode set without `provisionedPollerConfig` is an
 * InvalidKafkaEventError naming the field.
 */
export function readErrorHandling(event: Fields, path: string, functionKey: string, topic: string): ErrorHandling {
  const defaults = AWS_DEFAULT_ERROR_HANDLING;
  const responseType = event.functionResponseType;
  if (responseType !== undefined && responseType !== null && responseType !== 'ReportBatchItemFailures') {
    throw new InvalidKafkaEventError(
      `${path}.functionResponseType`,
      `expected ReportBatchItemFailures, got ${JSON.stringify(responseType)}`,
      functionKey,
    );
  }
  let onFailure: ErrorHandling['onFailure'];
  const destination = event.onFailureDestination;
  if (destination !== undefined && destination !== null) {
    if (typeof destination !== 'string') {
      throw new InvalidKafkaEventError(`${path}.onFailureDestination`, 'expected kafka://<topic> or an SQS, SNS or S3 ARN', functionKey);
    }
    try {
      onFailure = parseFailureDestination(destination);
    } catch (error) {
      throw new InvalidKafkaEventError(`${path}.onFailureDestination`, errorMessage(error), functionKey);
    }
  }
  const settings: ErrorHandling = {
    maximumRetryAttempts: readNumber(
      event.maximumRetryAttempts,
      `${path}.maximumRetryAttempts`,
      defaults.maximumRetryAttempts,
      functionKey,
    ),
    maximumRecordAgeInSeconds: readNumber(
      event.maximumRecordAgeInSeconds,
      `${path}.maximumRecordAgeInSeconds`,
      defaults.maximumRecordAgeInSeconds,
      functionKey,
    ),
    bisectBatchOnFunctionError: readBoolean(
      event.bisectBatchOnFunctionError,
      `${path}.bisectBatchOnFunctionError`,
      defaults.bisectBatchOnFunctionError,
      functionKey,
    ),
    reportBatchItemFailures: responseType === 'ReportBatchItemFailures',
    onFailure,
  };
  const problem = checkErrorHandling(settings, topic);
  if (problem !== undefined) {
    const field = Object.entries(ERROR_HANDLING_FIELDS).find(([, key]) => key === problem.field)?.[0] ?? problem.field;
    throw new InvalidKafkaEventError(`${path}.${field}`, problem.message, functionKey);
  }
  const provisionedOnly = PROVISIONED_ONLY.find((field) => event[field] !== undefined && event[field] !== null);
  if (provisionedOnly !== undefined && !isRecord(event.provisionedPollerConfig)) {
    throw new InvalidKafkaEventError(
      `${path}.${provisionedOnly}`,
      'AWS offers the Kafka error-handling controls only in provisioned mode: ' +
        'add provisionedPollerConfig (minimumPollers, maximumPollers) to this event',
      functionKey,
    );
  }
  return settings;
}

const MSK_FIELDS = [
  'arn',
  'topic',
  'batchSize',
  'maximumBatchingWindow',
  'enabled',
  'startingPosition',
  'startingPositionTimestamp',
  'saslScram512',
  'consumerGroupId',
  'filterPatterns',
  'provisionedPollerConfig',
  ...Object.keys(ERROR_HANDLING_FIELDS),
  'schemaRegistryConfig',
];
const KAFKA_FIELDS = [
  'accessConfigurations',
  'bootstrapServers',
  'topic',
  'batchSize',
  'maximumBatchingWindow',
  'enabled',
  'startingPosition',
  'startingPositionTimestamp',
  'consumerGroupId',
  'filterPatterns',
  'provisionedPollerConfig',
  ...Object.keys(ERROR_HANDLING_FIELDS),
  'schemaRegistryConfig',
];

function readMapping(
  service: ServiceView,
  config: Config,
  settings: PluginSettings,
  functionKey: string,
  index: number,
  eventType: KafkaEventType,
  event: unknown,
): MappingSpec {
  const path = `functions.${functionKey}.events[${index}].${eventType}`;
  if (!isRecord(event)) throw new InvalidKafkaEventError(path, 'expected an object', functionKey);
  const allowed = eventType === 'msk' ? MSK_FIELDS : KAFKA_FIELDS;
  const extra = Object.keys(event).find((key) => !allowed.includes(key));
  if (extra !== undefined) throw new InvalidKafkaEventError(`${path}.${extra}`, 'unknown field', functionKey);

  const topic = event.topic;
  if (typeof topic !== 'string' || !isTopicName(topic)) {
    throw new InvalidKafkaEventError(`${path}.topic`, `expected a Kafka topic name, got ${JSON.stringify(topic)}`, functionKey);
  }
  const batchSize = readWholeNumber(event.batchSize, `${path}.batchSize`, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE, functionKey);
  // Unset, Lambda waits 0.5 s for Kafka; set, it takes whole seconds (MaximumBatchingWindowInSeconds).
  const window =
    event.maximumBatchingWindow === undefined
      ? DEFAULT_WINDOW_SECONDS
      : readWholeNumber(event.maximumBatchingWindow, `${path}.maximumBatchingWindow`, 0, 0, MAX_WINDOW_SECONDS, functionKey);
  const enabled = readBoolean(event.enabled, `${path}.enabled`, true, functionKey);
  const startingPosition = readStartingPosition(event, path, functionKey);
  const errorHandling = readErrorHandling(event, path, functionKey, topic);
  const registryConfig = readSchemaRegistryConfig(event, path, functionKey);
  // Locally a registry URI resolves as an msk ARN does: the mapping in custom.offlineKafka, else config's registry.
  const schemaRegistry = registryConfig && {
    ...registryConfig,
    localUrl: settings.schemaRegistries.get(registryConfig.schemaRegistryURI) ?? config.schemaRegistry.url,
  };

  const definition = service.getFunction(functionKey);
  const functionName = definition.name ?? `${service.service}-${service.provider.stage ?? 'dev'}-${functionKey}`;
  // AWS defaults the group to the mapping's UUID, which changes with every deploy; locally the group must
  // survive restarts (so nothing is read twice or skipped), hence a name derived from function and topic.
  const groupId = event.consumerGroupId ?? `${functionName}-${topic}`;
  if (typeof groupId !== 'string' || !CONSUMER_GROUP_ID.test(groupId)) {
    throw new InvalidKafkaEventError(
      `${path}.consumerGroupId`,
      `expected 1-200 characters of [a-zA-Z0-9-/*:_+=.@], got ${JSON.stringify(groupId)}`,
      functionKey,
    );
  }

  let filter: CompiledFilter | undefined;
  if (event.filterPatterns !== undefined) {
    try {
      filter = compileFilterPatterns(event.filterPatterns);
    } catch (error) {
      if (error instanceof FilterPatternError)
        throw new InvalidKafkaEventError(
          `${path}.filterPatterns${error.path}`,
          error.message.slice(error.path.length + 2) || error.message,
          functionKey,
        );
      throw error;
    }
  }

  let members = settings.members;
  if (event.provisionedPollerConfig !== undefined) {
    if (!isRecord(event.provisionedPollerConfig))
      throw new InvalidKafkaEventError(`${path}.provisionedPollerConfig`, 'expected an object', functionKey);
    members = readWholeNumber(
      event.provisionedPollerConfig.minimumPollers,
      `${path}.provisionedPollerConfig.minimumPollers`,
      members,
      1,
      100,
      functionKey,
    );
  }

  let brokers: string[];
  let eventSource: EventSourceSpec;
  if (eventType === 'msk') {
    const arn = event.arn;
    if (arn === undefined || arn === null) throw new InvalidKafkaEventError(`${path}.arn`, 'required (the MSK cluster ARN)', functionKey);
    if (typeof arn === 'string' && !arn.startsWith('arn:')) {
      throw new InvalidKafkaEventError(`${path}.arn`, `expected an ARN (arn:aws:kafka:…), got ${JSON.stringify(arn)}`, functionKey);
    }
    // A CloudFormation reference (Ref / Fn::ImportValue) only resolves in AWS: stand in a local ARN.
    const eventSourceArn =
      typeof arn === 'string' ? arn : `arn:aws:kafka:${service.provider.region ?? 'us-east-1'}:000000000000:cluster/offline/${functionKey}`;
    brokers = settings.brokers.get(eventSourceArn) ?? config.kafka.brokers;
    eventSource = { kind: 'aws:kafka', eventSourceArn, bootstrapServers: brokers };
  } else {
    if (!isRecord(event.accessConfigurations)) {
      throw new InvalidKafkaEventError(
        `${path}.accessConfigurations`,
        'required by AWS (use a dummy Secrets Manager ARN for a local broker); never used locally',
        functionKey,
      );
    }
    const written = readBrokerList(event.bootstrapServers, `${path}.bootstrapServers`, functionKey);
    brokers = settings.brokers.get(written[0] ?? '') ?? written;
    eventSource = { kind: 'SelfManagedKafka', bootstrapServers: brokers };
  }

  return {
    id: `${functionKey}/${eventType}/${topic}`,
    functionKey,
    functionName,
    eventType,
    path,
    topic,
    brokers,
    eventSource,
    groupId,
    batchSize,
    batchWindowMs: Math.round(window * 1000),
    startingPosition,
    enabled: enabled && settings.enabled,
    filter,
    members,
    errorHandling,
    schemaRegistry,
  };
}

export interface KafkaEventEntry {
  functionKey: string;
  index: number;
  eventType: KafkaEventType;
  /** `functions.<fn>.events[<i>].<type>` */
  path: string;
  /** As written (not yet validated). */
  event: unknown;
}

/** Every `msk` / `kafka` event of the service, in the order serverless.yml lists them. */
export function kafkaEvents(service: ServiceView): KafkaEventEntry[] {
  const entries: KafkaEventEntry[] = [];
  for (const functionKey of service.getAllFunctions()) {
    const events = service.getFunction(functionKey).events ?? [];
    events.forEach((entry, index) => {
      if (!isRecord(entry)) return;
      for (const eventType of ['msk', 'kafka'] as const) {
        if (eventType in entry) {
          entries.push({
            functionKey,
            index,
            eventType,
            path: `functions.${functionKey}.events[${index}].${eventType}`,
            event: entry[eventType],
          });
        }
      }
    });
  }
  return entries;
}

/**
 * Every `msk` / `kafka` event of the service as a mapping spec (disabled ones included, with
 * `enabled: false`). Throws InvalidKafkaEventError for the first invalid event; two enabled mappings that
 * share a consumer group on different topics are refused (their members would split each other's partitions).
 */
export function readMappings(service: ServiceView, config: Config): MappingSpec[] {
  const settings = readPluginSettings(service.custom);
  const mappings = kafkaEvents(service).map(({ functionKey, index, eventType, event }) =>
    readMapping(service, config, settings, functionKey, index, eventType, event),
  );
  const byGroup = new Map<string, MappingSpec>();
  for (const mapping of mappings.filter((candidate) => candidate.enabled)) {
    const other = byGroup.get(mapping.groupId);
    if (other !== undefined) {
      throw new InvalidKafkaEventError(
        `${mapping.path}.consumerGroupId`,
        `group '${mapping.groupId}' is already used by ${other.path}; each mapping needs its own consumer group`,
        mapping.functionKey,
      );
    }
    byGroup.set(mapping.groupId, mapping);
  }
  return mappings;
}
