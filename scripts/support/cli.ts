/**
 * What the command-line scripts share (inspect-group, inspect-topic): a Kafka client whose kafkajs logs stay
 * quiet unless asked for (a command prints one clear line, not the client's retry chatter), one way to
 * report an error, and how a command ends (exit codes, exit after a grace). Process exits live here, not in lib/.
 */
import type { Kafka } from 'kafkajs';
import { getConfig, type Config } from '../../lib/config';
import { ConfigError, errorMessage } from '../../lib/errors';
import { createKafka } from '../../lib/kafka/client';
import { logger } from '../../lib/logger';
import { inspectionError } from '../../lib/inspection/kafka-errors';

/** Exit code for a command line we do not understand (as getopt tools do). */
export const USAGE_EXIT = 2;
export const FAILURE_EXIT = 1;

export function commandKafka(config: Config = getConfig()): Kafka {
  // POWERTOOLS_LOG_LEVEL set explicitly (e.g. DEBUG) turns the client's logs back on, on stderr/stdout as usual.
  const log = process.env.POWERTOOLS_LOG_LEVEL === undefined ? logger.createChild({ logLevel: 'SILENT' }) : logger;
  return createKafka(config.kafka, log);
}

/** `Error: <message>` as Kafka's tools print it, for an error met while talking to the cluster. */
export function errorLine(error: unknown, brokers: readonly string[]): string {
  return `Error: ${errorMessage(inspectionError(error, brokers))}`;
}

/**
 * Ends a command with this code. Once the answer is printed, a client socket still closing must not keep
 * the command from ending, so the process exits after a short grace.
 */
export function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}

/** The config; when the environment is malformed, prints why and gives the exit code instead. */
export function commandConfig(): Config | number {
  try {
    return getConfig();
  } catch (error) {
    process.stderr.write(`Error: ${errorMessage(error)}\n`);
    return error instanceof ConfigError ? USAGE_EXIT : FAILURE_EXIT;
  }
}
