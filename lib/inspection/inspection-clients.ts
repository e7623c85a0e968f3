/**
 * The process's admin client and coordinator finder for inspection, created from the one Kafka instance and
 * connected once (lib/kafka/lazy-connection): a failed connect is forgotten so the next request tries again
 * (warm Lambda instances and serverless offline workers keep them between invocations).
 */
import type { Admin } from 'kafkajs';
import { getKafka } from '../kafka/client';
import { lazyConnection } from '../kafka/lazy-connection';
import { logger } from '../logger';
import { ClusterWatcher } from './cluster-watch';
import { coordinatorFinder, type CoordinatorFinder } from './group-coordinator';

export interface InspectionClients {
  admin: Admin;
  coordinators: CoordinatorFinder;
}

const admin = lazyConnection(() => getKafka().admin());
let coordinators: CoordinatorFinder | undefined;

export async function getInspectionClients(): Promise<InspectionClients> {
  const connected = await admin.get();
  coordinators ??= coordinatorFinder(getKafka());
  return { admin: connected, coordinators };
}

let watcher: ClusterWatcher | undefined;

/**
 * The process's ClusterWatcher for the live page, on its own admin client (kafkajs reconnects it after an
 * outage). An outage is logged once when it starts and once when it ends, however often the page asks.
 */
export function getClusterWatcher(): ClusterWatcher {
  watcher ??= new ClusterWatcher(getKafka().admin(), {
    onOutage: (change, detail) => {
      if (change === 'down') logger.warn('kafka unreachable, the page shows a banner until it is back', { error: detail });
      else logger.info('kafka reachable again', { page: true, detail });
    },
  });
  return watcher;
}
