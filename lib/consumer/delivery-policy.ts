/**
 * AWS Lambda's error-handling controls for Kafka event sources (MSK and self-managed), as AWS documents
 * them ("Configuring error handling controls for Kafka event sources", "Capturing discarded batches"):
 *
 * - MaximumRetryAttempts: -1 (infinite, the default) or 0..10000; the first invocation is not counted.
 *   With infinite retries and an on-failure destination, Lambda applies at most 10 retries.
 * - MaximumRecordAgeInSeconds: -1 (infinite, the default) or 60..604800.
 * - BisectBatchOnFunctionError: split a failing batch in two and retry each half.
 * - FunctionResponseTypes [ReportBatchItemFailures]: the function names the records that failed.
 * - DestinationConfig.OnFailure: a Kafka topic (`kafka://topic`, same cluster, not the source topic), an SQS
 *   queue, an SNS topic or an S3 bucket.
 *
 * These settings are shared by lib/config.ts (the consume function) and the offline plugin (serverless.yml).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaEvent, PartitionBatch } from './lambda-event';
import { isTopicName } from '../validation';
import { errorMessage } from '../errors';

export type FailureDestination = { kind: 'kafka'; topic: string } | { kind: 'sqs' | 'sns' | 's3'; arn: string };

export interface ErrorHandling {
  /** -1 = infinite (AWS default); 0..10000; the first attempt not counted. */
  maximumRetryAttempts: number;
  /** -1 = infinite (AWS default); 60..604800. */
  maximumRecordAgeInSeconds: number;
  /** Default false. */
  bisectBatchOnFunctionError: boolean;
  /** FunctionResponseTypes: [ReportBatchItemFailures]. */
  reportBatchItemFailures: boolean;
  onFailure: FailureDestination | undefined;
}

export const AWS_DEFAULT_ERROR_HANDLING: ErrorHandling = Object.freeze({
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  onFailure: undefined,
});

export const MAX_RETRY_ATTEMPTS = 10_000;
export const MIN_RECORD_AGE_SECONDS = 60;
export const MAX_RECORD_AGE_SECONDS = 604_800;
/** Retries AWS applies when MaximumRetryAttempts is infinite and an on-failure destination is set. */
export const INFINITE_RETRIES_WITH_DESTINATION = 10;

const KAFKA_PREFIX = 'kafka://';
/** arn:<partition>:<service>:<region>:<account>:<resource>; S3 bucket ARNs have neither region nor account. */
const QUEUE_OR_TOPIC_ARN = /^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/;
const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `kafka://topic` or an SQS/SNS/S3 ARN; throws a clear Error naming what is wrong. */
export function parseFailureDestination(value: string): FailureDestination {
  const text = value.trim();
  if (text.startsWith(KAFKA_PREFIX)) {
    const topic = text.slice(KAFKA_PREFIX.length);
    if (topic === '') throw new Error(`'${value}' names no topic: expected kafka://<topic>`);
    if (!isTopicName(topic)) {
      throw new Error(`'${topic}' in '${value}' is not a valid Kafka topic name (letters, digits, '.', '_', '-', at most 249)`);
    }
    return { kind: 'kafka', topic };
  }
  const queueOrTopic = QUEUE_OR_TOPIC_ARN.exec(text);
  if (queueOrTopic !== null) return { kind: queueOrTopic[1] === 'sqs' ? 'sqs' : 'sns', arn: text };
  if (BUCKET_ARN.test(text)) return { kind: 's3', arn: text };
  if (text.startsWith('arn:')) {
    throw new Error(
      `'${value}' is not an SQS queue, SNS topic or S3 bucket ARN ` +
        '(arn:aws:sqs:<region>:<account>:<queue>, arn:aws:sns:<region>:<account>:<topic>, arn:aws:s3:::<bucket>)',
    );
  }
  throw new Error(`'${value}' is neither kafka://<topic> nor an SQS, SNS or S3 ARN`);
}

