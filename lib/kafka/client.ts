/**
 * One Kafka instance per process, built from the validated config. kafkajs log lines go to the shared
 * Powertools Logger as data; connection and request timeouts and retries are bounded so that a broker
 * that is down fails within seconds instead of the minutes kafkajs's defaults allow.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { getConfig, type KafkaConnectionConfig } from '../config';
import { logger as sharedLogger } from '../logger';
import { isCoordinatorMoving, isRebalancing } from './errors';

function saslOptions(sasl: NonNullable<KafkaConnectionConfig['sasl']>): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

// Answers of the group protocol that are routine for a consumer group: a rebalance (members come and go)
// and a group coordinator that is still starting (a fresh broker creates __consumer_offsets on first use);
// leadership answers are as routine while a broker stops or starts (kafkajs refreshes metadata and retries).
// kafkajs logs each as an ERROR on every heartbeat that meets it, and retries them itself; the group member
// logs the rebalance as data ("group rebalancing") and anything that still fails after the retries.
const LEADERSHIP_MOVING = /not the leader for that topic-partition|no leader for this topic-partition|leader not available/i;

function isRoutineAnswer(error: string): boolean {
  return isRebalancing(error) || isCoordinatorMoving(error) || LEADERSHIP_MOVING.test(error);
}

function isRoutineGroupError(namespace: string, level: logLevel, error: unknown): boolean {
  return level === logLevel.ERROR && namespace === 'Connection' && typeof error === 'string' && isRoutineAnswer(error);
}

// What kafkajs says while the cluster cannot be reached: each connection attempt, each seed broker tried and
// each consumer crash, with stack traces, several times a second. Demoted to DEBUG: the group member says, once
// per restart, what it waits for ("kafka unreachable, member retrying") and when it is back ("kafka reachable again").
const CONNECTION_FAILURE = new RegExp(
  [
    'Connection error',
    'Connection timeout',
    'Closed connection',
    'Connection closed',
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'ENOTFOUND',
    'EHOSTUNREACH',
    'EAI_AGAIN',
    'broker not found',
    'Failed to connect',
  ].join('|'),
  'i',
);

const RESTARTING = /^Restarting the consumer in ([\d.]+)ms$/;

// kafkajs warns whenever an idempotent producer has bounded retries. The bound is deliberate: a request
// answered 503 at PRODUCE_TIMEOUT_MS must never be written later by a retry still going on. Nor does a
// duplicate follow: once a send fails with its retries spent (or with anything unknown), publish() drops the
// producer, so the next request gets a new producer id and sequence instead of resending under the old one.
// Users read the warning as a fault, so it goes to DEBUG.
const BOUNDED_IDEMPOTENT_RETRIES = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

function isExpectedWarning(namespace: string, level: logLevel, message: string): boolean {
  return level === logLevel.WARN && namespace === 'Producer' && message === BOUNDED_IDEMPOTENT_RETRIES;
}

/**
 * Routes kafkajs's own log entries into a Powertools Logger, keeping its fields as keys. Demoted to DEBUG:
 * routine group-protocol answers, the bounded-retries warning, the consumer's rebalance WARN (the member logs
 * "group rebalancing"), connection failures and crashes (the group member logs a restart for an unreachable
 * cluster itself). A restart for any other cause is one WARN line, "consumer restarting", with the crash's
 * error. One state per kafkajs instance (kafkajs calls logCreator once for each).
 */
export function kafkajsLogCreator(log: Logger) {
  return () => {
    let lastBroker: string | undefined;
    let lastCrash: { error: string; connection: boolean } | undefined;
    return ({ namespace, level: entryLevel, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      const attributes = { kafkajs: namespace, ...fields };
      let demoted = isRoutineGroupError(namespace, entryLevel, entry.error) || isExpectedWarning(namespace, entryLevel, message);
      if (namespace === 'Runner' && message.startsWith('The group is rebalancing')) demoted = true;
      if ((namespace === 'Connection' || namespace === 'BrokerPool') && CONNECTION_FAILURE.test(message)) {
        if (typeof fields.broker === 'string') lastBroker = fields.broker;
        demoted = true;
      }
      if (namespace === 'Consumer' && message.startsWith('Crash: ')) {
        const error = message.slice('Crash: '.length);
        lastCrash = { error, connection: CONNECTION_FAILURE.test(`${error} ${String(fields.stack ?? '')}`) };
        demoted = true;
      }
      const restarting = namespace === 'Consumer' ? RESTARTING.exec(message) : null;
      if (restarting !== null) {
        const retryInMs = Number(restarting[1]);
        const { groupId } = fields;
        if (lastCrash?.connection === true) {
          log.debug('kafka unreachable, consumer restarting', { groupId, broker: lastBroker, retryInMs, error: lastCrash.error });
        } else if (lastCrash !== undefined && isRoutineAnswer(lastCrash.error)) {
          log.debug('consumer restarting', { groupId, retryInMs, error: lastCrash.error });
        } else {
          log.warn('consumer restarting', { groupId, retryInMs, error: lastCrash?.error });
        }
        lastCrash = undefined;
        return;
      }
      switch (demoted ? logLevel.DEBUG : entryLevel) {
        case logLevel.ERROR:
          log.error(message, attributes);
          break;
        case logLevel.WARN:
          log.warn(message, attributes);
          break;
        case logLevel.INFO:
          log.info(message, attributes);
          break;
        default:
          log.debug(message, attributes);
      }
    };
  };
}

/** kafkajs options for a connection config: bounded timeouts and retries, SSL/SASL when configured. */
export function kafkaOptions(connection: KafkaConnectionConfig, log: Logger = sharedLogger): KafkaConfig {
  return {
    clientId: connection.clientId,
    brokers: connection.brokers,
    // A private CA (KAFKA_SSL_CA_FILE) replaces Node's list of trusted CAs; the host name is still checked.
    ssl: connection.ssl && connection.sslCaFile !== undefined ? { ca: [readFileSync(connection.sslCaFile, 'utf8')] } : connection.ssl,
    ...(connection.sasl === undefined ? {} : { sasl: saslOptions(connection.sasl) }),
    connectionTimeout: connection.connectionTimeoutMs,
    requestTimeout: connection.requestTimeoutMs,
    retry: { retries: connection.retries, initialRetryTime: 100, maxRetryTime: 1_000 },
    // kafkajs logs at INFO on every join and connect; WARN keeps the shared log readable. Under
    // POWERTOOLS_LOG_LEVEL=DEBUG kafkajs's own debug lines come through too.
    logLevel: log.getLevelName() === 'DEBUG' ? logLevel.DEBUG : logLevel.WARN,
    logCreator: kafkajsLogCreator(log),
  };
}

/** A new Kafka instance for a connection config (tests and tools that need their own). */
export function createKafka(connection: KafkaConnectionConfig, log: Logger = sharedLogger): Kafka {
  return new Kafka(kafkaOptions(connection, log));
}

let kafka: Kafka | undefined;

/** The process's Kafka instance, created on first use from the process config. */
export function getKafka(): Kafka {
  kafka ??= createKafka(getConfig().kafka);
  return kafka;
}
