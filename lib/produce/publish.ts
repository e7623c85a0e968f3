/**
 * Publishing a checked ProduceRequest: topic metadata (exists? how many partitions? size limit?), one
 * partition per record, every remaining check done before the first byte is sent, then acks=all sends.
 * Everything that goes wrong becomes an error with meaning (lib/errors.ts); lib/http.ts maps it to HTTP.
 */
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { getConfig } from '../config';
import { BrokerUnavailableError, KafkaFunctionsError, TopicNotFoundError, ValidationError } from '../errors';
import type { Logger } from '@aws-lambda-powertools/logger';
import { getKafka } from '../kafka/client';
import { logger } from '../logger';
import { createPartitioner, type Partitioner } from './partitioners';
import type { ProduceRecord, ProduceRequest } from './produce-request';
import { isRecordTooLarge, isRetriesExhausted, isUnknownTopic, isUnreachable } from '../kafka/errors';
import { lazyConnection, type Connection } from '../kafka/lazy-connection';
import { createProduceProducer, createTopicInfoCache, type TopicInfo, type TopicInfoSource } from './producer';

export interface PublishDependencies {
  producer: Connection<Producer>;
  topics: TopicInfoSource;
  partitioner: Partitioner;
  /** The whole publish (metadata and sends) must finish within this, else BrokerUnavailableError. */
  timeoutMs: number;
}

export interface PublishedRecord {
  key: string | null;
  partition: number;
  /** Kafka offsets are 64-bit: a string, like kafkajs and the Kafka tools print them. */
  offset: string;
}

export interface PublishResult {
  topic: string;
  results: PublishedRecord[];
}

/** How long topic metadata is trusted before it is fetched again. */
export const TOPIC_METADATA_TTL_MS = 10_000;

/** The clients and strategy for a Kafka instance; tests and the benchmark build their own. */
export function createPublishDependencies(
  kafka: Kafka,
  options: { partitioner: Partitioner; timeoutMs: number },
  log: Logger = logger,
): PublishDependencies {
  return {
    // Logged so that an operator (and a test) can see the producer connect once, not per request.
    producer: lazyConnection(() => createProduceProducer(kafka), {
      connected: () => log.info('kafka producer connected'),
      discarded: () => log.warn('kafka producer dropped after a failure; the next request connects a new one'),
    }),
    topics: createTopicInfoCache(
      lazyConnection(() => kafka.admin()),
      TOPIC_METADATA_TTL_MS,
    ),
    ...options,
  };
}

let processDependencies: PublishDependencies | undefined;

/** The process's publish dependencies (one producer, one admin), created on first use from the config. */
export function getPublishDependencies(): PublishDependencies {
  const { produce } = getConfig();
  processDependencies ??= createPublishDependencies(getKafka(), {
    partitioner: createPartitioner(produce.partitioner),
    timeoutMs: produce.timeoutMs,
  });
  return processDependencies;
}

export async function closePublishDependencies(dependencies: PublishDependencies): Promise<void> {
  await Promise.all([dependencies.producer.close(), dependencies.topics.close()]);
}

// Record batch v2 layout (Kafka's DefaultRecordBatch / DefaultRecord): the broker compares a whole batch
// per partition with the topic's max.message.bytes, so sizes are estimated the same way, from above.
const BATCH_OVERHEAD = 61;
const MAX_VARLONG = 10;
const MAX_VARINT = 5;

function varintSize(value: number): number {
  let zigzag = value * 2;
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 0x80);
    size += 1;
  }
  return size;
}

function bytesField(length: number): number {
  return varintSize(length) + length;
}

/** Upper bound of a record's size inside a v2 batch. */
export function recordSizeInBatch(record: ProduceRecord): number {
  let body = 1 + MAX_VARLONG + MAX_VARINT; // attributes, timestamp delta, offset delta
  const key = record.keyBytes ?? record.key;
  body += key === null ? 1 : bytesField(Buffer.byteLength(key));
  body += bytesField(Buffer.byteLength(record.value));
  const headers = Object.entries(record.headers);
  body += varintSize(headers.length);
  for (const [name, value] of headers) body += bytesField(Buffer.byteLength(name)) + bytesField(Buffer.byteLength(value));
  return varintSize(body) + body;
}

interface Planned {
  index: number;
  record: ProduceRecord;
  partition: number;
  size: number;
}

function planPartitions(topic: string, records: ProduceRecord[], info: TopicInfo, partitioner: Partitioner): Planned[] {
  // Explicit partitions and sizes are all checked before the partitioner runs or anything is sent.
  const sizes = records.map((record, index) => {
    const where = records.length === 1 ? 'record' : `messages[${index}]`;
    if (record.partition !== undefined && record.partition >= info.numPartitions) {
      throw new ValidationError(
        `${where}.partition ${record.partition} does not exist: ` +
          `topic '${topic}' has ${info.numPartitions} partition(s), 0 to ${info.numPartitions - 1}`,
        `${where}.partition`,
      );
    }
    const size = recordSizeInBatch(record);
    if (BATCH_OVERHEAD + size > info.maxMessageBytes) {
      throw new ValidationError(
        `${where} is about ${BATCH_OVERHEAD + size} bytes; topic '${topic}' accepts at most ${info.maxMessageBytes} (max.message.bytes)`,
        where,
        'RECORD_TOO_LARGE',
      );
    }
    return size;
  });
  return records.map((record, index) => ({
    index,
    record,
    size: sizes[index] ?? 0,
    partition:
      record.partition ??
      partitioner({
        topic,
        numPartitions: info.numPartitions,
        key: record.keyBytes ?? (record.key === null ? null : Buffer.from(record.key, 'utf8')),
        value: record.parsedValue,
      }),
  }));
}

