/** Kafka 3.7.1 in Docker (apache/kafka:3.7.1) through docker compose, when a Docker engine answers. */
import { spawn } from 'node:child_process';
import { COMPOSE_FILE } from './paths';
import { run } from './processes';

/** One compose project per port, so instances on different ports do not share a container. */
export function composeProject(port: number): string {
  return `kafka-functions-${port}`;
}

function composeArgs(port: number): string[] {
  return ['compose', '-f', COMPOSE_FILE, '-p', composeProject(port)];
}

function composeEnv(port: number): NodeJS.ProcessEnv {
  return { ...process.env, KAFKA_PORT: String(port) };
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
export async function dockerBrokerRunning(port: number): Promise<boolean> {
  const result = await run('docker', [...composeArgs(port), 'ps', '--status', 'running', '-q', 'kafka'], {
    env: composeEnv(port),
    timeoutMs: 20_000,
  });
  return result.code === 0 && result.stdout.trim() !== '';
}

export async function startDockerBroker(port: number): Promise<void> {
  const result = await run('docker', [...composeArgs(port), 'up', '-d', '--wait'], { env: composeEnv(port), timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`docker compose up failed:\n${result.stdout}${result.stderr}`);
}

export async function stopDockerBroker(port: number, options: { wipe?: boolean } = {}): Promise<void> {
  const result = await run('docker', [...composeArgs(port), 'down', ...(options.wipe ? ['-v'] : [])], {
    env: composeEnv(port),
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(`docker compose down failed:\n${result.stdout}${result.stderr}`);
}

/** Runs one of Kafka's own scripts inside the container, stdin and stdout passed through. */
export function execInDockerBroker(port: number, script: string, args: string[]): Promise<number> {
  // compose exec allocates a TTY by default; -T when stdin is a pipe (scripts, tests).
  const interactive = process.stdin.isTTY ? [] : ['-T'];
  const child = spawn('docker', [...composeArgs(port), 'exec', ...interactive, 'kafka', `/opt/kafka/bin/${script}.sh`, ...args], {
    env: composeEnv(port),
    stdio: 'inherit',
  });
  return new Promise((resolvePromise) => {
    child.on('error', () => resolvePromise(127));
    child.on('close', (code) => resolvePromise(code ?? 1));
  });
}
