/**
 * One member of a Kafka consumer group that delivers records the way AWS Lambda's Kafka event-source
 * mapping does:
 *
 * - records reach `invoke` as Lambda's Kafka event, at most `batchSize` per invocation, records of
 *   several partitions in one event when one fetch brought them (batch-collector.ts);
 * - with a schema registry, records are validated and decoded first: those refused go to the on-failure
 *   destination with AWS's reason code (or are dropped without one), and filterPatterns see the decoded rest;
 * - the broker holds each fetch until about a batch's worth of bytes is there or `batchWindowMs` has
 *   passed (0: deliver as soon as anything is there);
 * - failures are handled as AWS's error-handling controls say (delivery-policy.ts): retries with backoff,
 *   record age, bisecting, partial batch responses, the on-failure destination (failure-destinations.ts);
 * - offsets are committed only for records whose delivery is finished, so a crash re-delivers, never loses
 *   (commit-queue.ts: sent while the next batch is handled, awaited before any rejoin or leave);
 * - order is kept within a partition: the next records of a partition are handed over only after the
 *   previous ones are finished, and a partition being retried holds up only itself;
 * - stopping finishes the invocation in hand, commits, and leaves the group (LeaveGroup), so the partitions
 *   move to the other members at once instead of after the session timeout.
 *
 * kafkajs sends heartbeats only when asked, so a heartbeat runs every `heartbeatIntervalMs` while the
 * handler works; a rebalance noticed meanwhile is acted on once the batch in hand is committed.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { MSKRecord } from 'aws-lambda';
import type { ConsumeConfig } from '../config';
import { errorMessage } from '../errors';
import { awaitedBroker, innermostError, isConnectionFailure, isUnknownTopic } from '../kafka/errors';
import { BatchCollector, type Contribution, type ContributionOutcome } from './batch-collector';
import { CommitQueue } from './commit-queue';
import { Heartbeats } from './heartbeats';
import { Latch } from './latch';
import {
  backoffMs,
  deliverBatch,
  formatFailureDestination,
  giveUp,
  type DeliveryContext,
  type DeliveryStats,
  type PartitionOutcome,
  type RecordValidation,
} from './delivery-policy';
import { createFailureDestination, localFunctionArn } from './failure-destinations';
import { buildKafkaEvent, filterRecord, type EventSourceSpec, type KafkaEvent, type PartitionBatch } from './lambda-event';

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
  | 'errorHandling'
  | 'retryBackoffMs'
  | 'destinationsDir'
>;

export interface GroupMemberOptions extends MemberSettings {
  kafka: Kafka;
  logger: Logger;
  groupId: string;
  topic: string;
  /** Where to start when the group has no committed offset for a partition. */
  startingPosition: StartingPosition;
  eventSource: EventSourceSpec;
  /**
   * Handles one Lambda-shaped batch. Resolving = success, or with ReportBatchItemFailures the records its
   * `batchItemFailures` names failed; throwing = the batch failed.
   */
  invoke: (event: KafkaEvent) => Promise<unknown>;
  /**
   * Records for which this returns false are not passed to invoke but are committed (Lambda filterPatterns).
   * With `validate`, it sees the records that passed, their values deserialized.
   */
  filter?: (record: MSKRecord) => boolean;
  /** The schema registry step: records it refuses go to the on-failure destination (or are dropped), then are committed. */
  validate?: RecordValidation;
  /** The function's name in the invocation records sent to the on-failure destination (default consume). */
  functionName?: string;
  /** Stop after this many records were finished. */
  maxRecords?: number;
  /** Stop after this long (measured from the start). */
  durationMs?: number;
  /**
   * Set by an owner that starts the member again when Kafka cannot be reached at start (the offline-kafka
   * mapping): the owner says each retry in one line, so the member's own lines about such a start are debug.
   * `outage` is the one under way: the member counts its own restarts on it and ends it with "kafka
   * reachable again" once it is in the group.
   */
  supervised?: { outage: Outage | undefined };
}

/**
 * A start that may succeed later: Kafka could not be reached (waiting for `broker host:port` or `the cluster`), or
 * the topic does not exist yet (a broker that just came up before its topics were created: `topic <name>`).
 */
