/**
 * One member of a Kafka consumer group that delivers records the way AWS Lambda's Kafka event-source
 * mapping does:
 *
 * - records reach `invoke` as Lambda's Kafka event, at most `batchSize` per invocation, records of
 *   several partitions in one event when one fetch brought them;
 * - the broker holds each fetch until about a batch's worth of bytes is there or `batchWindowMs` has
 *   passed (0: deliver as soon as anything is there);
 * - offsets are committed only after `invoke` resolved for the batch, so a crash re-delivers, never loses
 *   (the commit is sent while the next batch is handled, and awaited before any rejoin or leave);
 * - a failing batch is retried (same records, from the first uncommitted offset, with exponential
 *   backoff) up to `maxAttempts`; then the member stops with an error (`onFailure: 'stop'`, the default)
 *   or writes the records to a dead-letter topic and commits (`'dead-letter'`);
 * - order is kept within a partition: the next records of a partition are handed over only after the
 *   previous ones succeeded;
 * - stopping finishes the batch in hand, commits, and leaves the group (LeaveGroup), so the partitions
 *   move to the other members at once instead of after the session timeout.
 *
 * kafkajs sends heartbeats only when asked, so a heartbeat runs every `heartbeatIntervalMs` while the
 * handler works; a rebalance noticed meanwhile is acted on once the batch in hand is committed.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { MSKRecord } from 'aws-lambda';
import type { ConsumeConfig } from '../config';
import { errorMessage } from '../errors';
import { buildKafkaEvent, lambdaRecord, type EventSourceSpec, type KafkaEvent, type PartitionBatch } from './lambda-event';

export type { EventSourceSpec, KafkaEvent } from './lambda-event';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | { timestamp: number };

/** The consume settings a member applies, as lib/config.ts documents them. */
export type MemberSettings = Pick<
  ConsumeConfig,
  | 'batchSize'
  | 'batchWindowMs'
  | 'sessionTimeoutMs'
  | 'heartbeatIntervalMs'
  | 'rebalanceTimeoutMs'
  | 'maxAttempts'
  | 'retryBackoffMs'
  | 'onFailure'
  | 'deadLetterTopic'
>;

export interface GroupMemberOptions extends MemberSettings {
  kafka: Kafka;
  logger: Logger;
  groupId: string;
  topic: string;
  /** Where to start when the group has no committed offset for a partition. */
  startingPosition: StartingPosition;
  eventSource: EventSourceSpec;
  /** Handles one Lambda-shaped batch. Resolving = success (offsets committed after it); throwing = failure. */
  invoke: (event: KafkaEvent) => Promise<unknown>;
  /** Records for which this returns false are not passed to invoke but are committed (Lambda filterPatterns). */
  filter?: (record: MSKRecord) => boolean;
  /** Stop after this many records were processed. */
  maxRecords?: number;
  /** Stop after this long (measured from the start). */
  durationMs?: number;
}

export interface GroupMemberSummary {
  memberId: string | undefined;
  groupId: string;
  topic: string;
  /** Records whose batch succeeded (filtered-out records included); their offsets are committed in order right after. */
  recordsProcessed: number;
  /** Invocations that succeeded. */
  batches: number;
  /** Failed attempts that were retried. */
  retries: number;
  deadLettered: number;
  /** Records skipped by the filter (committed without an invocation). */
  filtered: number;
  /** Partitions held at the last assignment. */
  partitions: number[];
  stoppedBecause: 'duration' | 'maxRecords' | 'stopped' | 'failed';
  error?: string;
}

export interface GroupMember {
  /** Resolves once the member has joined the group, rejects if it could not start. */
  joined: Promise<void>;
  memberId(): string | undefined;
  /** Finish the batch in hand, commit, leave the group, disconnect. Idempotent. */
  stop(): Promise<GroupMemberSummary>;
  /** Resolves when the member has stopped for any reason (duration, maxRecords, stop(), failure). */
  done: Promise<GroupMemberSummary>;
}