/**
 * Consecutive records split into sends whose batch for each partition stays under the topic's limit.
 * Per-partition order is kept: sends go one after another.
 */
function splitIntoSends(planned: Planned[], maxMessageBytes: number): Planned[][] {
  const sends: Planned[][] = [];
  let current: Planned[] = [];
  let sizes = new Map<number, number>();
  for (const item of planned) {
    const size = (sizes.get(item.partition) ?? BATCH_OVERHEAD) + item.size;
    if (size > maxMessageBytes && current.length > 0) {
      sends.push(current);
      current = [];
      sizes = new Map();
    }
    current.push(item);
    sizes.set(item.partition, (sizes.get(item.partition) ?? BATCH_OVERHEAD) + item.size);
  }
  if (current.length > 0) sends.push(current);
  return sends;
}

function toMessage({ record, partition }: Planned): Message {
  return { key: record.keyBytes ?? record.key, value: record.value, headers: record.headers, partition };
}

async function sendOne(producer: Producer, topic: string, items: Planned[], timeoutMs: number, results: PublishedRecord[]): Promise<void> {
  const metadata: RecordMetadata[] = await producer.send({ topic, acks: -1, timeout: timeoutMs, messages: items.map(toMessage) });
  const baseOffsets = new Map(metadata.map((entry) => [entry.partition, entry.baseOffset ?? entry.offset]));
  // A send writes one batch per partition; its records get consecutive offsets from the batch's base.
  const seen = new Map<number, bigint>();
  for (const item of items) {
    const base = baseOffsets.get(item.partition);
    if (base === undefined) throw new KafkaFunctionsError('INTERNAL', `no offset returned for partition ${item.partition}`);
    const position = seen.get(item.partition) ?? 0n;
    seen.set(item.partition, position + 1n);
    results[item.index] = { key: item.record.key, partition: item.partition, offset: (BigInt(base) + position).toString() };
  }
}

/** Set once the deadline has passed: the request has been answered 503, so nothing more may be sent. */
interface Deadline {
  passed: boolean;
}

async function publishWithinDeadline(
  request: ProduceRequest,
  dependencies: PublishDependencies,
  deadline: Deadline,
): Promise<PublishResult> {
  const { topic } = request;
  const stopIfLate = () => {
    if (deadline.passed) throw new BrokerUnavailableError(`Kafka did not answer within ${dependencies.timeoutMs} ms`);
  };
  const info = await dependencies.topics.get(topic);
  stopIfLate();
  const planned = planPartitions(topic, request.records, info, dependencies.partitioner);
  let producer = await dependencies.producer.get();
  const results: PublishedRecord[] = new Array<PublishedRecord>(planned.length);
  for (const [index, items] of splitIntoSends(planned, info.maxMessageBytes).entries()) {
    // Checked before every send: a request answered 503 must not write afterwards.
    stopIfLate();
    try {
      await sendOne(producer, topic, items, dependencies.timeoutMs, results);
    } catch (error: unknown) {
      // A kafkajs producer asks for the metadata of every topic it has written to; once one of them is
      // deleted, each of its metadata requests fails as "unknown topic", whatever topic it is sending to.
      // The admin has just found this topic, so a fresh producer gets one try, while nothing of this
      // request has been written (the failed send wrote nothing: it was refused or never sent).
      if (index > 0 || !(toProduceError(error, topic) instanceof TopicNotFoundError)) throw error;
      dependencies.producer.discard();
      producer = await dependencies.producer.get();
      stopIfLate();
      await sendOne(producer, topic, items, dependencies.timeoutMs, results);
    }
  }
  return { topic, results };
}

/** A kafkajs failure as an error with meaning; anything unrecognised is returned unchanged (a 500). */
export function toProduceError(error: unknown, topic: string): unknown {
  if (error instanceof KafkaFunctionsError) return error;
  if (isRecordTooLarge(error)) {
    return new ValidationError(
      `a record is over the size topic '${topic}' accepts (the broker refused it)`,
      'messages',
      'RECORD_TOO_LARGE',
    );
  }
  if (isUnknownTopic(error)) return new TopicNotFoundError(topic, { cause: error });
  if (isUnreachable(error) || isRetriesExhausted(error)) {
    return new BrokerUnavailableError('Kafka did not answer', { cause: error });
  }
  return error;
}

function withDeadline<T>(timeoutMs: number, work: (deadline: Deadline) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const state: Deadline = { passed: false };
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      state.passed = true;
      reject(new BrokerUnavailableError(`Kafka did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const running = work(state);
  // The work goes on after a timeout until it notices; its late failure is already answered.
  running.catch(() => undefined);
  return Promise.race([running, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Publishes the records and returns, in request order, where each landed. Throws ValidationError (bad
 * partition, record too large), TopicNotFoundError, or BrokerUnavailableError (nothing answered within
 * timeoutMs; the clients are then replaced on the next request). A timeout cannot un-send a batch that
 * was already on the wire: a 503 after the deadline may still have been written.
 */
export async function publish(request: ProduceRequest, dependencies: PublishDependencies): Promise<PublishResult> {
  try {
    return await withDeadline(dependencies.timeoutMs, (deadline) => publishWithinDeadline(request, dependencies, deadline));
  } catch (error: unknown) {
    const mapped = toProduceError(error, request.topic);
    if (mapped instanceof BrokerUnavailableError || !(mapped instanceof KafkaFunctionsError)) {
      // Unreachable, or a failure we do not know (a producer fenced or out of sequence …): the next
      // request connects afresh instead of reusing a client that may be broken.
      dependencies.producer.discard();
      dependencies.topics.discardConnection();
    } else if (mapped instanceof TopicNotFoundError) {
      dependencies.topics.forget(request.topic);
    }
    throw mapped;
  }
}