export interface StartWait {
  reason: 'kafka-unreachable' | 'topic-not-found';
  waitingFor: string;
  error: string;
}

/** Kafka unreachable since `since`; `restarts` members or consumers started again meanwhile. */
export interface Outage {
  since: number;
  restarts: number;
}

/** Why a member ended. The ones after `stopped` are failures: the member could not go on. */
export type MemberEnd =
  | { kind: 'duration' }
  | { kind: 'max-records' }
  | { kind: 'stopped' }
  /** The on-failure destination refused records: they and the partition's later records stay uncommitted. */
  | { kind: 'destination-failed'; destination: string; partition: string; error: string }
  /** `awaiting`: what the start lacked that may come by itself (Kafka, or the topic of a broker still starting). */
  | { kind: 'could-not-start'; error: string; awaiting?: StartWait }
  | { kind: 'crashed'; error: string };

export interface GroupMemberSummary {
  memberId: string | undefined;
  groupId: string;
  topic: string;
  /** Records handled (filtered-out records included, those given up on not); their offsets are committed. */
  recordsProcessed: number;
  /** Invocations that succeeded. */
  batches: number;
  /** Invocations again after a failure (the first attempt not counted, as AWS counts). */
  retries: number;
  /** Records given up on and sent to the on-failure destination. */
  sentToDestination: number;
  /** Records given up on without a destination (AWS discards them). */
  discarded: number;
  /** Records skipped by the filter (committed without an invocation). */
  filtered: number;
  /** Partitions held at the last assignment. */
  partitions: number[];
  end: MemberEnd;
  stoppedBecause: 'duration' | 'maxRecords' | 'stopped' | 'failed';
  /** For a failed end: what went wrong, in words. */
  error?: string;
}

