/**
 * The process's admin client and coordinator finder for inspection, created from the one Kafka instance and
 * connected once; a failed connect is forgotten so the next request tries again (warm Lambda instances and
 * serverless offline workers keep them between invocations).
 */
import type { Admin } from 'kafkajs';
import { getKafka } from '../kafka-client';
import { coordinatorFinder, type CoordinatorFinder } from './group-coordinator';

export interface InspectionClients {
  admin: Admin;
  coordinators: CoordinatorFinder;
}

let clients: InspectionClients | undefined;
let connecting: Promise<InspectionClients> | undefined;

export function getInspectionClients(): Promise<InspectionClients> {
  connecting ??= (async () => {
    if (clients === undefined) {
      const kafka = getKafka();
      clients = { admin: kafka.admin(), coordinators: coordinatorFinder(kafka) };
    }
    await clients.admin.connect();
    return clients;
  })().catch((error: unknown) => {
    connecting = undefined;
    throw error;
  });
  return connecting;
}
