/**
 * The on-failure destinations of a Kafka event source mapping, with what AWS sends each
 * ("Capturing discarded batches for Amazon MSK and self-managed Apache Kafka event sources", "Using a
 * Kafka topic as an on-failure destination"):
 *
 * - `kafka://topic`: one message per failed record, written to that topic on the same brokers, keyed
 *   with the record's key; the value is the invocation record with `KafkaBatchInfo.recordInfo` (the
 *   record's offset and timestamp) and `payload`, the event of that one record. The topic must exist.
 * - SQS and SNS: one invocation record per failed batch, with `KafkaBatchInfo.recordsInfo` giving the
 *   first and last offset and timestamp of each "<topic>-<partition>"; the records themselves are not sent.
 * - S3: the same, plus `payload`, the whole event as a JSON string.
 *
 * Records a schema registry refused (record-transform.ts) carry AWS's reason code, SCHEMA_NOT_FOUND or
 * DESERIALIZATION_ERROR, as `requestContext.condition`, with `approximateInvokeCount` 0 and a null
 * `responseContext` (the function was not invoked for them), and their original key and value.
 *
 * SQS, SNS and S3 cannot be reached locally: what AWS would send is appended, one JSON line per invocation
 * record, to `<directory>/<sqs|sns|s3>/<queue, topic or bucket>.jsonl`, and logged.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Kafka, Producer } from 'kafkajs';
import type { FailedRecords, FailureDestination } from './delivery-policy';
import { formatFailureDestination } from './delivery-policy';
import { buildKafkaEvent, type EventSourceSpec, type PartitionBatch } from './lambda-event';

export interface DestinationContext {
  kafka: Kafka;
  logger: Logger;
  eventSource: EventSourceSpec;
  /** The function's ARN as the invocation record names it. */
  functionArn: string;
  /** Where SQS/SNS/S3 files go (relative paths from the working directory). */
  directory: string;
}

export interface FailureDestinationWriter {
  send: (failed: FailedRecords) => Promise<void>;
  close: () => Promise<void>;
}

/** The ARN the invocation records name: the region from AWS_REGION, a placeholder account (nothing is deployed). */
export function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:function:${functionName}`;
}

function isoTime(timestamp: string): string {
  const millis = Number(timestamp);
  return Number.isFinite(millis) && millis >= 0 ? new Date(millis).toISOString() : timestamp;
}

function batchInfoBase(context: DestinationContext, batchSize: number, payloadSize: number) {
  const { eventSource } = context;
  return {
    batchSize,
    ...(eventSource.kind === 'aws:kafka' ? { eventSourceArn: eventSource.eventSourceArn } : {}),
    bootstrapServers: eventSource.bootstrapServers.join(','),
    payloadSize,
  };
}

function contextFields(failed: FailedRecords, context: DestinationContext, condition: string) {
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: context.functionArn,
      condition,
      approximateInvokeCount: failed.attempts,
    },
    // AWS gives null here when the function was not invoked for the records (expired before it).
    responseContext: failed.error === undefined ? null : { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: new Date().toISOString(),
  };
}

/** The SQS/SNS invocation record (and, with the payload, S3's) for a failed batch. */
export function batchInvocationRecord(failed: FailedRecords, context: DestinationContext, withPayload: boolean): Record<string, unknown> {
  const event = JSON.stringify(buildKafkaEvent(context.eventSource, failed.batches));
  const recordsInfo: Record<string, unknown> = {};
  let batchSize = 0;
  for (const { topic, partition, messages } of failed.batches) {
    const first = messages[0];
    const last = messages[messages.length - 1];
    if (first === undefined || last === undefined) continue;
    batchSize += messages.length;
    recordsInfo[`${topic}-${partition}`] = {
      firstRecordOffset: first.offset,
      lastRecordOffset: last.offset,
      firstRecordTimestamp: isoTime(first.timestamp),
      lastRecordTimestamp: isoTime(last.timestamp),
    };
  }
  // The SQS/SNS/S3 page spells the condition RetryAttemptsExhausted; the Kafka-topic page RetriesExhausted.
  const condition = failed.condition === 'RetriesExhausted' ? 'RetryAttemptsExhausted' : failed.condition;
  return {
    ...contextFields(failed, context, condition),
    KafkaBatchInfo: { ...batchInfoBase(context, batchSize, Buffer.byteLength(event)), recordsInfo },
    ...(withPayload ? { payload: event } : {}),
  };
}

/** The messages a `kafka://` destination gets: one per failed record, keyed as the record was. */
export function kafkaDestinationMessages(failed: FailedRecords, context: DestinationContext): { key: Buffer | null; value: string }[] {
  return failed.batches.flatMap((batch: PartitionBatch) =>
    batch.messages.map((message) => {
      const payload = buildKafkaEvent(context.eventSource, [{ ...batch, messages: [message] }]);
      const record = {
        ...contextFields(failed, context, failed.condition),
        KafkaBatchInfo: {
          ...batchInfoBase(context, 1, Buffer.byteLength(JSON.stringify(payload))),
          recordInfo: { offset: message.offset, timestamp: isoTime(message.timestamp) },
        },
        payload,
      };
      return { key: message.key, value: JSON.stringify(record) };
    }),
  );
}

function fileName(destination: Exclude<FailureDestination, { kind: 'kafka' }>): string {
  // arn:aws:sqs:region:account:name, arn:aws:sns:region:account:name, arn:aws:s3:::bucket
  const name = destination.arn.split(':').pop() ?? destination.arn;
  return join(destination.kind, `${name}.jsonl`);
}

/** The writer for a mapping's destination; a Kafka destination connects its producer on first use. */
export function createFailureDestination(destination: FailureDestination, context: DestinationContext): FailureDestinationWriter {
  const target = formatFailureDestination(destination);
  const { logger } = context;
  if (destination.kind === 'kafka') {
    let producer: Producer | undefined;
    let connecting: Promise<Producer> | undefined;
    const connected = () => {
      connecting ??= (async () => {
        const created = context.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
        await created.connect();
        producer = created;
        return created;
      })();
      connecting.catch(() => {
        connecting = undefined;
      });
      return connecting;
    };
    return {
      send: async (failed) => {
        const messages = kafkaDestinationMessages(failed, context);
        await (await connected()).send({ topic: destination.topic, messages });
        logger.warn('records sent to the on-failure destination', {
          destination: target,
          condition: failed.condition,
          records: messages.length,
          attempts: failed.attempts,
        });
      },
      close: async () => {
        await producer?.disconnect();
      },
    };
  }
  const file = resolve(context.directory, fileName(destination));
  return {
    send: async (failed) => {
      const record = batchInvocationRecord(failed, context, destination.kind === 's3');
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, `${JSON.stringify(record)}\n`);
      logger.warn('records sent to the on-failure destination (written locally)', {
        destination: target,
        file,
        condition: failed.condition,
        records: (record.KafkaBatchInfo as { batchSize: number }).batchSize,
        attempts: failed.attempts,
      });
    },
    close: async () => undefined,
  };
}