export interface GroupMember {
  /** Resolves once the member has joined the group, rejects if it could not start. */
  joined: Promise<void>;
  memberId(): string | undefined;
  /** Finish the invocation in hand, commit, leave the group, disconnect. Idempotent. */
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
/** Wait before kafkajs restarts a member that crashed because Kafka is unreachable: doubled per restart, capped. */
const OUTAGE_BACKOFF_MS = 500;
const MAX_OUTAGE_BACKOFF_MS = 3_000;
/** Least wait before asking a schema registry that did not answer again. */
const MIN_REGISTRY_RETRY_MS = 100;

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

function nextOffsetAfter(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** The end in words, for logs and the consume function's error. */
export function describeEnd(end: MemberEnd): string | undefined {
  switch (end.kind) {
    case 'destination-failed':
      return `could not send records of ${end.partition} to the on-failure destination ${end.destination}: ${end.error}`;
    case 'could-not-start':
    case 'crashed':
      return end.error;
    default:
      return undefined;
  }
}

function stoppedBecauseOf(end: MemberEnd): GroupMemberSummary['stoppedBecause'] {
  if (end.kind === 'max-records') return 'maxRecords';
  if (end.kind === 'duration' || end.kind === 'stopped') return end.kind;
  return 'failed';
}

/** Starts a member: connects, subscribes, joins the group and delivers batches until stopped. */
export function startGroupMember(options: GroupMemberOptions): GroupMember {
  const { kafka, logger, groupId, topic } = options;
  const windowed = options.batchWindowMs > 0;
  const consumer: Consumer = kafka.consumer({
    // kafkajs restarts a crashed consumer by itself; once we stop, a restart already under way must not
    // schedule another, or a consumer would rejoin the group after "group left" and keep the process alive.
    // While Kafka is unreachable it would restart every half second: wait longer each time, one line per restart
    // (the member says "kafka reachable again" once it is back in the group).
    retry: {
      retries: 5,
      restartOnFailure: async (error: Error) => {
        if (!stopping && isConnectionFailure(error)) {
          outage ??= { since: Date.now(), restarts: 0 };
          outage.restarts += 1;
          const retryInMs = Math.min(OUTAGE_BACKOFF_MS * 2 ** (outage.restarts - 1), MAX_OUTAGE_BACKOFF_MS);
          logger.warn('kafka unreachable, member retrying', {
            groupId,
            memberId,
            waitingFor: awaitedBroker(error),
            retryInMs,
            attempt: outage.restarts,
            error: errorMessage(innermostError(error)),
          });
          await waitUnless(retryInMs, stopRequested.promise);
        }
        return !stopping;
      },
    },
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
  // Since the first restart for an unreachable cluster, until the member is in the group again.
  let outage: Outage | undefined = options.supervised?.outage;
  /** Records finished (handled, filtered out or given up on) and filtered out. */
  const counters = { finished: 0, filtered: 0 };
  /** Records handed to the collector and not yet failed: bounds what maxRecords lets through. */
  let claimed = 0;
  let stopping = false;
  let end: MemberEnd = { kind: 'stopped' };
  let stopPromise: Promise<GroupMemberSummary> | undefined;
  let durationTimer: NodeJS.Timeout | undefined;
  const heartbeats = new Heartbeats(options.heartbeatIntervalMs);
  /**
   * Where partitions without a committed offset start, resolved before joining: the end of the log at
   * start-up (LATEST, so a record produced once "group joined" is logged is never skipped) or the offset
   * at the timestamp (AT_TIMESTAMP). LATEST applies at the first assignment only; a partition that comes
   * later without a committed offset starts at the then latest offset (kafkajs's own fallback).
   */
  const startOffsets = new Map<number, string>();

  const joined = new Latch();
  const doneDeferred = deferred<GroupMemberSummary>();
  const stopRequested = deferred<void>();

  const summary = (): GroupMemberSummary => ({
    memberId,
    groupId,
    topic,
    recordsProcessed: counters.finished - stats.sentToDestination - stats.discarded,
    batches: stats.invocations - stats.failedInvocations,
    retries: stats.retries,
    sentToDestination: stats.sentToDestination,
    discarded: stats.discarded,
    filtered: counters.filtered,
    partitions: [...partitions],
    end,
    stoppedBecause: stoppedBecauseOf(end),
    ...(describeEnd(end) === undefined ? {} : { error: describeEnd(end) }),
  });

  const recordsLeft = () => (options.maxRecords === undefined ? Number.POSITIVE_INFINITY : options.maxRecords - claimed);

  // ---- delivery: batches gathered by the collector, settled by the delivery policy, committed by the queue ----
  const commits = new CommitQueue((offsets, error) => {
    logger.warn('commit refused', { groupId, memberId, offsets, error: errorMessage(error) });
  });
  const destination =
    options.errorHandling.onFailure === undefined
      ? undefined
      : createFailureDestination(options.errorHandling.onFailure, {
          kafka,
          logger,
          eventSource: options.eventSource,
          functionArn: localFunctionArn(options.functionName ?? 'consume'),
          directory: options.destinationsDir,
        });
  const stats: DeliveryStats = { invocations: 0, failedInvocations: 0, retries: 0, sentToDestination: 0, discarded: 0 };
  const stopped: ContributionOutcome = { ok: false, rethrow: false };
  /** Bumped at each join: settling that started in an earlier generation gives up its partition. */
  let generation = 0;
  /** Partitions paused while their records are retried on their own. */
  const paused = new Set<number>();
  /**
   * The delivery policy's logger, with the member id: made once per join, not per batch (a Powertools child
   * logger builds a Console and reads its environment: that cost the success path about a fifth of its rate).
   */
  let deliveryLogger = logger.createChild({ persistentKeys: { groupId } });

  const deliver = async (contributions: Contribution[]): Promise<Promise<ContributionOutcome>[]> => {
    const count = contributions.reduce((sum, { messages }) => sum + messages.length, 0);
    if (stopping) {
      // Queued behind the batch in hand when the stop came: left uncommitted for the next owner.
      claimed -= count;
      return contributions.map(() => Promise.resolve(stopped));
    }
    const payloads = new Map(contributions.map((c) => [`${c.topic}-${c.partition}`, c.payload]));
    const generationAtDelivery = generation;
    const context: DeliveryContext = {
      settings: options.errorHandling,
      retryBackoffMs: options.retryBackoffMs,
      toEvent: (records) => buildKafkaEvent(options.eventSource, records),
      invoke: options.invoke,
      sendToDestination: destination?.send,
      commit: (name, partition, nextOffset) => {
        const payload = payloads.get(`${name}-${partition}`);
        if (payload !== undefined) commits.add(name, partition, nextOffset, payload);
      },
      wait: (ms) => waitUnless(ms, stopRequested.promise),
      // A rebalance hands the partitions over: whoever owns them next starts again from the committed offset.
      stopping: () => stopping || generation !== generationAtDelivery,
      now: Date.now,
      logger: deliveryLogger,
      stats,
    };
    const batches = contributions.map(({ topic: name, partition, messages }) => ({ topic: name, partition, messages }));
    const validated = await validateRecords(batches, context);
    if (validated.kind !== 'passed') {
      // Stopping while the registry did not answer, or the destination refused what it refused: nothing is committed.
      claimed -= count;
      if (validated.kind === 'destination-failed') fail(destinationFailed(validated.partition, validated.error));
      return contributions.map(() => Promise.resolve(stopped));
    }
    const passed = validated.batches;
    const kept = keepFiltered(passed);
    const delivery = deliverBatch(
      kept.filter(({ messages }) => messages.length > 0),
      context,
    );
    await delivery.invoked;
    return contributions.map(async (contribution, index): Promise<ContributionOutcome> => {
      const key = `${contribution.topic}-${contribution.partition}`;
      const keptCount = kept[index]?.messages.length ?? 0;
      const filteredCount = (passed[index]?.messages.length ?? 0) - keptCount;
      if (keptCount === 0) {
        // Every record was left out by the filter or refused by the schema step: committed without an invocation.
        const last = contribution.messages[contribution.messages.length - 1];
        if (last !== undefined) commits.add(contribution.topic, contribution.partition, nextOffsetAfter(last.offset), contribution.payload);
        finished(contribution, filteredCount);
        return { ok: true };
      }
      const outcome = delivery.outcomes.get(key) ?? Promise.resolve<PartitionOutcome>({ kind: 'done' });
      if (delivery.settling.has(key)) {
        // Retried on its own: the partition is paused so that kafkajs goes on fetching the others (its fetch
        // loop waits for every eachBatch of a fetch), and picks up after the settled records once resumed.
        detach(contribution, filteredCount, outcome, generationAtDelivery);
        return stopped;
      }
      return settled(contribution, filteredCount, await outcome);
    });
  };

  /**
   * The schema step before the filter and the function (when there is one): refused records are handed to the
   * on-failure destination (or dropped) before the others are invoked, so the commit after them covers them. A
   * registry that does not answer holds the batch, retried with backoff until it answers or the member stops.
   */
  const validateRecords = async (
    batches: PartitionBatch[],
    context: DeliveryContext,
  ): Promise<
    | { kind: 'passed'; batches: PartitionBatch[] }
    | { kind: 'interrupted' }
    | { kind: 'destination-failed'; partition: string; error: unknown }
  > => {
    const { validate } = options;
    if (validate === undefined) return { kind: 'passed', batches };
    for (let attempt = 1; ; attempt += 1) {
      let result: Awaited<ReturnType<RecordValidation>>;
      try {
        result = await validate(batches);
      } catch (error) {
        if (context.stopping()) return { kind: 'interrupted' };
        // A floor, so that CONSUME_RETRY_BACKOFF_MS=0 does not ask a registry that is down in a tight loop.
        const retryInMs = backoffMs(Math.max(options.retryBackoffMs, MIN_REGISTRY_RETRY_MS), attempt);
        context.logger.warn('schema registry unavailable, batch held', { attempt, retryInMs, error: errorMessage(error) });
        await context.wait(retryInMs);
        if (context.stopping()) return { kind: 'interrupted' };
        continue;
      }
      for (const { condition, batches: refused } of result.rejected) {
        const outcome = await giveUp({ condition, batches: refused, attempts: 0, error: undefined }, context);
        if (outcome?.kind === 'destination-failed') {
          const first = refused[0];
          return {
            kind: 'destination-failed',
            partition: first === undefined ? '' : `${first.topic}-${first.partition}`,
            error: outcome.error,
          };
        }
      }
      return { kind: 'passed', batches: result.batches };
    }
  };

  const destinationFailed = (partition: string, error: unknown): MemberEnd => ({
    kind: 'destination-failed',
    destination: options.errorHandling.onFailure === undefined ? 'none' : formatFailureDestination(options.errorHandling.onFailure),
    partition,
    error: errorMessage(error),
  });

  /** Counts a contribution whose records are all finished; ends the member at maxRecords. */
  const finished = (contribution: Contribution, filteredCount: number) => {
    counters.finished += contribution.messages.length;
    counters.filtered += filteredCount;
    if (options.maxRecords !== undefined && counters.finished >= options.maxRecords) void requestStop({ kind: 'max-records' });
  };

  const settled = (contribution: Contribution, filteredCount: number, outcome: PartitionOutcome): ContributionOutcome => {
    if (outcome.kind === 'done') {
      // Records the filter left out after the last one invoked are committed with it.
      const last = contribution.messages[contribution.messages.length - 1];
      if (last !== undefined) commits.add(contribution.topic, contribution.partition, nextOffsetAfter(last.offset), contribution.payload);
      finished(contribution, filteredCount);
      return { ok: true };
    }
    claimed -= contribution.messages.length;
    if (outcome.kind === 'destination-failed') fail(destinationFailed(`${contribution.topic}-${contribution.partition}`, outcome.error));
    return stopped;
  };

  const detach = (contribution: Contribution, filteredCount: number, outcome: Promise<PartitionOutcome>, generationAtDelivery: number) => {
    const { topic: name, partition, messages } = contribution;
    consumer.pause([{ topic: name, partitions: [partition] }]);
    paused.add(partition);
    void outcome.then((result) => {
      const next = settled(contribution, filteredCount, result);
      const last = messages[messages.length - 1];
      if (!next.ok || stopping || generation !== generationAtDelivery || last === undefined) return;
      consumer.seek({ topic: name, partition, offset: nextOffsetAfter(last.offset) });
      paused.delete(partition);
      consumer.resume([{ topic: name, partitions: [partition] }]);
    });
  };

  /** What the handler is given: the records the filter keeps (all of them when the filter cannot read a record). */
  const keepFiltered = (batches: PartitionBatch[]): PartitionBatch[] => {
    const { filter } = options;
    if (filter === undefined) return batches;
    try {
      return batches.map((batch) => ({
        ...batch,
        messages: batch.messages.filter((message) => filter(filterRecord(batch.topic, batch.partition, message))),
      }));
    } catch {
      // Building the event fails the same way, through the delivery policy, like a handler error.
      return batches;
    }
  };

  const collector = new BatchCollector(options.batchSize, deliver);

  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    heartbeats.hold(payload);
    try {
      let index = 0;
      while (index < batch.messages.length) {
        if (stopping || !payload.isRunning() || payload.isStale() || heartbeats.failed || commits.refused !== undefined) break;
        const room = Math.min(options.batchSize - collector.pendingCount, recordsLeft());
        if (room <= 0) break;
        const messages = batch.messages.slice(index, index + room);
        claimed += messages.length;
        const outcome = await collector.contribute({ topic: batch.topic, partition: batch.partition, messages, payload });
        if (!outcome.ok) {
          if (outcome.rethrow) throw outcome.error;
          break;
        }
        const last = messages[messages.length - 1];
        if (last !== undefined) payload.resolveOffset(last.offset);
        index += messages.length;
      }
      await commits.settled();
      if (commits.refused !== undefined && !stopping) throw commits.refused;
      if (heartbeats.failed && !stopping) throw heartbeats.take();
    } finally {
      heartbeats.release(payload);
    }
  };

  /** Ends the member for a reason it cannot go past (also when a stop was already under way). */
  const fail = (failed: MemberEnd) => {
    end = failed;
    logger.error('member failed', { groupId, memberId, end: failed, error: describeEnd(failed) });
    // Not awaited: stopping waits for this very eachBatch to return.
    void requestStop(failed);
  };

  /** A start that may succeed later, which the member's owner retries and reports itself. */
  const retriedByOwner = () => options.supervised !== undefined && end.kind === 'could-not-start' && end.awaiting !== undefined;

  const requestStop = (reason: MemberEnd): Promise<GroupMemberSummary> => {
    if (stopPromise !== undefined) return stopPromise;
    stopping = true;
    if (end.kind === 'stopped') end = reason;
    stopRequested.resolve();
    stopPromise = (async () => {
      if (durationTimer !== undefined) clearTimeout(durationTimer);
      const say = retriedByOwner() ? logger.debug.bind(logger) : logger.info.bind(logger);
      say('group leaving', { groupId, memberId, reason: reason.kind });
      // kafkajs's stop is a no-op until run() has returned (its runner is not "running" while it joins),
      // and would then leave a consumer behind that rejoins by itself: let the start finish first.
      await started.catch(() => undefined);
      try {
        // Waits for the batch in hand, then LeaveGroup: the partitions move now, not after the session timeout.
        await consumer.disconnect();
      } catch (error) {
        logger.warn('consumer disconnect failed', { groupId, memberId, error: errorMessage(error) });
      }
      heartbeats.stop();
      try {
        await destination?.close();
      } catch (error) {
        logger.warn('on-failure destination producer disconnect failed', { groupId, memberId, error: errorMessage(error) });
      }
      // Settled already when it joined: then this changes nothing.
      joined.reject(new Error(describeEnd(end) ?? `member of ${groupId} stopped (${reason.kind}) before it joined the group`));
      const result = summary();
      say('group left', { ...result });
      doneDeferred.resolve(result);
      return result;
    })();
    return stopPromise;
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    memberId = payload.memberId;
    deliveryLogger = logger.createChild({ persistentKeys: { groupId, memberId } });
    partitions = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    heartbeats.take();
    commits.reset();
    generation += 1;
    if (paused.size > 0) {
      consumer.resume([{ topic, partitions: [...paused] }]);
      paused.clear();
    }
    if (outage !== undefined) {
      logger.info('kafka reachable again', { groupId, memberId, downMs: Date.now() - outage.since, restarts: outage.restarts });
      outage = undefined;
    }
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
    joined.resolve();
  });
  consumer.on(consumer.events.REBALANCING, ({ payload }) => {
    logger.info('group rebalancing', { groupId, memberId: payload.memberId });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    // A crash kafkajs restarts was said above (restartOnFailure) or by the kafkajs log creator ("consumer
    // restarting"); one it does not restart is the member's failure.
    if (payload.restart) logger.debug('member crashed, kafkajs restarts it', { groupId, memberId, error: errorMessage(payload.error) });
    else logger.error('member crashed', { groupId, memberId, error: errorMessage(payload.error), restart: false });
    if (!payload.restart && !stopping) {
      end = { kind: 'crashed', error: `consumer crashed: ${errorMessage(payload.error)}` };
      joined.reject(payload.error);
      void requestStop(end);
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
    heartbeats.start();
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: CONCURRENT_PARTITIONS,
      eachBatch,
    });
  };

  if (options.durationMs !== undefined) {
    durationTimer = setTimeout(() => void requestStop({ kind: 'duration' }), options.durationMs);
  }
  const started = start();
  started.catch((error: unknown) => {
    const missingTopic = isUnknownTopic(error);
    const reason = missingTopic ? `topic '${topic}' does not exist` : errorMessage(error);
    const awaiting: StartWait | undefined = isConnectionFailure(error)
      ? { reason: 'kafka-unreachable', waitingFor: awaitedBroker(error), error: errorMessage(innermostError(error)) }
      : missingTopic
        ? { reason: 'topic-not-found', waitingFor: `topic ${topic}`, error: reason }
        : undefined;
    const failed: MemberEnd = {
      kind: 'could-not-start',
      error: `could not start the member of ${groupId} on ${topic}: ${reason}`,
      ...(awaiting === undefined ? {} : { awaiting }),
    };
    // Stopped while connecting (Ctrl-C with Kafka down), or retried by the owner: said elsewhere, not an error here.
    const wasStopping = stopping;
    end = failed;
    if (wasStopping || retriedByOwner()) logger.debug('member failed', { groupId, topic, end, error: failed.error });
    else logger.error('member failed', { groupId, topic, end, error: failed.error });
    joined.reject(error);
    void requestStop(end);
  });

  return {
    joined: joined.promise,
    memberId: () => memberId,
    stop: () => requestStop({ kind: 'stopped' }),
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
