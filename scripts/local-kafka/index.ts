/**
 * kafka:up / kafka:down / kafka:status. One command, three modes, chosen in this order:
 *   1. KAFKA_BROKERS set: an existing cluster (checked, never started or stopped by us);
 *   2. a Docker engine answers: docker compose with apache/kafka:3.7.1;
 *   3. Java present: the same Kafka release on the JVM from Maven Central jars.
 * KAFKA_MODE=external|docker|jvm forces one. KAFKA_PORT moves the local broker (default 9092).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { dockerBrokerRunning, dockerComposeAvailable, dockerEngineAnswers, startDockerBroker, stopDockerBroker } from './docker-broker';
import { javaAvailable } from './jars';
import { brokerLogTail, jvmBrokerPaths, runningJvmBrokerPid, startJvmBroker, stopJvmBroker } from './jvm-broker';
import { KAFKA_HOME, KAFKA_VERSION, REPO_ROOT, stateFile } from './paths';
import { loopbackPortTaken, processAlive } from './processes';
import { ensureTutorialTopics, probeBroker, waitUntilServing } from './probe';

export type Mode = 'external' | 'docker' | 'jvm';

export interface LocalKafkaOptions {
  port: number;
  controllerPort: number;
  brokers: string[] | undefined;
  forcedMode: Mode | undefined;
  say: (line: string) => void;
}

export interface KafkaState {
  mode: Mode;
  brokers: string[];
  port: number;
  pid?: number;
  startedAt: string;
}

const MODES: readonly Mode[] = ['external', 'docker', 'jvm'];

/** Reads KAFKA_BROKERS, KAFKA_PORT, KAFKA_CONTROLLER_PORT and KAFKA_MODE; bad values name the variable. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = console.log): LocalKafkaOptions {
  const portText = env.KAFKA_PORT?.trim() || '9092';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65534) throw new Error(`KAFKA_PORT: expected a port number, got '${portText}'`);
  const controllerText = env.KAFKA_CONTROLLER_PORT?.trim() || String(port + 1);
  const controllerPort = Number(controllerText);
  if (!/^\d+$/.test(controllerText) || controllerPort < 1 || controllerPort > 65535 || controllerPort === port) {
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
      '  - start a Docker engine (docker compose runs apache/kafka:3.7.1 from docker-compose.yml);',
      '  - install Java 17+ and Maven (Kafka 3.7.1 then runs on the JVM from Maven Central jars).',
    ].join('\n'),
  );
}

/** Brings Kafka up (or finds it up), waits until it serves, creates the tutorial's topics. */
export async function kafkaUp(options: LocalKafkaOptions): Promise<KafkaState> {
  const { port, say } = options;
  const mode = await chooseMode(options);
  let state: KafkaState;

  if (mode === 'external') {
    const brokers = options.brokers ?? [];
    say(`mode: existing cluster (KAFKA_BROKERS=${brokers.join(',')})`);
    await waitUntilServing(brokers, { timeoutMs: 30_000, what: 'the cluster in KAFKA_BROKERS', say });
    state = { mode, brokers, port, startedAt: new Date().toISOString() };
  } else if (mode === 'docker') {
    const brokers = [`localhost:${port}`];
    say(`mode: Docker (docker compose, image apache/kafka:${KAFKA_VERSION}, port ${port})`);
    if (!(await dockerComposeAvailable())) {
      throw new Error(
        'KAFKA_MODE=docker needs a Docker engine with the compose plugin (`docker compose version` failed); ' +
          'unset KAFKA_MODE to use the JVM instead',
      );
    }
    if (await dockerBrokerRunning(port)) {
      say('already running');
    } else {
      const foreign = await foreignKafka(port, say);
      if (foreign) return foreign;
      say('starting: docker compose up -d --wait (the first run pulls the image)…');
      await startDockerBroker(port);
    }
    await waitUntilServing(brokers, { timeoutMs: 120_000, what: 'the Kafka container', say });
    state = { mode, brokers, port, startedAt: new Date().toISOString() };
  } else {
    const brokers = [`localhost:${port}`];
    say(`mode: JVM (Kafka ${KAFKA_VERSION} from Maven Central jars, port ${port})`);
    const running = runningJvmBrokerPid(port);
    const previous = readState(port);
    if (running !== undefined) {
      say(`already running (pid ${running})`);
      await waitUntilServing(brokers, { timeoutMs: 60_000, what: `the Kafka broker (pid ${running})`, say });
      state = { mode, brokers, port, pid: running, startedAt: previous?.startedAt ?? new Date().toISOString() };
    } else {
      const foreign = await foreignKafka(port, say);
      if (foreign) return foreign;
      if (await loopbackPortTaken(options.controllerPort)) {
        throw new Error(
          `port ${options.controllerPort} (the KRaft controller port) is in use by another program; ` +
            'set KAFKA_CONTROLLER_PORT to a free port',
        );
      }
      const started = await startJvmBroker(port, options.controllerPort, say);
      say(`started the broker (pid ${started.pid}); log: ${shortPath(started.paths.log)}, data: ${shortPath(started.paths.dataDir)}`);
      try {
        await waitUntilServing(brokers, {
          timeoutMs: 90_000,
          what: `the Kafka broker (pid ${started.pid})`,
          say,
          stillStarting: () => processAlive(started.pid),
        });
      } catch (error) {
        const tail = brokerLogTail(port);
        await stopJvmBroker(port);
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\nlast lines of ${shortPath(started.paths.log)}:\n${tail}`,
        );
      }
      state = { mode, brokers, port, pid: started.pid, startedAt: new Date().toISOString() };
    }
  }

  // An existing cluster is not ours: no state, so the local broker's state on this port stays as it is.
  if (state.mode !== 'external') writeState(state);
  return withTutorialTopics(state, say);
}

async function withTutorialTopics(state: KafkaState, say: (line: string) => void): Promise<KafkaState> {
  const created = await ensureTutorialTopics(state.brokers);
  say(created.length > 0 ? `created topics: ${created.join(', ')}` : 'topics payment-done and quickstart-events are there');
  return state;
}

/**
 * The port kafka:up wants is taken by a program it did not start. A Kafka that answers a metadata request
 * there (the tutorial's `docker run -p 9092:9092 apache/kafka:3.7.1`, say) is used as an existing cluster;
 * anything else is an error that names the port and the ways out. Resolves to undefined when the port is free.
 */
async function foreignKafka(port: number, say: (line: string) => void): Promise<KafkaState | undefined> {
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
  if (state?.mode === 'docker' || (state === undefined && (await dockerEngineAnswers()) && (await dockerBrokerRunning(port)))) {
    say(`stopping the Kafka container (docker compose down${wipe ? ' -v' : ''})…`);
    await stopDockerBroker(port, { wipe });
    didSomething = true;
  }
  const pid = runningJvmBrokerPid(port);
  if (pid !== undefined || wipe) {
    if (pid !== undefined) say(`stopping the Kafka broker (pid ${pid}, SIGTERM, waiting for a clean shutdown)…`);
    const stopped = await stopJvmBroker(port, { wipe });
    if (stopped) say('stopped');
    if (wipe) say(`deleted ${shortPath(jvmBrokerPaths(port).dir)}`);
    didSomething ||= stopped || wipe;
  }
  rmSync(stateFile(port), { force: true });
  if (!didSomething) say(`no Kafka started by kafka:up is running on port ${port}`);
}

/** What runs where. Returns false when nothing serves. */
export async function kafkaStatus(options: LocalKafkaOptions): Promise<boolean> {
  const { port, say } = options;
  const state = readState(port);
  const brokers = options.brokers ?? state?.brokers ?? [`localhost:${port}`];
  const answer = await probeBroker(brokers);
  const pid = runningJvmBrokerPid(port);
  if (pid !== undefined) {
    const paths = jvmBrokerPaths(port);
    say(`JVM broker: Kafka ${KAFKA_VERSION}, pid ${pid}, port ${port}; log ${shortPath(paths.log)}, data ${shortPath(paths.dataDir)}`);
  } else if (state?.mode === 'docker') {
    say(`Docker: compose project kafka-functions-${port} (image apache/kafka:${KAFKA_VERSION})`);
  } else if (options.brokers) {
    say(`existing cluster from KAFKA_BROKERS`);
  } else {
    say(`no Kafka started by kafka:up on port ${port}${answer.ok ? ' (the Kafka that serves there is not ours to stop)' : ''}`);
  }
  say(
    answer.ok
      ? `serving at ${brokers.join(',')} (${answer.brokers} broker${answer.brokers === 1 ? '' : 's'})`
      : `not serving at ${brokers.join(',')}: ${answer.reason}`,
  );
  return answer.ok;
}
