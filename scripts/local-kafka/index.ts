/**
 * kafka:up / kafka:down / kafka:status. One command, three modes, chosen in this order:
 *   1. KAFKA_BROKERS set: an existing cluster (checked, never started or stopped by us);
 *   2. a Docker engine answers: docker compose with apache/kafka:<KAFKA_VERSION>;
 *   3. Java present: the same Kafka release on the JVM from Maven Central jars.
 * KAFKA_VERSION (default 3.7.1) chooses the release: scripts/local-kafka/versions.ts.
 * KAFKA_MODE=external|docker|jvm forces one. KAFKA_PORT moves the local broker (default 9092).
 * `--brokers 3` (kafka:up) starts a three-node cluster instead of one broker: brokers on KAFKA_PORT,
 * +1, +2; kafka:down and kafka:status find out from the state file what runs on KAFKA_PORT.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import {
  composeFile,
  composeProject,
  dockerBrokerRunning,
  dockerComposeAvailable,
  dockerEngineAnswers,
  startDockerBroker,
  stopDockerBroker,
} from './docker-broker';
import { javaAvailable } from './jars';
import { type JvmNode, jvmNodes, nodeLogTail, runningJvmBrokerPid, runningNodePid, startJvmNodes, stopJvmNodes } from './jvm-broker';
import { clusterDir, KAFKA_HOME, REPO_ROOT, stateFile } from './paths';
import { loopbackPortTaken, processAlive } from './processes';
import { describeLeadership, ensureTutorialTopics, probeBroker, waitForGroupCoordinator, waitUntilServing } from './probe';
import type { BrokerSecurity } from './secure';
import { checkRunningVersion, dataVersion, dockerImage, kafkaRelease } from './versions';
import { errorMessage } from '../../lib/errors';

export type Mode = 'external' | 'docker' | 'jvm';

export interface LocalKafkaOptions {
  port: number;
  /** KAFKA_CONTROLLER_PORT when set (the first controller's port); else the port after the last broker's. */
  controllerPort: number | undefined;
  brokers: string[] | undefined;
  forcedMode: Mode | undefined;
  /** kafka:up's --brokers: how many brokers to start (1 or 3); unset: whatever runs on the port, else 1. */
  nodeCount?: number | undefined;
  /** kafka:up's --secure: the broker's SASL_SSL listener, certificates and users (scripts/local-kafka/secure.ts). */
  security?: BrokerSecurity | undefined;
  say: (line: string) => void;
}

export interface KafkaNodeState {
  id: number;
  port: number;
  /** The JVM node's KRaft controller port (Docker's controllers listen inside the compose network). */
  controllerPort?: number;
  pid?: number;
}

export interface KafkaState {
  mode: Mode;
  brokers: string[];
  port: number;
  /** The single broker's pid (JVM mode, one node). */
  pid?: number;
  /** Every node kafka:up started on this port (JVM and Docker modes). */
  nodes?: KafkaNodeState[];
  startedAt: string;
}

/** The broker counts kafka:up can start: one broker, or a cluster of three that survives losing one. */
export const NODE_COUNTS: readonly number[] = [1, 3];

const MODES: readonly Mode[] = ['external', 'docker', 'jvm'];

