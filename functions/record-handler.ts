/**
 * The record handler: the function you edit. It receives records exactly as AWS Lambda hands them to a
 * function triggered by an `msk` or `kafka` event (batches keyed "<topic>-<partition>", key and value
 * base64), so the same file deploys to Lambda unchanged. Here it logs one line per record.
 *
 * Throwing fails the whole batch: nothing of it is committed and it is delivered again (see README,
 * "Consume: the three terminals").
 */
import type { Context, MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import { logger } from '../lib/logger';
import type { ConsumerIdentity } from '../lib/consumer/consume-session';

export type KafkaBatchEvent = MSKEvent | SelfManagedKafkaEvent;

/** Who consumes: the group and, when run by this project's group member, the member id. */
export type { ConsumerIdentity };

const VALUE_LOG_LIMIT = 200;

function decode(base64: string | undefined | null): string | null {
  if (base64 === undefined || base64 === null) return null;
  const text = Buffer.from(base64, 'base64').toString('utf8');
  return text.length > VALUE_LOG_LIMIT ? `${text.slice(0, VALUE_LOG_LIMIT)}…` : text;
}

/** Processes one batch; returns how many records it handled. */
export async function processRecords(event: KafkaBatchEvent, identity: ConsumerIdentity = {}): Promise<number> {
  let count = 0;
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      logger.info('record processed', {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: decode(record.key),
        value: decode(record.value),
        groupId: identity.groupId,
        memberId: identity.memberId,
      });
      count += 1;
    }
  }
  return count;
}

/**
 * The Lambda entry point (an `msk`/`kafka` event in serverless.yml points here). Lambda does not say
 * which consumer group delivered the batch; KAFKA_CONSUMER_GROUP_ID may name it for the logs.
 */
export const handler = async (event: KafkaBatchEvent, _context?: Context): Promise<{ processed: number }> => {
  const processed = await processRecords(event, { groupId: process.env.KAFKA_CONSUMER_GROUP_ID });
  return { processed };
};
