/**
 * The process's admin client and coordinator finder for inspection, created from the one Kafka instance and
 * connected once (lib/kafka/lazy-connection): a failed connect is forgotten so the next request tries again
 * (warm Lambda instances and serverless offline workers keep them between invocations).
 */
import type { Admin } from 'kafkajs';
import { getKafka } from '../kafka/client';
import { lazyConnection } from '../kafka/lazy-connection';
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