/** The destination written back the way AWS spells it (DestinationConfig.OnFailure.Destination). */
export function formatFailureDestination(destination: FailureDestination): string {
  return destination.kind === 'kafka' ? `${KAFKA_PREFIX}${destination.topic}` : destination.arn;
}

/** Range checks shared by lib/config.ts and the plugin; returns an error message or undefined. */
export function checkErrorHandling(
  settings: ErrorHandling,
  sourceTopic: string,
): { field: keyof ErrorHandling; message: string } | undefined {
  const retries = settings.maximumRetryAttempts;
  if (!Number.isInteger(retries) || (retries !== -1 && (retries < 0 || retries > MAX_RETRY_ATTEMPTS))) {
    return {
      field: 'maximumRetryAttempts',
      message: `expected -1 (infinite) or a whole number from 0 to ${MAX_RETRY_ATTEMPTS}, got ${retries}`,
    };
  }
  const age = settings.maximumRecordAgeInSeconds;
  if (!Number.isInteger(age) || (age !== -1 && (age < MIN_RECORD_AGE_SECONDS || age > MAX_RECORD_AGE_SECONDS))) {
    return {
      field: 'maximumRecordAgeInSeconds',
      message: `expected -1 (infinite) or whole seconds from ${MIN_RECORD_AGE_SECONDS} to ${MAX_RECORD_AGE_SECONDS}, got ${age}`,
    };
  }
  const destination = settings.onFailure;
  if (destination?.kind === 'kafka' && destination.topic === sourceTopic) {
    // AWS refuses this configuration to prevent a loop.
    return { field: 'onFailure', message: `kafka://${sourceTopic} is the source topic; the on-failure topic must be another one` };
  }
  return undefined;
}

/**
 * Retries after the first attempt before records go to the destination (or, without one, are retried on):
 * Infinity for -1 without a destination; 10 for -1 with a destination, as AWS applies.
 */
export function retryLimit(settings: ErrorHandling): number {
  if (settings.maximumRetryAttempts !== -1) return settings.maximumRetryAttempts;
  return settings.onFailure === undefined ? Number.POSITIVE_INFINITY : INFINITE_RETRIES_WITH_DESTINATION;
}

// ---- reading what the function returned ----