/** Reads KAFKA_BROKERS, KAFKA_PORT, KAFKA_CONTROLLER_PORT and KAFKA_MODE; bad values name the variable. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = console.log): LocalKafkaOptions {
  const portText = env.KAFKA_PORT?.trim() || '9092';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65534) throw new Error(`KAFKA_PORT: expected a port number, got '${portText}'`);
  const controllerText = env.KAFKA_CONTROLLER_PORT?.trim();
  const controllerPort = controllerText ? Number(controllerText) : undefined;
  if (
    controllerText &&
    (!/^\d+$/.test(controllerText) ||
      controllerPort === undefined ||
      controllerPort < 1 ||
      controllerPort > 65533 ||
      controllerPort === port)
  ) {
    throw new Error(`KAFKA_CONTROLLER_PORT: expected a port number other than ${port}, got '${controllerText}'`);
  }
  const brokersText = env.KAFKA_BROKERS?.trim();
  const brokers = brokersText
    ? brokersText
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => broker !== '')
    : undefined;
  const modeText = env.KAFKA_MODE?.trim();
  const forcedMode = modeText ? MODES.find((mode) => mode === modeText) : undefined;
  if (modeText && forcedMode === undefined) throw new Error(`KAFKA_MODE: expected one of ${MODES.join(', ')}, got '${modeText}'`);
  if (forcedMode === 'external' && brokers === undefined) throw new Error('KAFKA_MODE=external needs KAFKA_BROKERS (host:port,…)');
  return { port, controllerPort, brokers, forcedMode, say };
}

export function readState(port: number): KafkaState | undefined {
  const file = stateFile(port);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as KafkaState;
  } catch {
    return undefined;
  }
}

function writeState(state: KafkaState): void {
  mkdirSync(KAFKA_HOME, { recursive: true });
  writeFileSync(stateFile(state.port), `${JSON.stringify(state, null, 2)}\n`);
}

const shortPath = (path: string) => relative(REPO_ROOT, path) || '.';

async function chooseMode(options: LocalKafkaOptions): Promise<Mode> {
  if (options.forcedMode) return options.forcedMode;
  if (options.brokers) return 'external';
  if (await dockerEngineAnswers()) return 'docker';
  if (await javaAvailable()) return 'jvm';
  throw new Error(
    [
      'No way to run Kafka was found. Any one of these will do:',
      '  - set KAFKA_BROKERS=host:port[,host:port] to use a Kafka cluster that already runs;',
      `  - start a Docker engine (docker compose runs ${dockerImage(kafkaRelease())} from docker-compose.yml);`,
      `  - install Java 17+ and Maven (Kafka ${kafkaRelease().version} then runs on the JVM from Maven Central jars).`,
    ].join('\n'),
  );
}

/** Brings Kafka up (or finds it up), waits until it serves, creates the tutorial's topics. */
export async function kafkaUp(options: LocalKafkaOptions): Promise<KafkaState> {
  const { port, say } = options;
  if (options.nodeCount !== undefined && !NODE_COUNTS.includes(options.nodeCount)) {
    throw new Error(`--brokers: expected one of ${NODE_COUNTS.join(', ')}, got '${options.nodeCount}'`);
  }
  const mode = await chooseMode(options);
  let state: KafkaState;

  if (mode === 'external') {
    if (options.nodeCount !== undefined) {
      throw new Error(
        `--brokers ${options.nodeCount} starts a local cluster, but KAFKA_BROKERS names an existing one ` +
          `(${(options.brokers ?? []).join(',')}): unset KAFKA_BROKERS, or leave out --brokers`,
      );
    }
    const brokers = options.brokers ?? [];
    say(`mode: existing cluster (KAFKA_BROKERS=${brokers.join(',')})`);
    await waitUntilServing(brokers, { timeoutMs: 30_000, what: 'the cluster in KAFKA_BROKERS', say });
    state = { mode, brokers, port, startedAt: new Date().toISOString() };
  } else if (mode === 'docker') {
    const previous = readState(port);
    const count = options.nodeCount ?? previous?.nodes?.length ?? 1;
    const brokers = brokerAddresses(port, count);
    say(`mode: Docker (docker compose, image ${dockerImage(kafkaRelease())}, ${describePorts(port, count)})`);
    if (!(await dockerComposeAvailable())) {
      throw new Error(
        'KAFKA_MODE=docker needs a Docker engine with the compose plugin (`docker compose version` failed); ' +
          'unset KAFKA_MODE to use the JVM instead',
      );
    }
    if (await dockerBrokerRunning(port, count)) {
      say('already running');
    } else {
      const foreign = await foreignKafka(port, say, options.nodeCount);
      if (foreign) return foreign;
      await refuseTakenPorts(brokerPorts(port, count).slice(1));
      say(`starting: docker compose -f ${shortPath(composeFile(count))} up -d --wait (the first run pulls the image)…`);
      await startDockerBroker(port, count);
    }
    await waitUntilServing(brokers, { timeoutMs: 120_000, what: 'the Kafka containers', say, expectBrokers: count });
    const nodes = brokerPorts(port, count).map((nodePort, index) => ({ id: index + 1, port: nodePort }));
    state = { mode, brokers, port, nodes, startedAt: new Date().toISOString() };
  } else {
    state = await jvmUp(options);
    if (state.mode === 'external') return state;
  }

  // An existing cluster is not ours: no state, so the local broker's state on this port stays as it is.
  if (state.mode !== 'external') writeState(state);
  return withTutorialTopics(state, say);
}

