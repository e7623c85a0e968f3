/** Where the local Kafka keeps its jars, data, logs and state (all git-ignored under .kafka/). */
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const KAFKA_HOME = resolve(process.env.KAFKA_LOCAL_DIR ?? resolve(REPO_ROOT, '.kafka'));
export const JARS_POM = resolve(REPO_ROOT, 'scripts', 'kafka-jars', 'pom.xml');
export const COMPOSE_FILE = resolve(REPO_ROOT, 'docker-compose.yml');
export const COMPOSE_CLUSTER_FILE = resolve(REPO_ROOT, 'docker-compose.cluster.yml');

/** One folder per JVM broker instance, by client port: data, log, pid, properties. */
export function instanceDir(port: number): string {
  return resolve(KAFKA_HOME, `broker-${port}`);
}

/** One folder per JVM cluster, by its first broker's port, holding node-1, node-2, …. */
export function clusterDir(port: number): string {
  return resolve(KAFKA_HOME, `cluster-${port}`);
}

/** What kafka:up started on a port, so kafka:down and kafka:status know what to look at. */
export function stateFile(port: number): string {
  return resolve(KAFKA_HOME, `state-${port}.json`);
}