/** What one invocation came to, as the event source mapping reads it. */
export type InvocationResult =
  | { kind: 'success' }
  /** ReportBatchItemFailures: "<topic>-<partition>" → the offsets the function named. */
  | { kind: 'partial'; failed: Map<string, Set<string>> }
  | { kind: 'error'; error: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a Kafka partial batch response (`{"batchItemFailures":[{"itemIdentifier":{"partition":"<topic>-<partition>",
 * "offset":<n>}}]}`) as AWS's Kafka page documents it: an empty or null list, or no response, is success; an
 * identifier that is malformed or names a record that was not in the invoked event fails the whole batch.
 * Only looked at when ReportBatchItemFailures is on; otherwise any response is success.
 */
export function readInvocationResponse(response: unknown, invoked: PartitionBatch[], reportBatchItemFailures: boolean): InvocationResult {
  if (!reportBatchItemFailures || !isObject(response)) return { kind: 'success' };
  const list = response.batchItemFailures;
  if (list === undefined || list === null) return { kind: 'success' };
  if (!Array.isArray(list)) return { kind: 'error', error: 'batchItemFailures is not a list' };
  if (list.length === 0) return { kind: 'success' };
  const offsetsOf = new Map<string, Set<string>>();
  for (const { topic, partition, messages } of invoked) {
    offsetsOf.set(`${topic}-${partition}`, new Set(messages.map((message) => message.offset)));
  }
  const failed = new Map<string, Set<string>>();
  for (const item of list) {
    const identifier = isObject(item) ? item.itemIdentifier : undefined;
    const partition = isObject(identifier) ? identifier.partition : undefined;
    const offset = isObject(identifier) ? identifier.offset : undefined;
    const offsetText =
      typeof offset === 'number' && Number.isSafeInteger(offset) ? String(offset) : typeof offset === 'string' ? offset : undefined;
    const present = typeof partition === 'string' ? offsetsOf.get(partition) : undefined;
    if (typeof partition !== 'string' || offsetText === undefined || present === undefined || !present.has(offsetText)) {
      return { kind: 'error', error: `malformed batchItemFailures item ${JSON.stringify(item)}: the whole batch failed` };
    }
    const set = failed.get(partition) ?? new Set<string>();
    set.add(offsetText);
    failed.set(partition, set);
  }
  return { kind: 'partial', failed };
}

// ---- the policy ----

/**
 * Why records went to the on-failure destination (AWS's `requestContext.condition`): retries used up, too old,
 * or refused by the mapping's schema registry with AWS's reason code (the function never saw those).
 */
export type FailureCondition = 'RetriesExhausted' | 'RecordAgeExceeded' | SchemaFailureCondition;

/** AWS's reason codes for a record its schema registry step refuses: no such schema, or not deserializable with it. */
export type SchemaFailureCondition = 'SCHEMA_NOT_FOUND' | 'DESERIALIZATION_ERROR';

/**
 * A step between fetching and invoking that may refuse records (a schema registry's validation): per partition,
 * in the order given, the records that pass as the function is to receive them, and the refused ones by reason.
 * Throws when it cannot decide (the registry does not answer): the records then wait and are tried again.
 */
export type RecordValidation = (batches: PartitionBatch[]) => Promise<{
  batches: PartitionBatch[];
  rejected: { condition: SchemaFailureCondition; batches: PartitionBatch[] }[];
}>;

/** Records given up on: sent to the on-failure destination (or discarded without one), then committed. */
export interface FailedRecords {
  condition: FailureCondition;
  batches: PartitionBatch[];
  /** Invocations that included these records (AWS's approximateInvokeCount). */
  attempts: number;
  /** The function's last error; undefined for expired records. */
  error: string | undefined;
}

/** How one partition's share of a batch ended. */
export type PartitionOutcome =
  /** Every record is committed: processed, or sent to the destination (discarded without one). */
  | { kind: 'done' }
  /** The member is stopping: the records from the first unfinished one on are left uncommitted. */
  | { kind: 'interrupted' }
  /** The destination refused the records: they and everything after them stay uncommitted. */
  | { kind: 'destination-failed'; error: unknown; failed: FailedRecords };

export interface DeliveryStats {
  invocations: number;
  failedInvocations: number;
  retries: number;
  sentToDestination: number;
  discarded: number;
}

export interface DeliveryContext {
  settings: ErrorHandling;
  /** Wait before the first retry, doubled for each further one (at most MAX_BACKOFF_MS). */
  retryBackoffMs: number;
  /** The per-batch step before invoking: builds the event (the seam for deserializing or validating). */
  toEvent: (batches: PartitionBatch[]) => KafkaEvent;
  /** Resolves with the function's response; throws when the function failed. */
  invoke: (event: KafkaEvent) => Promise<unknown>;
  /** Hands records to the on-failure destination; undefined when there is none (they are discarded). */
  sendToDestination: ((failed: FailedRecords) => Promise<void>) | undefined;
  /** Marks a partition done up to (not including) `nextOffset`; called in offset order. */
  commit: (topic: string, partition: number, nextOffset: string) => void;
  /** Waits ms, or less when the member stops. */
  wait: (ms: number) => Promise<void>;
  stopping: () => boolean;
  now: () => number;
  logger: Logger;
  stats: DeliveryStats;
}

/** Exponential backoff between retries stops growing here. */
export const MAX_BACKOFF_MS = 60_000;

export function backoffMs(base: number, retry: number): number {
  return Math.min(base * 2 ** (retry - 1), MAX_BACKOFF_MS);
}

function partitionKey(batch: { topic: string; partition: number }): string {
  return `${batch.topic}-${batch.partition}`;
}

function lastOffset(messages: KafkaMessage[]): string | undefined {
  return messages[messages.length - 1]?.offset;
}

function nextAfter(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

function offsetsText(batch: PartitionBatch): string {
  const first = batch.messages[0]?.offset;
  const last = lastOffset(batch.messages);
  return first === last ? `${first}` : `${first}..${last}`;
}

/** Splits off the records older than MaximumRecordAgeInSeconds (none when it is -1). */
function splitExpired(batch: PartitionBatch, settings: ErrorHandling, now: number): { live: PartitionBatch; expired: KafkaMessage[] } {
  if (settings.maximumRecordAgeInSeconds === -1) return { live: batch, expired: [] };
  const oldest = now - settings.maximumRecordAgeInSeconds * 1_000;
  const expired: KafkaMessage[] = [];
  const live: KafkaMessage[] = [];
  for (const message of batch.messages) (Number(message.timestamp) < oldest ? expired : live).push(message);
  return expired.length === 0 ? { live: batch, expired } : { live: { ...batch, messages: live }, expired };
}

async function invokeOnce(batches: PartitionBatch[], ctx: DeliveryContext): Promise<InvocationResult> {
  ctx.stats.invocations += 1;
  let result: InvocationResult;
  try {
    const response = await ctx.invoke(ctx.toEvent(batches));
    result = readInvocationResponse(response, batches, ctx.settings.reportBatchItemFailures);
  } catch (error) {
    result = { kind: 'error', error: errorMessage(error) };
  }
  if (result.kind !== 'success') ctx.stats.failedInvocations += 1;
  return result;
}

/** Sends records to the destination (or discards them), then they count as done. Returns the outcome on failure. */
export async function giveUp(
  failed: FailedRecords,
  ctx: Pick<DeliveryContext, 'sendToDestination' | 'stats' | 'logger'>,
): Promise<PartitionOutcome | undefined> {
  const count = failed.batches.reduce((sum, { messages }) => sum + messages.length, 0);
  if (count === 0) return undefined;
  const offsets = Object.fromEntries(failed.batches.map((batch) => [partitionKey(batch), offsetsText(batch)]));
  if (ctx.sendToDestination === undefined) {
    ctx.stats.discarded += count;
    ctx.logger.warn('records discarded', { condition: failed.condition, records: count, offsets, attempts: failed.attempts });
    return undefined;
  }
  try {
    await ctx.sendToDestination(failed);
  } catch (error) {
    ctx.logger.error('on-failure destination failed', { condition: failed.condition, records: count, offsets, error: errorMessage(error) });
    return { kind: 'destination-failed', error, failed };
  }
  ctx.stats.sentToDestination += count;
  return undefined;
}

/** Takes expired records out before an invocation and gives them up; returns what is left to invoke. */
async function dropExpired(
  batch: PartitionBatch,
  ctx: DeliveryContext,
): Promise<{ live: PartitionBatch; outcome: PartitionOutcome | undefined }> {
  const { live, expired } = splitExpired(batch, ctx.settings, ctx.now());
  if (expired.length === 0) return { live, outcome: undefined };
  const outcome = await giveUp(
    { condition: 'RecordAgeExceeded', batches: [{ ...batch, messages: expired }], attempts: 0, error: undefined },
    ctx,
  );
  return { live, outcome };
}

interface Segment {
  batch: PartitionBatch;
  /** Failed invocations that included this segment's first record (0: not invoked yet). */
  failures: number;
  result: InvocationResult | undefined;
}

function halves(batch: PartitionBatch): [PartitionBatch, PartitionBatch] {
  const middle = Math.ceil(batch.messages.length / 2);
  return [
    { ...batch, messages: batch.messages.slice(0, middle) },
    { ...batch, messages: batch.messages.slice(middle) },
  ];
}

/**
 * Settles one partition's records after the invocation that included them failed (wholly or in part):
 * retries with backoff, bisects, follows partial responses, drops expired records, and gives up records
 * whose retries are used up. Commits progress in offset order as it goes.
 */
async function settlePartition(batch: PartitionBatch, first: InvocationResult, ctx: DeliveryContext): Promise<PartitionOutcome> {
  const { settings } = ctx;
  const limit = retryLimit(settings);
  const key = partitionKey(batch);
  const segments: Segment[] = [{ batch, failures: 1, result: first }];
  for (;;) {
    const segment = segments[0];
    if (segment === undefined) return { kind: 'done' };
    const { result } = segment;
    const last = lastOffset(segment.batch.messages);
    if (last === undefined) {
      segments.shift();
      continue;
    }
    if (result?.kind === 'success') {
      ctx.commit(batch.topic, batch.partition, nextAfter(last));
      segments.shift();
      continue;
    }
    if (result?.kind === 'partial') {
      const failedOffsets = result.failed.get(key);
      if (failedOffsets === undefined) {
        // Another partition's records failed; this one's all succeeded.
        ctx.commit(batch.topic, batch.partition, nextAfter(last));
        segments.shift();
        continue;
      }
      // Checkpoint before the lowest failed offset; retry from there (later records again: at least once).
      const from = segment.batch.messages.findIndex((message) => failedOffsets.has(message.offset));
      const head = segment.batch.messages[from];
      if (from > 0 && head !== undefined) {
        ctx.commit(batch.topic, batch.partition, head.offset);
        segment.batch = { ...segment.batch, messages: segment.batch.messages.slice(from) };
        // A new first record: its own count starts with this failed invocation.
        segment.failures = 1;
      }
      if (segment.failures > limit) {
        const reported = segment.batch.messages.filter((message) => failedOffsets.has(message.offset));
        const outcome = await giveUp(
          {
            condition: 'RetriesExhausted',
            batches: [{ ...segment.batch, messages: reported }],
            attempts: segment.failures,
            error: 'reported in batchItemFailures',
          },
          ctx,
        );
        if (outcome !== undefined) return outcome;
        ctx.commit(batch.topic, batch.partition, nextAfter(last));
        segments.shift();
        continue;
      }
    } else if (result?.kind === 'error') {
      if (settings.bisectBatchOnFunctionError && segment.batch.messages.length > 1) {
        const [left, right] = halves(segment.batch);
        ctx.logger.warn('batch split', {
          partition: key,
          offsets: offsetsText(segment.batch),
          halves: [offsetsText(left), offsetsText(right)],
          error: result.error,
        });
        segments.splice(0, 1, { batch: left, failures: 0, result: undefined }, { batch: right, failures: 0, result: undefined });
        continue;
      }
      if (segment.failures > limit) {
        const outcome = await giveUp(
          { condition: 'RetriesExhausted', batches: [segment.batch], attempts: segment.failures, error: result.error },
          ctx,
        );
        if (outcome !== undefined) return outcome;
        ctx.commit(batch.topic, batch.partition, nextAfter(last));
        segments.shift();
        continue;
      }
    }

    // Invoke (again): a retry after a failure waits its backoff first; a half of a split batch goes at once.
    if (ctx.stopping()) return { kind: 'interrupted' };
    if (segment.failures > 0) {
      ctx.stats.retries += 1;
      // One line per retry: which attempt failed, of how many, for which records, and when the next comes.
      ctx.logger.warn('batch failed', {
        attempt: segment.failures,
        of: Number.isFinite(limit) ? limit + 1 : 'infinite',
        partition: key,
        offsets: offsetsText(segment.batch),
        error: result?.kind === 'error' ? result.error : 'reported in batchItemFailures',
        retryInMs: backoffMs(ctx.retryBackoffMs, segment.failures),
      });
      await ctx.wait(backoffMs(ctx.retryBackoffMs, segment.failures));
      if (ctx.stopping()) return { kind: 'interrupted' };
    }
    const { live, outcome } = await dropExpired(segment.batch, ctx);
    if (outcome !== undefined) return outcome;
    if (live.messages.length === 0) {
      ctx.commit(batch.topic, batch.partition, nextAfter(last));
      segments.shift();
      continue;
    }
    if (live !== segment.batch) segment.failures = 0;
    segment.batch = live;
    segment.result = await invokeOnce([live], ctx);
    if (segment.result.kind !== 'success') segment.failures += 1;
    // The records dropped as expired after the live ones are committed with them.
    if (segment.result.kind === 'success' && lastOffset(live.messages) !== last) {
      ctx.commit(batch.topic, batch.partition, nextAfter(last));
      segments.shift();
    }
  }
}

/** A batch under way: `invoked` resolves once its first invocation is answered; each partition then settles on its own. */
export interface Delivery {
  invoked: Promise<void>;
  outcomes: Map<string, Promise<PartitionOutcome>>;
  /** Partitions whose records failed in the first invocation and are being settled (known once `invoked` resolved). */
  settling: Set<string>;
}

/**
 * Delivers one batch (records of one or more partitions) as AWS's Kafka event source mapping does:
 * records older than MaximumRecordAgeInSeconds never reach the function; a batch that succeeds is
 * committed with no further work per record; a failed batch is settled per partition, so a partition
 * that keeps failing (infinite retries) blocks only itself.
 */
export function deliverBatch(batches: PartitionBatch[], ctx: DeliveryContext): Delivery {
  const outcomes = new Map<string, Promise<PartitionOutcome>>();
  const settling = new Set<string>();
  const settle = new Map<string, (outcome: Promise<PartitionOutcome>) => void>();
  for (const batch of batches) {
    outcomes.set(
      partitionKey(batch),
      new Promise((resolvePromise) => {
        settle.set(partitionKey(batch), resolvePromise);
      }),
    );
  }
  const finish = (key: string, outcome: PartitionOutcome | Promise<PartitionOutcome>) => settle.get(key)?.(Promise.resolve(outcome));

  const invoked = (async () => {
    const live: PartitionBatch[] = [];
    for (const batch of batches) {
      const { live: kept, outcome } = await dropExpired(batch, ctx);
      if (outcome !== undefined) finish(partitionKey(batch), outcome);
      else if (kept.messages.length > 0) live.push(kept);
      else {
        const last = lastOffset(batch.messages);
        if (last !== undefined) ctx.commit(batch.topic, batch.partition, nextAfter(last));
        finish(partitionKey(batch), { kind: 'done' });
      }
    }
    if (live.length === 0) return;
    const result = await invokeOnce(live, ctx);
    for (const batch of live) {
      const original = batches.find((candidate) => partitionKey(candidate) === partitionKey(batch));
      const last = lastOffset(original?.messages ?? batch.messages);
      if (result.kind === 'success' || (result.kind === 'partial' && !result.failed.has(partitionKey(batch)))) {
        if (last !== undefined) ctx.commit(batch.topic, batch.partition, nextAfter(last));
        finish(partitionKey(batch), { kind: 'done' });
      } else {
        settling.add(partitionKey(batch));
        finish(partitionKey(batch), settleAll(batch, result, last, ctx));
      }
    }
  })();
  // Whatever went wrong before the invocation was answered leaves the records uncommitted.
  const guarded = invoked.catch((error: unknown) => {
    for (const key of settle.keys()) finish(key, { kind: 'destination-failed', error, failed: emptyFailure() });
  });
  return { invoked: guarded, outcomes, settling };
}

function emptyFailure(): FailedRecords {
  return { condition: 'RetriesExhausted', batches: [], attempts: 0, error: undefined };
}

/** Settles a failed partition, then commits records dropped as expired after its last live one. */
async function settleAll(batch: PartitionBatch, result: InvocationResult, last: string | undefined, ctx: DeliveryContext) {
  const outcome = await settlePartition(batch, result, ctx);
  if (outcome.kind === 'done' && last !== undefined) ctx.commit(batch.topic, batch.partition, nextAfter(last));
  return outcome;
}
