/**
 * Kafka in Docker (apache/kafka:$KAFKA_VERSION, default 3.7.1) through docker compose, when a Docker engine answers: one
 * broker from docker-compose.yml, or three from docker-compose.cluster.yml (`kafka:up -- --brokers 3`).
 */
import { spawn } from 'node:child_process';
import { COMPOSE_CLUSTER_FILE, COMPOSE_FILE } from './paths';
import { run } from './processes';

/** The compose file for one broker or for the three-broker cluster. */
export function composeFile(count: number): string {
  return count === 1 ? COMPOSE_FILE : COMPOSE_CLUSTER_FILE;
}

/** The service Kafka's tools run in (and whose state tells whether the deployment runs). */
function firstService(count: number): string {
  return count === 1 ? 'kafka' : 'kafka-1';
}

/** One compose project per port, so instances on different ports do not share a container. */
export function composeProject(port: number): string {
  return `kafka-functions-${port}`;
}

function composeArgs(port: number, count: number): string[] {
  return ['compose', '-f', composeFile(count), '-p', composeProject(port)];
}

/** Compose files cannot add: the cluster's second and third host ports are passed in ready-made. */
function composeEnv(port: number): NodeJS.ProcessEnv {
  return { ...process.env, KAFKA_PORT: String(port), KAFKA_PORT_2: String(port + 1), KAFKA_PORT_3: String(port + 2) };
}

/** True when a Docker engine (not just the client) answers and the compose plugin is there. */
export async function dockerEngineAnswers(): Promise<boolean> {
  const result = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 });
  return result.code === 0 && result.stdout.trim() !== '' && (await dockerComposeAvailable());
}

export async function dockerComposeAvailable(): Promise<boolean> {
  const result = await run('docker', ['compose', 'version'], { timeoutMs: 10_000 });
  return result.code === 0;
}

/** True when our compose project's kafka container runs on this port. */
export async function dockerBrokerRunning(port: number, count: number): Promise<boolean> {
  const result = await run('docker', [...composeArgs(port, count), 'ps', '--status', 'running', '-q', firstService(count)], {
    env: composeEnv(port),
    timeoutMs: 20_000,
  });
  return result.code === 0 && result.stdout.trim() !== '';
}

export async function startDockerBroker(port: number, count: number): Promise<void> {
  const result = await run('docker', [...composeArgs(port, count), 'up', '-d', '--wait'], { env: composeEnv(port), timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`docker compose up failed:\n${result.stdout}${result.stderr}`);
}

export async function stopDockerBroker(port: number, count: number, options: { wipe?: boolean } = {}): Promise<void> {
  const result = await run('docker', [...composeArgs(port, count), 'down', ...(options.wipe ? ['-v'] : [])], {
    env: composeEnv(port),
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(`docker compose down failed:\n${result.stdout}${result.stderr}`);
}

/** Runs one of Kafka's own scripts inside the container, stdin and stdout passed through. */
export function execInDockerBroker(port: number, count: number, script: string, args: string[]): Promise<number> {
  // compose exec allocates a TTY by default; -T when stdin is a pipe (scripts, tests).
  const interactive = process.stdin.isTTY ? [] : ['-T'];
  const child = spawn(
    'docker',
    [...composeArgs(port, count), 'exec', ...interactive, firstService(count), `/opt/kafka/bin/${script}.sh`, ...args],
    {
      env: composeEnv(port),
      stdio: 'inherit',
    },
  );
  return new Promise((resolvePromise) => {
    child.on('error', () => resolvePromise(127));
    child.on('close', (code) => resolvePromise(code ?? 1));
  });
}
