/**
 * Which broker coordinates a consumer group, asked of the cluster with a FindCoordinator request, as
 * Kafka's own tools do.
 *
 * kafkajs 2.2.4 sends FindCoordinator itself (admin.describeGroups, fetchOffsets) but its Admin does not
 * return the answer, and its Cluster class is not exported. Every Kafka instance keeps a factory for that
 * Cluster under a private symbol ("private:Kafka:createCluster"), which its admin(), producer() and
 * consumer() use. We take that factory, so the lookup runs with exactly the instance's brokers, TLS, SASL,
 * timeouts and retries, and call the Cluster's findGroupCoordinatorMetadata, which sends FindCoordinator
 * (key 10) and returns the broker's {nodeId, host, port}. kafkajs is pinned (2.2.4); if a future version
 * drops the symbol, coordinatorFinder throws at creation with a message that says so.
 */
import type { Kafka } from 'kafkajs';
import { lazyConnection } from '../kafka/lazy-connection';

export interface GroupCoordinator {
  nodeId: number;
  host: string;
  port: number;
}

export interface CoordinatorFinder {
  find(groupId: string): Promise<GroupCoordinator>;
  /** Closes the connections the finder opened. */
  close(): Promise<void>;
}

/** The part of kafkajs's internal Cluster this module uses. */
interface InternalCluster {
  connect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinatorMetadata(request: { groupId: string; coordinatorType: number }): Promise<{ coordinator: GroupCoordinator }>;
}

type CreateCluster = (options: Record<string, unknown>) => InternalCluster;

const CREATE_CLUSTER = 'private:Kafka:createCluster';
/** FindCoordinator key type 0: a consumer group (1 would be a transactional id). */
const GROUP_COORDINATOR = 0;

function clusterFactory(kafka: Kafka): CreateCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((candidate) => candidate.description === CREATE_CLUSTER);
  const factory: unknown = symbol === undefined ? undefined : Reflect.get(kafka, symbol);
  if (typeof factory !== 'function') {
    throw new Error(`this kafkajs version has no ${CREATE_CLUSTER}; the group coordinator cannot be looked up`);
  }
  return (options) => Reflect.apply(factory, kafka, [options]) as InternalCluster;
}

/** A finder that connects on first use (and again after a failed connect) and keeps its connection until close(). */
export function coordinatorFinder(kafka: Kafka): CoordinatorFinder {
  const createCluster = clusterFactory(kafka);
  const connection = lazyConnection(() => {
    const cluster = createCluster({ allowAutoTopicCreation: false });
    return {
      cluster,
      async connect() {
        await cluster.connect();
        // connect() reaches a seed broker only; the metadata fills the pool that FindCoordinator is sent through.
        await cluster.refreshMetadata();
      },
      disconnect: () => cluster.disconnect(),
    };
  });

  return {
    async find(groupId) {
      const { cluster } = await connection.get();
      const { coordinator } = await cluster.findGroupCoordinatorMetadata({ groupId, coordinatorType: GROUP_COORDINATOR });
      return { nodeId: coordinator.nodeId, host: coordinator.host, port: coordinator.port };
    },
    close: () => connection.close(),
  };
}
