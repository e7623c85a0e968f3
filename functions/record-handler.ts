/**
 * The record handler: the function you edit. AWS Lambda (locally: `npm start`, `npm run consume`) gives it
 * a batch of Kafka records; Powertools' kafkaConsumer decodes each (value as text, read here as JSON when it
 * is JSON), so the same file deploys to Lambda unchanged.
 *
 * A record it cannot process goes into `batchItemFailures` instead of failing the batch: Lambda commits
 * the records before it and delivers it, and those after it in its partition, again (serverless.yml,
 * `functionResponseType: ReportBatchItemFailures`). Throwing fails the whole batch.
 */
import { kafkaConsumer } from '@aws-lambda-powertools/kafka';
import type { ConsumerRecord, MSKEvent as PowertoolsKafkaEvent } from '@aws-lambda-powertools/kafka/types';
import type { Context, MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import type { ConsumerIdentity } from '../lib/consumer/consume-session';
import { errorMessage } from '../lib/errors';
import { logger } from '../lib/logger';

export type KafkaBatchEvent = MSKEvent | SelfManagedKafkaEvent;
export type { ConsumerIdentity };

/** A payment-done value: JSON such as {"amount": 42}, or plain text as the quickstart sends ("paid 42"). */
export type Payment = { amount: number } | string;

/** Lambda's partial batch response for Kafka: each failed record by "<topic>-<partition>" and offset. */
export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[];
}

function readPayment(value: unknown): Payment {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'amount' in value && typeof value.amount === 'number') return { amount: value.amount };
  throw new Error(`not a payment: ${JSON.stringify(value) ?? 'no value'}`);
}

/**
 * A value as JSON when it is JSON, else as the text it is. Read here rather than with Powertools' JSON schema
 * type, which prints an error with a stack trace for every value that is not JSON: the tutorial's plain-text
 * payments ("paid 42") would each fill a terminal with one.
 */
function parseValue(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The work for one record. */
function processRecord(record: ConsumerRecord<string | undefined, string | undefined>, identity: ConsumerIdentity): void {
  const payment = readPayment(parseValue(record.value));
  const { topic, partition, offset, key } = record;
  logger.info('record processed', { topic, partition, offset, key, value: payment, ...identity });
}

/** Processes one batch; the records it could not process are in `batchItemFailures`. */
export async function processRecords(event: KafkaBatchEvent, identity: ConsumerIdentity = {}): Promise<KafkaBatchResponse> {
  const response: KafkaBatchResponse = { batchItemFailures: [] };
  const consume = kafkaConsumer<string | undefined, string | undefined>(
    async ({ records }) => {
      for (const record of records) {
        try {
          processRecord(record, identity);
        } catch (error) {
          const { topic, partition, offset } = record;
          logger.warn('record failed', { topic, partition, offset, error: errorMessage(error), ...identity });
          response.batchItemFailures.push({ itemIdentifier: { partition: `${topic}-${partition}`, offset } });
        }
      }
    },
    // No schema: values arrive as text (see parseValue).
  );
  // Powertools types the event as MSK's with schema metadata; a self-managed or schema-less event has the
  // same records, and the context is only handed on to the function above, which does not read it.
  await consume(event as PowertoolsKafkaEvent, {} as Context);
  return response;
}

/** The Lambda entry point. Lambda does not say which consumer group delivered the batch: KAFKA_CONSUMER_GROUP_ID may. */
export const handler = (event: KafkaBatchEvent): Promise<KafkaBatchResponse> =>
  processRecords(event, { groupId: process.env.KAFKA_CONSUMER_GROUP_ID });