/** kafkajs runs one eachBatch per partition of a fetch at the same time (up to this many). */
const CONCURRENT_PARTITIONS = 64;
/** How long an idle fetch waits at the broker when the window is 0 (bounds how long a stop waits for it). */
const IDLE_FETCH_WAIT_MS = 500;
/** With a window, the broker answers a fetch early once this many bytes per record of a full batch are there. */
const BYTES_PER_RECORD_ESTIMATE = 1_024;
const MAX_MIN_BYTES = 1_048_576;
/** Exponential backoff between attempts stops growing here. */
const MAX_BACKOFF_MS = 60_000;

type Outcome =
  | { ok: true }
  /** The batch failed for good, or the member is stopping: leave its records uncommitted. */
  | { ok: false; rethrow: false }
  /** A Kafka error the runner must see (commit refused during a rebalance …): thrown out of eachBatch. */
  | { ok: false; rethrow: true; error: unknown };

interface Contribution {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  payload: EachBatchPayload;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((resolvePromise) => {
    resolve = resolvePromise;
  });
  return { promise, resolve };
}

/** Waits ms, or less when `cut` resolves first (the timer is cleared, so it keeps no process alive). */
function waitUnless(ms: number, cut: Promise<void>): Promise<void> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(resolvePromise, ms);
    void cut.then(() => {
      clearTimeout(timer);
      resolvePromise();
    });
  });
}

function offsetRange(batches: PartitionBatch[]): Record<string, string> {
  const ranges: Record<string, string> = {};
  for (const { topic, partition, messages } of batches) {
    const first = messages[0];
    const last = messages[messages.length - 1];
    if (first !== undefined && last !== undefined) ranges[`${topic}-${partition}`] = `${first.offset}..${last.offset}`;
  }
  return ranges;
}

