/**
 * The Kafka instance of a process that runs group members. Same options as lib/kafka-client, except that
 * the broker's answer "the group is rebalancing, so a rejoin is needed" is logged at DEBUG: kafkajs logs
 * it as an ERROR on every heartbeat that learns of a rebalance, which is routine for a consumer group
 * (members come and go) and is already logged as data by the member ("group rebalancing").
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { KafkaConnectionConfig } from '../config';
import { kafkaOptions, kafkajsLogCreator } from '../kafka-client';

// Rebalances, and a group coordinator that is still starting (a fresh broker creates __consumer_offsets on
// first use): kafkajs retries these itself, and what still fails after its retries is logged by the member.
const ROUTINE_GROUP_ERRORS = /rebalancing|rejoin is needed|not the correct coordinator|not aware of this member|coordinator is not available|coordinator is loading/i;

function isRoutineGroupError(entry: LogEntry): boolean {
  const error: unknown = entry.log.error;
  return entry.level === logLevel.ERROR && entry.namespace === 'Connection' && typeof error === 'string' && ROUTINE_GROUP_ERRORS.test(error);
}

/** kafkajs log entries to the Powertools logger, routine group-protocol answers demoted to DEBUG. */
export function consumerLogCreator(log: Logger): logCreator {
  return (level) => {
    const write = kafkajsLogCreator(log)();
    return (entry) => {
      if (isRoutineGroupError(entry)) {
        if (level >= logLevel.DEBUG) write({ ...entry, level: logLevel.DEBUG });
        return;
      }
      write(entry);
    };
  };
}

/** A Kafka instance for group members (one per process). */
export function createConsumerKafka(connection: KafkaConnectionConfig, log: Logger): Kafka {
  return new Kafka({ ...kafkaOptions(connection, log), logCreator: consumerLogCreator(log) });
}