function brokerPorts(port: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => port + index);
}

function brokerAddresses(port: number, count: number): string[] {
  return brokerPorts(port, count).map((nodePort) => `localhost:${nodePort}`);
}

function describePorts(port: number, count: number, controllerPort?: number): string {
  if (count === 1) return `port ${port}`;
  const controllers = controllerPort === undefined ? '' : `, controllers on ${controllerPort}-${controllerPort + count - 1}`;
  return `${count} brokers on ports ${port}-${port + count - 1}${controllers}`;
}

/** How many JVM nodes kafka:up deployed on this port: from the state file, else from the folders on disk. */
function deployedJvmCount(port: number): number | undefined {
  const state = readState(port);
  if (state?.mode === 'jvm') return state.nodes?.length ?? 1;
  const dir = clusterDir(port);
  const clusterNodes = existsSync(dir) ? readdirSync(dir).filter((name) => /^node-\d+$/.test(name)).length : 0;
  if (clusterNodes > 0 && jvmNodes(port, clusterNodes).some((node) => runningNodePid(node) !== undefined)) return clusterNodes;
  if (runningJvmBrokerPid(port) !== undefined) return 1;
  return clusterNodes > 0 ? clusterNodes : undefined;
}

/** The JVM nodes of the deployment on this port, with the controller ports kafka:up gave them. */
function deployedJvmNodes(port: number, count: number, controllerPort: number | undefined): JvmNode[] {
  const recorded = readState(port)?.nodes?.[0]?.controllerPort;
  return jvmNodes(port, count, controllerPort ?? recorded ?? port + count);
}

async function refuseTakenPorts(ports: number[], variable = 'KAFKA_PORT'): Promise<void> {
  for (const taken of ports) {
    if (await loopbackPortTaken(taken)) {
      throw new Error(`port ${taken} is in use by another program; set ${variable} so that the ports kafka:up needs are free`);
    }
  }
}

async function jvmUp(options: LocalKafkaOptions): Promise<KafkaState> {
  const { port, say } = options;
  const deployed = deployedJvmCount(port);
  const count = options.nodeCount ?? deployed ?? 1;
  if (deployed !== undefined && deployed !== count && jvmNodes(port, deployed).some((node) => runningNodePid(node) !== undefined)) {
    throw new Error(
      `${deployed === 1 ? 'a single broker' : `a ${deployed}-broker cluster`} started by kafka:up runs on port ${port}; ` +
        'stop it first (npm run kafka:down) or set KAFKA_PORT to start another one beside it',
    );
  }
  const nodes = deployedJvmNodes(port, count, options.controllerPort);
  const [first] = nodes;
  if (first === undefined) throw new Error('no nodes');
  say(`mode: JVM (Kafka ${kafkaRelease().version} from Maven Central jars, ${describePorts(port, count, first.controllerPort)})`);
  const brokers = nodes.map((node) => `localhost:${node.port}`);
  const previous = readState(port);
  const down = nodes.filter((node) => runningNodePid(node) === undefined);

  if (down.length === nodes.length) {
    const foreign = await foreignKafka(port, say, options.nodeCount);
    if (foreign) return foreign;
    await refuseTakenPorts(nodes.slice(1).map((node) => node.port));
    for (const node of nodes) {
      if (await loopbackPortTaken(node.controllerPort)) {
        throw new Error(
          `port ${node.controllerPort} (a KRaft controller port) is in use by another program; ` +
            `set KAFKA_CONTROLLER_PORT to a free port${count > 1 ? ` (the first of ${count} free ports)` : ''}`,
        );
      }
    }
  } else if (down.length > 0) {
    await refuseTakenPorts(down.flatMap((node) => [node.port, node.controllerPort]));
    say(`restarting node${down.length === 1 ? '' : 's'} ${down.map((node) => node.id).join(', ')} (the others run)`);
  } else {
    const pids = nodes.map(runningNodePid);
    const runningVersion = dataVersion(first.paths.dir);
    checkRunningVersion(runningVersion, port);
    const version = runningVersion === undefined ? '' : `, Kafka ${runningVersion}`;
    say(`already running (pid${pids.length === 1 ? '' : 's'} ${pids.join(', ')}${version})`);
  }

  const started = down.length === 0 ? [] : await startJvmNodes(nodes, say, options.security);
  for (const { node, pid } of started) {
    const where = count === 1 ? '' : ` node ${node.id} (broker localhost:${node.port}, controller 127.0.0.1:${node.controllerPort},`;
    say(
      count === 1
        ? `started the broker (pid ${pid}); log: ${shortPath(node.paths.log)}, data: ${shortPath(node.paths.dataDir)}`
        : `started${where} pid ${pid}); log: ${shortPath(node.paths.log)}`,
    );
  }
  const pidsText = started.map(({ pid }) => pid).join(', ');
  const what =
    count === 1
      ? `the Kafka broker (pid ${started[0]?.pid ?? runningNodePid(first)})`
      : `the ${count}-broker cluster${pidsText ? ` (started pids ${pidsText})` : ''}`;
  try {
    await waitUntilServing(brokers, {
      timeoutMs: count === 1 ? 90_000 : 180_000,
      what,
      say,
      expectBrokers: count,
      ...(started.length > 0 ? { stillStarting: () => started.every(({ pid }) => processAlive(pid)) } : {}),
    });
  } catch (error) {
    const tails = started.map(({ node }) => `last lines of ${shortPath(node.paths.log)}:\n${nodeLogTail(node)}`).join('\n');
    if (started.length > 0) await stopJvmNodes(started.map(({ node }) => node));
    throw new Error(`${errorMessage(error)}${tails ? `\n${tails}` : ''}`);
  }
  const nodeStates = nodes.map((node) => ({
    id: node.id,
    port: node.port,
    controllerPort: node.controllerPort,
    pid: runningNodePid(node),
  }));
  const startedAt = started.length === nodes.length ? new Date().toISOString() : (previous?.startedAt ?? new Date().toISOString());
  return {
    mode: 'jvm',
    brokers,
    port,
    ...(count === 1 && nodeStates[0]?.pid !== undefined ? { pid: nodeStates[0].pid } : {}),
    nodes: nodeStates,
    startedAt,
  };
}

