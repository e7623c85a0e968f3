/**
 * The one classification of kafkajs's errors, as small predicates (kafkajs's own `isRebalancing` is the
 * model): produce, inspection, the consumer and the client's log routing ask here instead of comparing names.
 *
 * kafkajs wraps: a KafkaJSNumberOfRetriesExceeded holds the last attempt's error in `originalError`, a
 * connection error may hold Node's in `cause`. Each predicate looks along that chain.
 */
import { errorMessage } from '../errors';

/** The error itself, then what it wraps (kafkajs keeps the cause in `originalError`, Node in `cause`). */
export function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && chain.length < 10) {
    chain.push(current);
    current = 'originalError' in current ? current.originalError : 'cause' in current ? current.cause : undefined;
  }
  return chain;
}

/** A protocol error's type, as kafkajs names Kafka's error codes (UNKNOWN_TOPIC_OR_PARTITION …). */
function typeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' ? error.type : undefined;
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function hasType(error: unknown, types: ReadonlySet<string>): boolean {
  return errorChain(error).some((link) => types.has(typeOf(link) ?? ''));
}

function hasName(error: unknown, names: ReadonlySet<string>): boolean {
  return errorChain(error).some((link) => names.has(nameOf(link) ?? ''));
}

/** kafkajs errors that mean "no usable connection to the cluster" (nothing answered, or not in time). */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
]);

/** The cluster cannot be reached, or did not answer in time. */
export function isUnreachable(error: unknown): boolean {
  return hasName(error, UNREACHABLE);
}

/**
 * isUnreachable, or an error kafkajs re-wrapped without its cause: its retrier bails out of a refused
 * connection with a KafkaJSNonRetriableError that keeps only the message ("Connection error: …").
 */
export function isConnectionFailure(error: unknown): boolean {
  const message = errorMessage(error);
  return isUnreachable(error) || /^(Connection error|Connection timeout|Closed connection)/.test(message);
}

/** The last error in the chain (what actually went wrong). */
export function innermostError(error: unknown): unknown {
  const chain = errorChain(error);
  return chain[chain.length - 1] ?? error;
}

/** `host:port` of the broker a connection failure names (kafkajs's connection errors carry it), if any. */
export function unreachableBroker(error: unknown): string | undefined {
  for (const link of errorChain(error)) {
    if (typeof link === 'object' && link !== null && 'broker' in link && typeof link.broker === 'string') return link.broker;
  }
  return undefined;
}

/** What a client kept from an unreachable cluster waits for, in words: `broker host:port`, else `the cluster`. */
export function awaitedBroker(error: unknown): string {
  const broker = unreachableBroker(error);
  return broker === undefined ? 'the cluster' : `broker ${broker}`;
}

/** kafkajs gave up after its retries (whatever the last attempt met). */
export function isRetriesExhausted(error: unknown): boolean {
  return hasName(error, new Set(['KafkaJSNumberOfRetriesExceeded']));
}

/** The topic (or the partition asked for) does not exist. */
export function isUnknownTopic(error: unknown): boolean {
  return hasType(error, new Set(['UNKNOWN_TOPIC_OR_PARTITION']));
}

/** The broker refused a record or batch as over its size limit. */
export function isRecordTooLarge(error: unknown): boolean {
  return hasType(error, new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']));
}

// kafkajs's log lines carry only an error's message, so the group-protocol answers are also known by the
// words kafkajs 2.2.4 gives them (src/protocol/error.js).
const REBALANCING_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID']);
const REBALANCING_WORDS = /rebalancing|rejoin is needed|not aware of this member/i;
const COORDINATOR_MOVING_TYPES = new Set(['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'GROUP_LOAD_IN_PROGRESS']);
const COORDINATOR_MOVING_WORDS = /not the correct coordinator|coordinator is not available|coordinator is loading/i;

/** The group is rebalancing (members come and go): rejoin. An error, or the message of one as kafkajs logs it. */
export function isRebalancing(error: unknown): boolean {
  return typeof error === 'string' ? REBALANCING_WORDS.test(error) : hasType(error, REBALANCING_TYPES);
}

/**
 * The group's coordinator moved or is still loading (a fresh broker creates __consumer_offsets on first use).
 * An error, or the message of one as kafkajs logs it.
 */
export function isCoordinatorMoving(error: unknown): boolean {
  return typeof error === 'string' ? COORDINATOR_MOVING_WORDS.test(error) : hasType(error, COORDINATOR_MOVING_TYPES);
}

/** The brokers refused the SASL login (wrong user, password or mechanism): retrying will not help. */
export function isAuthenticationFailure(error: unknown): boolean {
  // kafkajs 2.2.4 names it KafkaJSSASLAuthenticationError; its message starts "SASL <MECHANISM> authentication failed".
  return (
    hasName(error, new Set(['KafkaJSSASLAuthenticationError'])) ||
    errorChain(error).some((link) => link instanceof Error && /^SASL .*authentication failed/i.test(link.message))
  );
}
