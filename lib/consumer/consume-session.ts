/**
 * One consume invocation: validates its input, starts one member of the group with the configured
 * delivery settings, stops it on its duration, its record limit or a signal, and returns the summary.
 * Shared by functions/consume.ts (serverless invoke local) and scripts/consume.ts (npm run consume).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config';
import { isGroupName, isRecord, isTopicName } from '../validation';
import { KafkaFunctionsError, ValidationError } from '../errors';
import type { EventSourceSpec, KafkaEvent } from './lambda-event';
import { startGroupMember, type GroupMember, type GroupMemberSummary, type StartingPosition } from './group-member';
import { stopOnSignals } from './signals';

export interface ConsumeRequest {
  groupId: string;
  topic: string;
  /** undefined: run until stopped (npm run consume without --duration). */
  durationSeconds: number | undefined;
  maxRecords: number | undefined;
  fromBeginning: boolean;
}

/** Who consumed a batch, for the record handler's logs. */
export interface ConsumerIdentity {
  groupId?: string | undefined;
  memberId?: string | undefined;
}

/** What a record handler module exports: `processRecords(event, identity)` or a Lambda `handler(event)`. */
export type RecordProcessor = (event: KafkaEvent, identity: ConsumerIdentity) => Promise<unknown>;

function optionalPositiveNumber(input: Record<string, unknown>, field: string, max: number, integer: boolean): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    throw new ValidationError(`${field} must be a ${integer ? 'whole ' : ''}number above 0 and at most ${max}`, field);
  }
  return value;
}

/**
 * The invocation's input: `{groupId, topic, durationSeconds, maxRecords, fromBeginning}`, all optional.
 * `durationFallback` applies when no duration is given (the function always bounds itself; the CLI
 * passes undefined to run until Ctrl-C).
 */
export function parseConsumeRequest(input: unknown, config: Config, durationFallback: number | undefined): ConsumeRequest {
  const body = input === undefined || input === null || input === '' ? {} : input;
  if (!isRecord(body)) throw new ValidationError('the input must be a JSON object');
  const known = new Set(['groupId', 'topic', 'durationSeconds', 'maxRecords', 'fromBeginning']);
  const unknown = Object.keys(body).find((key) => !known.has(key));
  if (unknown !== undefined) throw new ValidationError(`unknown field '${unknown}' (expected ${[...known].join(', ')})`, unknown);

  const groupId = body.groupId ?? config.defaultGroupId;
  if (typeof groupId !== 'string' || !isGroupName(groupId))
    throw new ValidationError('groupId must be a consumer group id without spaces', 'groupId');
  const topic = body.topic ?? config.defaultTopic;
  if (typeof topic !== 'string' || !isTopicName(topic)) throw new ValidationError('topic must be a valid Kafka topic name', 'topic');
  const destination = config.consume.errorHandling.onFailure;
  if (destination?.kind === 'kafka' && destination.topic === topic) {
    throw new ValidationError(
      `CONSUME_ON_FAILURE_DESTINATION is kafka://${topic}, the topic consumed: the on-failure topic must be another one (as AWS requires)`,
      'topic',
    );
  }
  const fromBeginning = body.fromBeginning ?? true;
  if (typeof fromBeginning !== 'boolean') throw new ValidationError('fromBeginning must be true or false', 'fromBeginning');
  return {
    groupId,
    topic,
    durationSeconds: optionalPositiveNumber(body, 'durationSeconds', 86_400, false) ?? durationFallback,
    maxRecords: optionalPositiveNumber(body, 'maxRecords', 100_000_000, true),
    fromBeginning,
  };
}

/** The event source the batches claim to come from: MSK when an ARN is configured, else self-managed Kafka. */
export function eventSourceFor(config: Config): EventSourceSpec {
  const { brokers } = config.kafka;
  return config.consume.eventSourceArn === undefined
    ? { kind: 'SelfManagedKafka', bootstrapServers: brokers }
    : { kind: 'aws:kafka', eventSourceArn: config.consume.eventSourceArn, bootstrapServers: brokers };
}

