/**
 * Kafka (KAFKA_VERSION, default 3.7.1) run on the JVM from the Maven Central jars, in KRaft mode, each node in the background with a
 * pid file and a log file. One node (the default) or a cluster of several: every node is broker and
 * controller at once (combined mode), so three processes give three brokers and a three-voter controller
 * quorum, which survives the loss of any one node. Storage is formatted once; data survives stop and start
 * until --wipe.
 *
 * Ports for a deployment on KAFKA_PORT = P with N nodes: brokers on P … P+N-1, controllers on P+N … P+2N-1
 * (for one node: broker P, controller P+1, or KAFKA_CONTROLLER_PORT).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classpath, ensureJars, toolsLog4jFlag } from './jars';
import { clusterDir, instanceDir } from './paths';
import { processAlive, run, waitFor } from './processes';
import { type BrokerSecurity, redact } from './secure';
import { brokerLoggingFlag, checkDataVersion, kafkaRelease, recordDataVersion } from './versions';

export interface JvmBrokerPaths {
  dir: string;
  dataDir: string;
  properties: string;
  log: string;
  pidFile: string;
  log4j: string;
}

/** One Kafka process: broker (clients connect to `port`) and KRaft controller (on `controllerPort`). */
export interface JvmNode {
  id: number;
  port: number;
  controllerPort: number;
  paths: JvmBrokerPaths;
}

function pathsIn(dir: string): JvmBrokerPaths {
  return {
    dir,
    dataDir: join(dir, 'data'),
    properties: join(dir, 'server.properties'),
    log: join(dir, 'broker.log'),
    pidFile: join(dir, 'broker.pid'),
    log4j: join(dir, 'log4j.properties'),
  };
}

/** The single broker's folder on this port (.kafka/broker-<port>). */
export function jvmBrokerPaths(port: number): JvmBrokerPaths {
  return pathsIn(instanceDir(port));
}

/**
 * The nodes of the deployment on `port`: one node in .kafka/broker-<port>, or `count` nodes in
 * .kafka/cluster-<port>/node-<id>.
 */
export function jvmNodes(port: number, count = 1, controllerPort = port + count): JvmNode[] {
  if (count === 1) return [{ id: 1, port, controllerPort, paths: jvmBrokerPaths(port) }];
  return Array.from({ length: count }, (_, index) => ({
    id: index + 1,
    port: port + index,
    controllerPort: controllerPort + index,
    paths: pathsIn(join(clusterDir(port), `node-${index + 1}`)),
  }));
}

/** The pid of this node's process, if kafka:up started it and it still runs. */
export function runningNodePid(node: JvmNode): number | undefined {
  const { paths } = node;
  if (!existsSync(paths.pidFile)) return undefined;
  const pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  // Guard against a recycled pid: the process must be a Kafka broker on this node's properties.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('kafka.Kafka') || !cmdline.includes(paths.properties)) return undefined;
  } catch {
    // No /proc (macOS): trust the pid file and the liveness check.
  }
  return pid;
}

/** The pid of the single broker kafka:up started on this port, if that process still runs and is ours. */
export function runningJvmBrokerPid(port: number): number | undefined {
  const [node] = jvmNodes(port);
  return node === undefined ? undefined : runningNodePid(node);
}

