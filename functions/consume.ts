/**
 * consume: one invocation = one member of the consumer group (the tutorial's "consumer in a terminal").
 *
 *   npx serverless invoke local -f consume --data '{"groupId":"my-app3","topic":"payment-done","durationSeconds":60}'
 *
 * Records reach functions/record-handler.ts in AWS Lambda's Kafka event shape. `invoke local` enforces
 * no timeout, so the invocation bounds itself (durationSeconds, default CONSUME_DURATION_SECONDS), and on
 * its end — or SIGINT/SIGTERM — it finishes the batch in hand, commits, leaves the group and disconnects
 * every client, so the process exits. The result is the member's summary.
 */
import { createKafka } from '../lib/kafka/client';
import { getConfig } from '../lib/config';
import { logger } from '../lib/logger';
import type { GroupMemberSummary } from '../lib/consumer/group-member';
import { loadRecordProcessor, parseConsumeRequest, runConsumeSession, sessionError } from '../lib/consumer/consume-session';
import { processRecords } from './record-handler';
import type { Kafka } from 'kafkajs';

// One Kafka instance per process, reused by warm invocations.
let kafka: Kafka | undefined;

export const handler = async (event: unknown): Promise<GroupMemberSummary> => {
  const config = getConfig();
  const request = parseConsumeRequest(event, config, config.consume.durationSeconds);
  const processor = await loadRecordProcessor(config, processRecords);
  kafka ??= createKafka(config.kafka, logger);
  const summary = await runConsumeSession(request, { kafka, logger, config, processor, handleSignals: true });
  const error = sessionError(summary);
  if (error !== undefined) throw error;
  return summary;
};
