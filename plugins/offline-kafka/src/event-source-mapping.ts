/**
 * One event-source mapping under serverless offline: N real consumer-group members (lib/consumer's
 * group member, the same code as the consume function) whose batches invoke the function through
 * serverless-offline's runner. The member commits a batch only after the invocation resolved; a throw or
 * a timeout is a function error, one batch in flight per partition.
 *
 * Failures follow the event's error-handling controls (lib/consumer/delivery-policy.ts, AWS's defaults
 * where unset): retries, record age, bisecting, partial batch responses, the on-failure destination.
 * With schemaRegistryConfig, records are validated and decoded before the filter and the function
 * (lib/schema-registry/record-transform.ts); the refused ones go to the on-failure destination or are dropped.
 *
 * The mapping supervises its members: a member that could not join (broker down at start) or crashed
 * (broker gone later) is started again with backoff, so the mapping resumes by itself while HTTP keeps
 * serving. A member whose on-failure destination refused records is not restarted: its group keeps the
 * offset, the next start tries again.
 */
import type { Kafka } from 'kafkajs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MSKRecord } from 'aws-lambda';
import type { ConsumeConfig } from '../../../lib/config';
import { startGroupMember, type GroupMember, type GroupMemberSummary, type Outage } from '../../../lib/consumer/group-member';
import type { KafkaEvent } from '../../../lib/consumer/lambda-event';
import { formatFailureDestination } from '../../../lib/consumer/delivery-policy';
import { errorMessage } from '../../../lib/errors';
import { schemaRegistryValidation } from '../../../lib/schema-registry/record-transform';
import type { SchemaSerde } from '../../../lib/schema-registry/schema-serde';
import type { MappingSpec } from './event-config';
import { isLambdaTimeout } from './offline-runner';

export type Invoke = (functionKey: string, event: KafkaEvent) => Promise<unknown>;

export interface MappingOptions {
  spec: MappingSpec;
  kafka: Kafka;
  logger: Logger;
  consume: ConsumeConfig;
  invoke: Invoke;
  /** The registry the event's schemaRegistryURI resolves to locally (see event-config.ts), for events with schemaRegistryConfig. */
  schemaSerde?: SchemaSerde;
  /** Backoff between restarts of a member that could not join or crashed. */
  restartBackoffMs?: { initial: number; max: number };
}

interface InvocationSummary {
  partitions: number[];
  records: number;
  firstOffset: number | undefined;
  lastOffset: number | undefined;
  offsets: Record<string, [number, number]>;
}

/** Partitions, record count and offsets of an event, for the per-invocation log line. */
export function summariseEvent(event: KafkaEvent): InvocationSummary {
  const partitions: number[] = [];
  const offsets: Record<string, [number, number]> = {};
  let records = 0;
  let firstOffset: number | undefined;
  let lastOffset: number | undefined;
  for (const list of Object.values(event.records)) {
    const first = list[0];
    const last = list[list.length - 1];
    if (first === undefined || last === undefined) continue;
    partitions.push(first.partition);
    offsets[String(first.partition)] = [first.offset, last.offset];
    records += list.length;
    firstOffset = firstOffset === undefined ? first.offset : Math.min(firstOffset, first.offset);
    lastOffset = lastOffset === undefined ? last.offset : Math.max(lastOffset, last.offset);
  }
  return { partitions, records, firstOffset, lastOffset, offsets };
}

export class EventSourceMapping {
  readonly spec: MappingSpec;
  readonly #options: MappingOptions;
  readonly #log: Logger;
  readonly #members: (GroupMember | undefined)[] = [];
  readonly #supervisors: Promise<void>[] = [];
  #stopping = false;
  #wakeUpAll = new Set<() => void>();