/** Starts a member: connects, subscribes, joins the group and delivers batches until stopped. */
export function startGroupMember(options: GroupMemberOptions): GroupMember {
  const { kafka, logger, groupId, topic } = options;
  const windowed = options.batchWindowMs > 0;
  const consumer: Consumer = kafka.consumer({
    // kafkajs restarts a crashed consumer by itself; once we stop, a restart already under way must not
    // schedule another, or a consumer would rejoin the group after "group left" and keep the process alive.
    retry: { retries: 5, restartOnFailure: async () => !stopping },
    groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    maxWaitTimeInMs: windowed ? options.batchWindowMs : IDLE_FETCH_WAIT_MS,
    minBytes: windowed ? Math.min(options.batchSize * BYTES_PER_RECORD_ESTIMATE, MAX_MIN_BYTES) : 1,
    allowAutoTopicCreation: false,
  });

  let memberId: string | undefined;
  let partitions: number[] = [];
  let hasJoined = false;
  const counters = { recordsProcessed: 0, batches: 0, retries: 0, deadLettered: 0, filtered: 0 };
  /** Records handed to the collector and not yet failed: bounds what maxRecords lets through. */
  let claimed = 0;
  let stopping = false;
  let stoppedBecause: GroupMemberSummary['stoppedBecause'] = 'stopped';
  let failure: string | undefined;
  let stopPromise: Promise<GroupMemberSummary> | undefined;
  let durationTimer: NodeJS.Timeout | undefined;
  let producer: Producer | undefined;
  /** Heartbeat errors seen while a handler ran (a rebalance, an expired session), re-thrown to kafkajs. */
  let heartbeatError: unknown;
  const activePayloads = new Set<EachBatchPayload>();
  let heartbeatTimer: NodeJS.Timeout | undefined;
  /**
   * Where partitions without a committed offset start, resolved before joining: the end of the log at
   * start-up (LATEST, so a record produced once "group joined" is logged is never skipped) or the offset
   * at the timestamp (AT_TIMESTAMP). LATEST applies at the first assignment only; a partition that comes
   * later without a committed offset starts at the then latest offset (kafkajs's own fallback).
   */
  const startOffsets = new Map<number, string>();

  let joinedSettled = false;
  let resolveJoined: () => void = () => undefined;
  let rejectJoined: (error: unknown) => void = () => undefined;
  const joined = new Promise<void>((resolvePromise, reject) => {
    resolveJoined = () => {
      if (!joinedSettled) resolvePromise();
      joinedSettled = true;
    };
    rejectJoined = (error) => {
      if (!joinedSettled) reject(error);
      joinedSettled = true;
    };
  });
  // A caller that only awaits `done` must not see an unhandled rejection of `joined`.
  joined.catch(() => undefined);
  const doneDeferred = deferred<GroupMemberSummary>();
  const stopRequested = deferred<void>();

  const summary = (): GroupMemberSummary => ({
    memberId,
    groupId,
    topic,
    ...counters,
    partitions: [...partitions],
    stoppedBecause,
    ...(failure === undefined ? {} : { error: failure }),
  });

  const beat = () => {
    const [payload] = activePayloads;
    if (payload === undefined) return;
    payload.heartbeat().catch((error: unknown) => {
      heartbeatError ??= error;
    });
  };

  const recordsLeft = () => (options.maxRecords === undefined ? Number.POSITIVE_INFINITY : options.maxRecords - claimed);

  // ---- batches: contributions of concurrently handled partitions, delivered one invocation at a time ----
  let pending: Contribution[] = [];
  let pendingCount = 0;
  let pendingResult: Deferred<Outcome> | undefined;
  let flushScheduled = false;
  let deliveries: Promise<void> = Promise.resolve();

  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0 || pendingResult === undefined) return;
    const taken = pending;
    const result = pendingResult;
    pending = [];
    pendingCount = 0;
    pendingResult = undefined;
    deliveries = deliveries.then(async () => {
      try {
        result.resolve(await deliver(taken));
      } catch (error) {
        result.resolve({ ok: false, rethrow: true, error });
      }
    });
  };

  const contribute = (contribution: Contribution): Promise<Outcome> => {
    pending.push(contribution);
    pendingCount += contribution.messages.length;
    claimed += contribution.messages.length;
    pendingResult ??= deferred<Outcome>();
    const { promise } = pendingResult;
    if (pendingCount >= options.batchSize) {
      flush();
    } else if (!flushScheduled) {
      // The other partitions of the same fetch reach eachBatch in this same turn: gather them first.
      flushScheduled = true;
      setImmediate(flush);
    }
    return promise;
  };

  /** Writes the records the handler was given (not those the filter left out) to the dead-letter topic. */
  const deadLetter = async (batches: PartitionBatch[], error: unknown, attempts: number) => {
    const target = options.deadLetterTopic.replaceAll('{topic}', topic);
    if (producer === undefined) {
      const admin: Admin = kafka.admin();
      await admin.connect();
      try {
        // A missing dead-letter topic is created rather than losing the records.
        await admin.createTopics({ topics: [{ topic: target, numPartitions: 1 }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
      producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
    }
    const messages = batches.flatMap(({ topic: source, partition, messages: records }) =>
      records.map((message) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          'x-dead-letter-source': `${source}-${partition}@${message.offset}`,
          'x-dead-letter-error': errorMessage(error).slice(0, 1_000),
          'x-dead-letter-attempts': String(attempts),
          'x-dead-letter-group': groupId,
        },
      })),
    );
    await producer.send({ topic: target, messages });
    logger.error('records dead-lettered', {
      groupId,
      memberId,
      deadLetterTopic: target,
      records: messages.length,
      offsets: offsetRange(batches),
      attempts,
      error: errorMessage(error),
    });
    return messages.length;
  };

  // ---- commits: in order, one request in flight, later offsets of a partition superseding earlier ones ----
  /** topic → partition → next offset to read, for batches that succeeded and are not committed yet. */
  const pendingOffsets = new Map<string, Map<number, bigint>>();
  let commitPayload: EachBatchPayload | undefined;
  let committing: Promise<void> | undefined;
  /** A commit the broker refused since the last join, re-thrown to kafkajs so that it rejoins. */
  let commitError: unknown;

  const commitPending = async () => {
    while (pendingOffsets.size > 0 && commitError === undefined && commitPayload !== undefined) {
      const topics = [...pendingOffsets].map(([name, offsets]) => ({
        topic: name,
        partitions: [...offsets].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
      }));
      pendingOffsets.clear();
      try {
        await commitPayload.commitOffsetsIfNecessary({ topics });
      } catch (error) {
        // Processed but not committed (typically a rebalance): whoever owns these partitions next gets
        // the records again — at least once.
        commitError = error;
        pendingOffsets.clear();
        logger.warn('commit refused', { groupId, memberId, offsets: topics, error: errorMessage(error) });
      }
    }
  };

  const startCommitting = () => {
    if (committing !== undefined) return;
    committing = commitPending().finally(() => {
      committing = undefined;
    });
  };

  const enqueueCommit = (contributions: Contribution[]) => {
    // After a refused commit nothing more is committed until the member has rejoined.
    if (commitError !== undefined) return;
    for (const { topic: name, partition, messages, payload } of contributions) {
      const last = messages[messages.length - 1];
      if (last === undefined) continue;
      const offsets = pendingOffsets.get(name) ?? new Map<number, bigint>();
      // The committed offset is the next record to read.
      const next = BigInt(last.offset) + 1n;
      const previous = offsets.get(partition);
      offsets.set(partition, previous !== undefined && previous > next ? previous : next);
      pendingOffsets.set(name, offsets);
      commitPayload = payload;
    }
    startCommitting();
  };

  /** Resolves once every enqueued commit has been answered (or one was refused). */
  const commitsSettled = async () => {
    for (;;) {
      if (committing !== undefined) {
        await committing;
      } else if (pendingOffsets.size > 0 && commitError === undefined) {
        startCommitting();
      } else {
        return;
      }
    }
  };

  const deliver = async (contributions: Contribution[]): Promise<Outcome> => {
    const count = contributions.reduce((sum, { messages }) => sum + messages.length, 0);
    if (stopping) {
      // Queued behind the batch in hand when the stop came: left uncommitted for the next owner.
      claimed -= count;
      return { ok: false, rethrow: false };
    }
    // What the handler is given: the records the filter keeps (all of them when the event cannot be built).
    let batches: PartitionBatch[] = contributions.map(({ topic: name, partition, messages }) => ({ topic: name, partition, messages }));
    const { filter } = options;
    let skipped = 0;
    let event: KafkaEvent | undefined;
    let lastError: unknown;
    try {
      const kept =
        filter === undefined
          ? batches
          : batches.map((batch) => ({
              ...batch,
              messages: batch.messages.filter((message) => filter(lambdaRecord(batch.topic, batch.partition, message))),
            }));
      event = buildKafkaEvent(options.eventSource, kept);
      skipped = count - kept.reduce((sum, { messages }) => sum + messages.length, 0);
      batches = kept;
    } catch (error) {
      // A record the event cannot be built from fails like a handler would, through the failure policy.
      lastError = error;
      logger.warn('batch failed', {
        groupId,
        memberId,
        attempt: 0,
        records: count,
        offsets: offsetRange(contributions),
        error: `could not build the event: ${errorMessage(error)}`,
      });
    }
    let succeeded = event !== undefined && count === skipped;
    let attempts = 0;
    if (event !== undefined && !succeeded) {
      for (let attempt = 1; attempt <= options.maxAttempts; attempt += 1) {
        attempts = attempt;
        try {
          await options.invoke(event);
          succeeded = true;
          break;
        } catch (error) {
          lastError = error;
          logger.warn('batch failed', {
            groupId,
            memberId,
            attempt,
            maxAttempts: options.maxAttempts,
            records: count,
            offsets: offsetRange(contributions),
            error: errorMessage(error),
          });
          if (attempt === options.maxAttempts) break;
          if (stopping) {
            // Leaving: the next owner of these partitions gets the records again.
            claimed -= count;
            return { ok: false, rethrow: false };
          }
          counters.retries += 1;
          // A stop cuts the wait short; the attempt after it is then skipped (see above).
          await waitUnless(Math.min(options.retryBackoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS), stopRequested.promise);
          if (stopping) {
            claimed -= count;
            return { ok: false, rethrow: false };
          }
        }
      }
    }

    let deadLettered = 0;
    if (!succeeded) {
      if (options.onFailure === 'dead-letter') {
        try {
          deadLettered = await deadLetter(batches, lastError, attempts);
        } catch (error) {
          claimed -= count;
          fail(
            `could not write ${count} records to the dead-letter topic after ${attempts} failed attempts: ${errorMessage(error)}`,
            error,
          );
          return { ok: false, rethrow: false };
        }
      } else {
        claimed -= count;
        const ranges = Object.entries(offsetRange(contributions))
          .map(([key, range]) => `${key} offsets ${range}`)
          .join(', ');
        fail(
          event === undefined
            ? `could not build the Lambda event for ${ranges} (CONSUME_ON_FAILURE=stop): ${errorMessage(lastError)}`
            : `the handler failed ${attempts} times for ${ranges} (CONSUME_ON_FAILURE=stop); last error: ${errorMessage(lastError)}`,
          lastError,
        );
        return { ok: false, rethrow: false };
      }
    }

    // Committed without holding up the next batch (requests coalesce while one is in flight), and
    // awaited before eachBatch returns, so before any rejoin or LeaveGroup.
    enqueueCommit(contributions);
    counters.deadLettered += deadLettered;
    counters.filtered += skipped;
    counters.recordsProcessed += count - deadLettered;
    if (succeeded && count > skipped) counters.batches += 1;
    if (options.maxRecords !== undefined && counters.recordsProcessed + counters.deadLettered >= options.maxRecords) {
      void requestStop('maxRecords');
    }
    return { ok: true };
  };

  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    activePayloads.add(payload);
    try {
      let index = 0;
      while (index < batch.messages.length) {
        if (stopping || !payload.isRunning() || payload.isStale() || heartbeatError !== undefined || commitError !== undefined) break;
        const room = Math.min(options.batchSize - pendingCount, recordsLeft());
        if (room <= 0) break;
        const messages = batch.messages.slice(index, index + room);
        const outcome = await contribute({ topic: batch.topic, partition: batch.partition, messages, payload });
        if (!outcome.ok) {
          if (outcome.rethrow) throw outcome.error;
          break;
        }
        const last = messages[messages.length - 1];
        if (last !== undefined) payload.resolveOffset(last.offset);
        index += messages.length;
      }
      await commitsSettled();
      if (commitError !== undefined && !stopping) throw commitError;
      if (heartbeatError !== undefined && !stopping) {
        const error = heartbeatError;
        heartbeatError = undefined;
        throw error;
      }
    } finally {
      activePayloads.delete(payload);
    }
  };

  const fail = (message: string, cause: unknown) => {
    failure = message;
    // Also when a stop was already under way: the summary must say the handler failed for good.
    stoppedBecause = 'failed';
    logger.error('member failed', { groupId, memberId, error: message, cause: errorMessage(cause) });
    // Not awaited: stopping waits for this very eachBatch to return.
    void requestStop('failed');
  };

  const requestStop = (reason: GroupMemberSummary['stoppedBecause']): Promise<GroupMemberSummary> => {
    if (stopPromise !== undefined) return stopPromise;
    stopping = true;
    stoppedBecause = reason;
    stopRequested.resolve();
    stopPromise = (async () => {
      if (durationTimer !== undefined) clearTimeout(durationTimer);
      logger.info('group leaving', { groupId, memberId, reason });
      // kafkajs's stop is a no-op until run() has returned (its runner is not "running" while it joins),
      // and would then leave a consumer behind that rejoins by itself: let the start finish first.
      await started.catch(() => undefined);
      try {
        // Waits for the batch in hand, then LeaveGroup: the partitions move now, not after the session timeout.
        await consumer.disconnect();
      } catch (error) {
        logger.warn('consumer disconnect failed', { groupId, memberId, error: errorMessage(error) });
      }
      if (heartbeatTimer !== undefined) clearInterval(heartbeatTimer);
      if (producer !== undefined) {
        try {
          await producer.disconnect();
        } catch (error) {
          logger.warn('dead-letter producer disconnect failed', { groupId, memberId, error: errorMessage(error) });
        }
      }
      if (!hasJoined) rejectJoined(new Error(failure ?? `member of ${groupId} stopped (${reason}) before it joined the group`));
      const result = summary();
      logger.info('group left', { ...result });
      doneDeferred.resolve(result);
      return result;
    })();
    return stopPromise;
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    memberId = payload.memberId;
    partitions = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    heartbeatError = undefined;
    commitError = undefined;
    pendingOffsets.clear();
    logger.info('group joined', {
      memberId,
      groupId,
      assignment: { [topic]: partitions },
      isLeader: payload.isLeader,
      durationMs: payload.duration,
    });
    for (const partition of partitions) {
      const offset = startOffsets.get(partition);
      // Applied before the first fetch of the new assignment (seek only records it).
      if (offset !== undefined) consumer.seek({ topic, partition, offset });
    }
    if (options.startingPosition === 'LATEST') startOffsets.clear();
    hasJoined = true;
    resolveJoined();
  });
  consumer.on(consumer.events.REBALANCING, ({ payload }) => {
    logger.info('group rebalancing', { groupId, memberId: payload.memberId });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error('member crashed', { groupId, memberId, error: errorMessage(payload.error), restart: payload.restart });
    if (!payload.restart && !stopping) {
      failure = `consumer crashed: ${errorMessage(payload.error)}`;
      rejectJoined(payload.error);
      void requestStop('failed');
    }
  });
  consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
    for (const committed of payload.topics) {
      for (const { partition } of committed.partitions) startOffsets.delete(Number(partition));
    }
  });

  const start = async () => {
    await consumer.connect();
    if (options.startingPosition !== 'TRIM_HORIZON') {
      await resolveStartOffsets(kafka, groupId, topic, options.startingPosition, startOffsets);
    }
    await consumer.subscribe({ topics: [topic], fromBeginning: options.startingPosition !== 'LATEST' });
    // Twice per interval: kafkajs skips a heartbeat asked for sooner than heartbeatInterval after the last.
    heartbeatTimer = setInterval(beat, Math.max(50, Math.floor(options.heartbeatIntervalMs / 2)));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: CONCURRENT_PARTITIONS,
      eachBatch,
    });
  };

  if (options.durationMs !== undefined) {
    durationTimer = setTimeout(() => void requestStop('duration'), options.durationMs);
  }
  const started = start();
  started.catch((error: unknown) => {
    const missingTopic = typeof error === 'object' && error !== null && 'type' in error && error.type === 'UNKNOWN_TOPIC_OR_PARTITION';
    const reason = missingTopic ? `topic '${topic}' does not exist` : errorMessage(error);
    failure = `could not start the member of ${groupId} on ${topic}: ${reason}`;
    logger.error('member failed', { groupId, topic, error: failure });
    rejectJoined(error);
    void requestStop('failed');
  });

  return {
    joined,
    memberId: () => memberId,
    stop: () => requestStop('stopped'),
    done: doneDeferred.promise,
  };
}

/** For LATEST and AT_TIMESTAMP: the start offset of every partition the group has no committed offset for. */
async function resolveStartOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
  position: 'LATEST' | { timestamp: number },
  into: Map<number, string>,
) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const uncommitted = new Set((committed?.partitions ?? []).filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition));
    const offsets =
      position === 'LATEST'
        ? (await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => ({ partition, offset: high }))
        : await admin.fetchTopicOffsetsByTimestamp(topic, position.timestamp);
    for (const { partition, offset } of offsets) {
      if (uncommitted.has(partition)) into.set(partition, offset);
    }
  } finally {
    await admin.disconnect();
  }
}
