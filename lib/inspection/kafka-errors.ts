/**
 * kafkajs errors seen while inspecting, turned into errors with meaning: a broker that cannot be reached or
 * does not answer (lib/kafka/errors isUnreachable) becomes BrokerUnavailableError (503 over HTTP, a one-line
 * message in the commands).
 */
import { BrokerUnavailableError, KafkaFunctionsError, errorMessage } from '../errors';
import { errorChain, isUnreachable } from '../kafka/errors';

/** Passes errors with meaning through; maps "cannot reach the cluster" to BrokerUnavailableError. */
export function inspectionError(error: unknown, brokers: readonly string[]): unknown {
  if (error instanceof KafkaFunctionsError) return error;
  if (isUnreachable(error)) {
    const chain = errorChain(error);
    const innermost = chain[chain.length - 1];
    return new BrokerUnavailableError(`Kafka is not reachable at ${brokers.join(',')}: ${errorMessage(innermost)}`, { cause: error });
  }
  return error;
}