  constructor(options: MappingOptions) {
    this.spec = options.spec;
    this.#options = options;
    this.#log = options.logger.createChild({
      persistentKeys: { mapping: options.spec.id, function: options.spec.functionKey, groupId: options.spec.groupId },
    });
  }

  /** Starts the members in the background; returns at once (joining may take a while or wait for a broker). */
  start(): void {
    const { spec } = this;
    this.#log.info('event source mapping started', {
      eventType: spec.eventType,
      eventSource: spec.eventSource.kind,
      topic: spec.topic,
      members: spec.members,
      brokers: spec.brokers,
      batchSize: spec.batchSize,
      batchWindowMs: spec.batchWindowMs,
      startingPosition: spec.startingPosition,
      filterPatterns: spec.filter?.source,
      ...(spec.schemaRegistry === undefined
        ? {}
        : {
            schemaRegistry: {
              schemaRegistryURI: spec.schemaRegistry.schemaRegistryURI,
              localRegistry: spec.schemaRegistry.localUrl,
              eventRecordFormat: spec.schemaRegistry.eventRecordFormat,
              attributes: spec.schemaRegistry.attributes,
            },
          }),
      errorHandling: {
        ...spec.errorHandling,
        onFailure: spec.errorHandling.onFailure && formatFailureDestination(spec.errorHandling.onFailure),
      },
    });
    for (let index = 0; index < spec.members; index += 1) {
      this.#supervisors.push(this.#supervise(index));
    }
  }

  /** The group members currently running (for tests and the shutdown log). */
  memberIds(): string[] {
    return this.#members.flatMap((member) => {
      const id = member?.memberId();
      return id === undefined ? [] : [id];
    });
  }

  /** Each member finishes its batch in hand, commits and leaves the group; resolves when all have. */
  async stop(): Promise<GroupMemberSummary[]> {
    this.#stopping = true;
    for (const wake of this.#wakeUpAll) wake();
    const summaries = await Promise.all(this.#members.map((member) => member?.stop()));
    await Promise.all(this.#supervisors);
    return summaries.filter((summary): summary is GroupMemberSummary => summary !== undefined);
  }

  /**
   * Keeps member `index` running. While Kafka cannot be reached at start (or has just come up, its topic not
   * created yet), each attempt is one line saying what it waits for (the member itself stays quiet about it),
   * and the member that gets in says "kafka reachable again" with the outage's length, as a member does when
   * Kafka goes away under it.
   */
  async #supervise(index: number): Promise<void> {
    const backoff = this.#options.restartBackoffMs ?? { initial: 1_000, max: 5_000 };
    let delay = backoff.initial;
    let outage: Outage | undefined;
    // Starts in a row that could not get in (Kafka unreachable, topic not there yet); reset once in the group.
    let attempts = 0;
    while (!this.#stopping) {
      const member = this.#startMember(outage);
      this.#members[index] = member;
      member.joined.then(
        () => {
          delay = backoff.initial;
          outage = undefined;
          attempts = 0;
        },
        () => undefined,
      );
      const summary = await member.done;
      if (this.#stopping) return;
      if (summary.stoppedBecause !== 'failed') return;
      const { end } = summary;
      if (end.kind === 'destination-failed') {
        this.#log.error('event source mapping stopped: its on-failure destination refused records; restart offline to try again', {
          member: index,
          end,
          recordsProcessed: summary.recordsProcessed,
        });
        return;
      }
      const awaiting = end.kind === 'could-not-start' ? end.awaiting : undefined;
      if (awaiting !== undefined) {
        attempts += 1;
        if (awaiting.reason === 'kafka-unreachable') outage ??= { since: Date.now(), restarts: 0 };
        if (outage !== undefined) outage.restarts += 1;
        const message = awaiting.reason === 'kafka-unreachable' ? 'kafka unreachable, member retrying' : 'topic not found, member retrying';
        // During an outage the member counts its own restarts on it too: one sequence of attempts.
        const attempt = outage?.restarts ?? attempts;
        this.#log.warn(message, { member: index, waitingFor: awaiting.waitingFor, retryInMs: delay, attempt, error: awaiting.error });
      } else {
        this.#log.warn('mapping member stopped, starting it again', { member: index, error: summary.error, retryInMs: delay });
      }
      await this.#sleep(delay);
      delay = Math.min(delay * 2, backoff.max);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakeUpAll.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakeUpAll.add(wake);
    });
  }

  #startMember(outage: Outage | undefined): GroupMember {
    const { spec } = this;
    const { consume, kafka, schemaSerde } = this.#options;
    const filter = spec.filter;
    const registry = spec.schemaRegistry;
    return startGroupMember({
      kafka,
      logger: this.#log,
      groupId: spec.groupId,
      topic: spec.topic,
      startingPosition: spec.startingPosition,
      batchSize: spec.batchSize,
      batchWindowMs: spec.batchWindowMs,
      sessionTimeoutMs: consume.sessionTimeoutMs,
      heartbeatIntervalMs: consume.heartbeatIntervalMs,
      rebalanceTimeoutMs: consume.rebalanceTimeoutMs,
      errorHandling: spec.errorHandling,
      retryBackoffMs: consume.retryBackoffMs,
      destinationsDir: consume.destinationsDir,
      functionName: spec.functionName,
      eventSource: spec.eventSource,
      invoke: (event) => this.#invoke(event),
      supervised: { outage },
      ...(filter === undefined ? {} : { filter: (record: MSKRecord) => filter.matches(record) }),
      ...(registry === undefined || schemaSerde === undefined
        ? {}
        : { validate: schemaRegistryValidation(registry, schemaSerde, this.#log) }),
    });
  }

  /** One invocation through serverless-offline, with its log line; rethrows so the member retries. */
  async #invoke(event: KafkaEvent): Promise<unknown> {
    const started = performance.now();
    const summary = summariseEvent(event);
    try {
      const result = await this.#options.invoke(this.spec.functionKey, event);
      this.#log.info('function invoked', { ...summary, durationMs: Math.round(performance.now() - started), outcome: 'success' });
      return result;
    } catch (error) {
      const outcome = isLambdaTimeout(error) ? 'timeout' : 'error';
      this.#log.warn('function invoked', {
        ...summary,
        durationMs: Math.round(performance.now() - started),
        outcome,
        error: errorMessage(error),
      });
      throw error;
    }
  }
}