function writeConfig(node: JvmNode, nodes: JvmNode[], security: BrokerSecurity | undefined): void {
  const { paths } = node;
  const count = nodes.length;
  // A cluster replicates everything three ways (default.replication.factor=3 is also MSK's default for a
  // cluster in three Availability Zones) and acknowledges a write with acks=all once two replicas have it.
  const replication = Math.min(3, count);
  const minInsync = count >= 3 ? 2 : 1;
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(
    paths.properties,
    [
      `# Written by kafka:up (scripts/local-kafka). KRaft node ${node.id} of ${count}: broker and controller in one process.`,
      'process.roles=broker,controller',
      `node.id=${node.id}`,
      `controller.quorum.voters=${nodes.map(({ id, controllerPort }) => `${id}@127.0.0.1:${controllerPort}`).join(',')}`,
      `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
      `advertised.listeners=PLAINTEXT://localhost:${node.port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${paths.dataDir}`,
      'num.partitions=1',
      `default.replication.factor=${replication}`,
      `min.insync.replicas=${minInsync}`,
      `offsets.topic.replication.factor=${replication}`,
      'offsets.topic.num.partitions=10',
      `transaction.state.log.replication.factor=${replication}`,
      `transaction.state.log.min.isr=${minInsync}`,
      // Without this every first join of a group waits 3 s for more members.
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      ...(security?.properties(node.port, node.controllerPort) ?? []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

/** The cluster id a formatted node's storage carries (meta.properties), if it is formatted. */
function formattedClusterId(node: JvmNode): string | undefined {
  const meta = join(node.paths.dataDir, 'meta.properties');
  if (!existsSync(meta)) return undefined;
  return /^cluster\.id=(.+)$/m.exec(readFileSync(meta, 'utf8'))?.[1]?.trim();
}

/** A Kafka cluster id: a random UUID in URL-safe base64 without padding, not starting with '-' (as Uuid.randomUuid). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Formats the KRaft storage of every node not yet formatted, all with the cluster's one id (data is kept). */
async function formatStorageOnce(nodes: JvmNode[], security: BrokerSecurity | undefined): Promise<void> {
  const unformatted = nodes.filter((node) => formattedClusterId(node) === undefined);
  if (unformatted.length === 0) return;
  const clusterId = nodes.map(formattedClusterId).find((id) => id !== undefined) ?? newClusterId();
  const java = ['-cp', classpath(), toolsLog4jFlag(), 'kafka.tools.StorageTool'];
  await Promise.all(
    unformatted.map(async (node) => {
      const args = [...java, 'format', '-t', clusterId, '-c', node.paths.properties, ...(security?.formatArgs ?? [])];
      const format = await run('java', args, { timeoutMs: 90_000 });
      if (format.code !== 0) {
        const output = redact(`${format.stdout}${format.stderr}`, security?.secrets ?? []);
        throw new Error(`kafka-storage format (node ${node.id}) failed: ${output}`);
      }
    }),
  );
}

export interface StartedJvmNode {
  node: JvmNode;
  pid: number;
}

/** Starts one node in the background (detached: it outlives this process). Its config must be written. */
function spawnNode(node: JvmNode, heap: string): StartedJvmNode {
  const { paths } = node;
  const logFd = openSync(paths.log, 'a');
  const child = spawn(
    'java',
    [
      ...heap.split(/\s+/).filter((part) => part !== ''),
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      brokerLoggingFlag(kafkaRelease(), paths.dir),
      `-Dkafka.logs.dir=${paths.dir}`,
      '-cp',
      classpath(),
      'kafka.Kafka',
      paths.properties,
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  if (child.pid === undefined) throw new Error('could not start java');
  child.unref();
  writeFileSync(paths.pidFile, String(child.pid));
  return { node, pid: child.pid };
}

/**
 * Starts the nodes that are not running (all of them on a first start; one killed node to rejoin the
 * others). Does not wait for them to serve.
 */
export async function startJvmNodes(
  nodes: JvmNode[],
  say: (line: string) => void = console.log,
  security?: BrokerSecurity,
): Promise<StartedJvmNode[]> {
  await ensureJars(say);
  const release = kafkaRelease();
  for (const node of nodes) checkDataVersion(node.paths.dir, release, node.port);
  for (const node of nodes) writeConfig(node, nodes, security);
  await formatStorageOnce(nodes, security);
  for (const node of nodes) recordDataVersion(node.paths.dir, release);
  const heap = process.env.KAFKA_HEAP_OPTS ?? (nodes.length === 1 ? '-Xms256m -Xmx512m' : '-Xms128m -Xmx384m');
  return nodes.filter((node) => runningNodePid(node) === undefined).map((node) => spawnNode(node, heap));
}

/** Starts the single broker on this port. Does not wait for it to serve. */
export async function startJvmBroker(
  port: number,
  controllerPort: number,
  say: (line: string) => void = console.log,
): Promise<{ pid: number; paths: JvmBrokerPaths }> {
  const nodes = jvmNodes(port, 1, controllerPort);
  const [started] = await startJvmNodes(nodes, say);
  if (started === undefined) throw new Error(`a broker already runs on port ${port}`);
  return { pid: started.pid, paths: started.node.paths };
}

/** SIGTERM (Kafka's clean shutdown), wait up to timeoutMs, then SIGKILL; every node at once. Optionally deletes the data. */
export async function stopJvmNodes(nodes: JvmNode[], options: { wipe?: boolean; timeoutMs?: number } = {}): Promise<number> {
  const pids = nodes.map(runningNodePid).filter((pid): pid is number => pid !== undefined);
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const alive = () => pids.filter(processAlive);
  const exited = await waitFor(() => alive().length === 0, options.timeoutMs ?? 30_000, 100);
  if (!exited) {
    for (const pid of alive()) process.kill(pid, 'SIGKILL');
    await waitFor(() => alive().length === 0, 5_000, 100);
  }
  for (const node of nodes) rmSync(node.paths.pidFile, { force: true });
  if (options.wipe) {
    for (const node of nodes) rmSync(node.paths.dir, { recursive: true, force: true });
    const [first] = nodes;
    if (nodes.length > 1 && first !== undefined) rmSync(clusterDir(first.port), { recursive: true, force: true });
  }
  return pids.length;
}

/** Stops the single broker on this port. */
export async function stopJvmBroker(port: number, options: { wipe?: boolean; timeoutMs?: number } = {}): Promise<boolean> {
  return (await stopJvmNodes(jvmNodes(port), options)) > 0;
}

/** The last lines of a node's log, for error messages. */
export function nodeLogTail(node: JvmNode, lines = 30): string {
  const { log } = node.paths;
  if (!existsSync(log)) return '';
  return readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n');
}