async function withTutorialTopics(state: KafkaState, say: (line: string) => void): Promise<KafkaState> {
  const created = await ensureTutorialTopics(state.brokers, state.nodes?.length);
  say(created.length > 0 ? `created topics: ${created.join(', ')}` : 'topics payment-done and quickstart-events are there');
  await waitForGroupCoordinator(state.brokers);
  return state;
}

/**
 * The port kafka:up wants is taken by a program it did not start. A Kafka that answers a metadata request
 * there (the tutorial's `docker run -p 9092:9092 apache/kafka:3.7.1`, say) is used as an existing cluster;
 * anything else is an error that names the port and the ways out. Resolves to undefined when the port is free.
 */
async function foreignKafka(port: number, say: (line: string) => void, nodeCount?: number): Promise<KafkaState | undefined> {
  if (!(await loopbackPortTaken(port))) return undefined;
  const brokers = [`localhost:${port}`];
  const answer = await probeBroker(brokers);
  if (!answer.ok) {
    throw new Error(
      `port ${port} is in use by a program that kafka:up did not start, and it does not answer as Kafka ` +
        `(${answer.reason}). Stop it, or set KAFKA_PORT to a free port.`,
    );
  }
  say(`Kafka already serves at localhost:${port} (not started by kafka:up): using it`);
  if (nodeCount !== undefined) say(`  (--brokers ${nodeCount} left unused: that Kafka is not ours to start)`);
  return withTutorialTopics({ mode: 'external', brokers, port, startedAt: new Date().toISOString() }, say);
}

