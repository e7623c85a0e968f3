/**
 * kafkajs errors seen while inspecting, turned into errors with meaning: a broker that cannot be reached or
 * does not answer becomes BrokerUnavailableError (503 over HTTP, a one-line message in the commands).
 */
import { BrokerUnavailableError, KafkaFunctionsError, errorMessage } from '../errors';

/** kafkajs error names that mean "no usable connection to the cluster", possibly after retries. */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
]);

/** The error itself, then what it wraps (kafkajs keeps the cause in `originalError`, Node in `cause`). */
function* errorChain(error: unknown): Generator<unknown> {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth += 1) {
    yield current;
    if (typeof current !== 'object') return;
    const next: unknown = 'originalError' in current ? current.originalError : 'cause' in current ? current.cause : undefined;
    current = next;
  }
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Passes errors with meaning through; maps "cannot reach the cluster" to BrokerUnavailableError. */
export function inspectionError(error: unknown, brokers: readonly string[]): unknown {
  if (error instanceof KafkaFunctionsError) return error;
  const chain = [...errorChain(error)];
  const unreachable = chain.find((link) => UNREACHABLE.has(nameOf(link) ?? ''));
  if (unreachable !== undefined) {
    const innermost = chain[chain.length - 1];
    return new BrokerUnavailableError(`Kafka is not reachable at ${brokers.join(',')}: ${errorMessage(innermost)}`, { cause: error });
  }
  return error;
}