function processorOf(module: unknown, path: string): RecordProcessor {
  const candidates = isRecord(module) ? [module, module.default] : [];
  for (const candidate of candidates) {
    if (!isRecord(candidate)) continue;
    const { processRecords, handler } = candidate;
    if (typeof processRecords === 'function') return (event, identity) => Promise.resolve(processRecords(event, identity));
    if (typeof handler === 'function') return (event) => Promise.resolve(handler(event, {}));
  }
  throw new KafkaFunctionsError('INVALID_CONFIG', `CONSUME_HANDLER: ${path} exports neither processRecords nor handler`);
}

/**
 * The record handler: CONSUME_HANDLER's module when set (a path from the working directory; with tsx a
 * .ts file works, a bundled function needs .js), else the shipped one.
 */
export async function loadRecordProcessor(config: Config, shipped: RecordProcessor): Promise<RecordProcessor> {
  const path = config.consume.handlerModule;
  if (path === undefined) return shipped;
  const absolute = isAbsolute(path) ? path : resolve(process.cwd(), path);
  let module: unknown;
  try {
    module = await import(pathToFileURL(absolute).href);
  } catch (error) {
    throw new KafkaFunctionsError('INVALID_CONFIG', `CONSUME_HANDLER: cannot load ${absolute}`, { cause: error });
  }
  return processorOf(module, absolute);
}

export interface ConsumeDependencies {
  kafka: Kafka;
  logger: Logger;
  config: Config;
  processor: RecordProcessor;
  /** Stop gracefully on SIGINT/SIGTERM (true for the CLI and invoke local). */
  handleSignals: boolean;
  /** Called with the member once started (tests, scripts that print progress). */
  onStart?: (member: GroupMember) => void;
}

/** Runs one member until its duration, its record limit, a signal or a failure; returns the summary. */
export async function runConsumeSession(request: ConsumeRequest, deps: ConsumeDependencies): Promise<GroupMemberSummary> {
  const { kafka, logger, config, processor } = deps;
  const startingPosition: StartingPosition = request.fromBeginning ? 'TRIM_HORIZON' : 'LATEST';
  let member: GroupMember | undefined;
  const identity = (): ConsumerIdentity => ({ groupId: request.groupId, memberId: member?.memberId() });
  member = startGroupMember({
    kafka,
    logger,
    groupId: request.groupId,
    topic: request.topic,
    startingPosition,
    ...config.consume,
    eventSource: eventSourceFor(config),
    invoke: (event) => processor(event, identity()),
    ...(request.maxRecords === undefined ? {} : { maxRecords: request.maxRecords }),
    ...(request.durationSeconds === undefined ? {} : { durationMs: Math.round(request.durationSeconds * 1_000) }),
  });
  const started = member;
  const removeSignalHandlers = deps.handleSignals ? stopOnSignals(() => started.stop(), logger) : () => undefined;
  deps.onStart?.(started);
  try {
    return await started.done;
  } finally {
    removeSignalHandlers();
  }
}

/** The error a failed session ends with (the handler failed for good, or the member could not run). */
export function sessionError(summary: GroupMemberSummary): KafkaFunctionsError | undefined {
  if (summary.stoppedBecause !== 'failed') return undefined;
  return new KafkaFunctionsError('HANDLER_FAILED', summary.error ?? 'the consumer failed');
}

/** One line for people: what the member did. */
/** "1 record", "2 records". */
function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

export function describeSummary(summary: GroupMemberSummary): string {
  const held = summary.partitions.length === 0 ? 'no partitions' : `partitions ${summary.partitions.join(', ')}`;
  const extra = [
    summary.retries > 0 ? count(summary.retries, 'retry', 'retries') : '',
    summary.sentToDestination > 0 ? `${summary.sentToDestination} sent to the on-failure destination` : '',
    summary.discarded > 0 ? `${summary.discarded} discarded` : '',
    summary.filtered > 0 ? `${summary.filtered} filtered` : '',
  ].filter((part) => part !== '');
  const member = summary.memberId ?? '(never joined)';
  const details = `${held}${extra.length > 0 ? `; ${extra.join(', ')}` : ''}`;
  const error = summary.error === undefined ? '' : ` — ${summary.error}`;
  return (
    `member ${member} of group ${summary.groupId} processed ${count(summary.recordsProcessed, 'record')} of ${summary.topic} ` +
    `in ${count(summary.batches, 'batch', 'batches')} (${details}); stopped: ${summary.stoppedBecause}${error}`
  );
}