/** Stops what kafka:up started on this port (nothing for an existing cluster). --wipe deletes its data too. */
export async function kafkaDown(options: LocalKafkaOptions, wipe: boolean): Promise<void> {
  const { port, say } = options;
  const state = readState(port);
  if (options.brokers && !options.forcedMode && state?.mode !== 'jvm' && state?.mode !== 'docker') {
    say(`KAFKA_BROKERS is set (${options.brokers.join(',')}): that cluster is not ours to stop`);
    return;
  }
  let didSomething = false;
  const dockerCount = state?.mode === 'docker' ? (state.nodes?.length ?? 1) : 1;
  if (state?.mode === 'docker' || (state === undefined && (await dockerEngineAnswers()) && (await dockerBrokerRunning(port, 1)))) {
    say(`stopping the Kafka container${dockerCount === 1 ? '' : 's'} (docker compose down${wipe ? ' -v' : ''})…`);
    await stopDockerBroker(port, dockerCount, { wipe });
    didSomething = true;
  }
  // The single broker and a cluster on this port (normally one of them, never both running).
  const clusterCount = existsSync(clusterDir(port)) ? readdirSync(clusterDir(port)).filter((name) => /^node-\d+$/.test(name)).length : 0;
  const deployments = [jvmNodes(port), ...(clusterCount > 0 ? [jvmNodes(port, clusterCount)] : [])];
  for (const nodes of deployments) {
    const pids = nodes.map(runningNodePid).filter((pid): pid is number => pid !== undefined);
    if (pids.length === 0 && !wipe) continue;
    if (pids.length > 0) {
      const what = nodes.length === 1 ? 'the Kafka broker' : `the ${nodes.length}-broker cluster`;
      say(`stopping ${what} (pid${pids.length === 1 ? '' : 's'} ${pids.join(', ')}, SIGTERM, waiting for a clean shutdown)…`);
    }
    const stopped = await stopJvmNodes(nodes, { wipe });
    if (stopped > 0) say('stopped');
    const [first] = nodes;
    if (wipe && first !== undefined) say(`deleted ${shortPath(nodes.length === 1 ? first.paths.dir : clusterDir(port))}`);
    didSomething ||= stopped > 0 || wipe;
  }
  rmSync(stateFile(port), { force: true });
  if (!didSomething) say(`no Kafka started by kafka:up is running on port ${port}`);
}

/** What runs where, and which partitions each broker leads. Returns false when nothing serves. */
export async function kafkaStatus(options: LocalKafkaOptions): Promise<boolean> {
  const { port, say } = options;
  const state = readState(port);
  const brokers = options.brokers ?? state?.brokers ?? [`localhost:${port}`];
  const answer = await describeLeadership(brokers);
  const count = deployedJvmCount(port);
  const nodes = count === undefined ? [] : deployedJvmNodes(port, count, undefined);
  const pids = new Map(nodes.map((node) => [node.id, runningNodePid(node)]));
  const [first] = nodes;
  if (first !== undefined && [...pids.values()].some((pid) => pid !== undefined)) {
    const version = dataVersion(first.paths.dir) ?? kafkaRelease().version;
    say(
      count === 1
        ? `JVM broker: Kafka ${version}, pid ${pids.get(1)}, port ${port}; ` +
            `log ${shortPath(first.paths.log)}, data ${shortPath(first.paths.dataDir)}`
        : `JVM cluster: Kafka ${version}, ${count} nodes (each broker and KRaft controller); data and logs in ` +
            `${shortPath(clusterDir(port))}`,
    );
  } else if (state?.mode === 'docker') {
    say(`Docker: compose project ${composeProject(port)} (image ${dockerImage(kafkaRelease())}, ${state.nodes?.length ?? 1} node(s))`);
  } else if (options.brokers) {
    say('existing cluster from KAFKA_BROKERS');
  } else {
    say(`no Kafka started by kafka:up on port ${port}${answer.ok ? ' (the Kafka that serves there is not ours to stop)' : ''}`);
  }
  if (!answer.ok) {
    say(`not serving at ${brokers.join(',')}: ${answer.reason}`);
    return false;
  }
  say(`serving at ${brokers.join(',')} (${answer.nodes.length} broker${answer.nodes.length === 1 ? '' : 's'})`);
  const seen = new Set<number>();
  for (const node of answer.nodes) {
    seen.add(node.nodeId);
    const ours = nodes.find(({ id, port: nodePort }) => id === node.nodeId && nodePort === node.port);
    const extra = [
      ours ? `pid ${pids.get(ours.id)}, controller port ${ours.controllerPort}` : undefined,
      answer.controller === node.nodeId ? 'active controller' : undefined,
    ].filter((part) => part !== undefined);
    say(
      `  node ${node.nodeId}  ${node.host}:${node.port}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}  ` +
        `leads ${node.leads.length > 0 ? node.leads.join(', ') : 'no partitions'}`,
    );
  }
  for (const node of nodes) {
    if (!seen.has(node.id)) {
      say(
        `  node ${node.id}  localhost:${node.port}  ${pids.get(node.id) === undefined ? 'not running' : 'running, not in the cluster yet'}`,
      );
    }
  }
  return true;
}
