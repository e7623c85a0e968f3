/**
 * A real Confluent-compatible schema registry without Docker: Apicurio Registry from Maven Central, run on
 * the JVM in the background, bound to 127.0.0.1, storage in memory (a restart starts empty). It serves
 * Confluent's REST API under /apis/ccompat/v7, which is the base URL clients use.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { localSchemaRegistryUrl } from '../../lib/config';
import { KAFKA_HOME } from '../local-kafka/paths';
import { loopbackPortTaken, processAlive, run, waitFor } from '../local-kafka/processes';
import { errorMessage } from '../../lib/errors';

/**
 * Pinned here and nowhere else. 3.0.9 because it is the newest Apicurio Registry that both runs on Java 17
 * (the machine's and CI's Java; 3.3.x needs Java 21) and is served whole from Maven Central (the 3.1.x and
 * 3.2.x app archives are not).
 */
export const REGISTRY_VERSION = '3.0.9';
const ARTIFACT = `io.apicurio:apicurio-registry-app:${REGISTRY_VERSION}:tar.gz:all`;
const RUNNER_JAR = `apicurio-registry-app-${REGISTRY_VERSION}-runner.jar`;

const REGISTRY_HOME = resolve(KAFKA_HOME, 'registry');
const APP_DIR = resolve(REGISTRY_HOME, `apicurio-registry-${REGISTRY_VERSION}`);

export interface RegistryInstancePaths {
  dir: string;
  log: string;
  pidFile: string;
}

export function registryPaths(port: number): RegistryInstancePaths {
  const dir = resolve(KAFKA_HOME, `registry-${port}`);
  return { dir, log: join(dir, 'registry.log'), pidFile: join(dir, 'registry.pid') };
}

/** Fetches the registry's archive with Maven and unpacks it into .kafka/registry, once. */
export async function ensureRegistryApp(say: (line: string) => void = console.log): Promise<string> {
  const jar = join(APP_DIR, RUNNER_JAR);
  if (existsSync(jar)) return jar;
  mkdirSync(REGISTRY_HOME, { recursive: true });
  const archive = join(REGISTRY_HOME, `apicurio-registry-app-${REGISTRY_VERSION}-all.tar.gz`);
  say(`fetching Apicurio Registry ${REGISTRY_VERSION} (about 110 MB) from Maven Central into ${REGISTRY_HOME} (first run only)…`);
  const started = Date.now();
  // dependency:copy and :unpack cannot be used: this artifact's parent POM is not served, only the archive.
  const fetched = await run('mvn', ['-q', '-B', 'dependency:get', '-Dtransitive=false', `-Dartifact=${ARTIFACT}`, `-Ddest=${archive}`], {
    timeoutMs: 600_000,
  });
  if (fetched.code !== 0 || !existsSync(archive)) {
    const reason = fetched.code === null ? `could not run mvn (${fetched.stderr.trim()})` : `mvn exited ${fetched.code}`;
    throw new Error(`fetching Apicurio Registry failed: ${reason}\n${fetched.stdout}${fetched.stderr}`.trim());
  }
  const unpacking = `${APP_DIR}.partial`;
  rmSync(unpacking, { recursive: true, force: true });
  mkdirSync(unpacking, { recursive: true });
  try {
    await promisify(execFile)('tar', ['-xzf', archive, '-C', unpacking], { timeout: 120_000 });
  } catch (error) {
    throw new Error(`unpacking ${archive} failed: ${errorMessage(error)}`);
  }
  if (!existsSync(join(unpacking, RUNNER_JAR))) throw new Error(`${archive} holds no ${RUNNER_JAR}`);
  rmSync(APP_DIR, { recursive: true, force: true });
  // Renamed only when whole, so an interrupted unpack is never mistaken for a complete one.
  renameSync(unpacking, APP_DIR);
  rmSync(archive, { force: true });
  say(`fetched and unpacked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return jar;
}

/** The pid of the registry registry:up started on this port, if it still runs and is ours. */
export function runningRegistryPid(port: number): number | undefined {
  const { pidFile } = registryPaths(port);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  try {
    // A recycled pid is not ours: the process must be this registry on this port.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(RUNNER_JAR) || !cmdline.includes(`-Dquarkus.http.port=${port}`)) return undefined;
  } catch {
    // No /proc (macOS): trust the pid file and the liveness check.
  }
  return pid;
}

/** True when the registry's readiness check answers UP. */
export async function registryReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** True when a Confluent-compatible registry answers `GET <baseUrl>/subjects`. */
export async function registryAnswers(baseUrl: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

export interface StartedRegistry {
  pid: number;
  port: number;
  baseUrl: string;
  log: string;
}

function logTail(log: string, lines = 20): string {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n') : '';
}

/** Starts the registry on 127.0.0.1:port (or finds it running) and waits until it is ready. */
export async function registryUp(port: number, say: (line: string) => void = console.log): Promise<StartedRegistry> {
  const paths = registryPaths(port);
  const baseUrl = localSchemaRegistryUrl(port);
  const running = runningRegistryPid(port);
  if (running !== undefined) {
    say(`already running (pid ${running})`);
  } else {
    if (await loopbackPortTaken(port)) {
      throw new Error(
        `port ${port} is in use by a program that registry:up did not start. Stop it, or set SCHEMA_REGISTRY_PORT to a free ` +
          'port, or, if it is a schema registry you want to use, set SCHEMA_REGISTRY_URL to its base URL.',
      );
    }
    const jar = await ensureRegistryApp(say);
    mkdirSync(paths.dir, { recursive: true });
    const logFd = openSync(paths.log, 'a');
    const child = spawn(
      'java',
      [
        // Small and quick to start: in-memory storage, one test client at a time.
        '-Xmx192m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${port}`,
        '-jar',
        jar,
      ],
      { detached: true, stdio: ['ignore', logFd, logFd], cwd: paths.dir },
    );
    closeSync(logFd);
    if (child.pid === undefined) throw new Error('could not start java');
    child.unref();
    writeFileSync(paths.pidFile, String(child.pid));
    say(`started Apicurio Registry ${REGISTRY_VERSION} (pid ${child.pid}); log: ${paths.log}`);
  }
  const pid = runningRegistryPid(port);
  say(`waiting for http://127.0.0.1:${port}/health/ready to answer UP…`);
  const ready = await waitFor(async () => (await registryReady(port)) || runningRegistryPid(port) === undefined, 90_000, 250);
  if (!ready || pid === undefined || runningRegistryPid(port) === undefined) {
    await registryDown(port, () => undefined);
    throw new Error(`the schema registry did not become ready on port ${port}\nlast lines of ${paths.log}:\n${logTail(paths.log)}`);
  }
  say(`ready: schema registry base URL ${baseUrl}`);
  return { pid, port, baseUrl, log: paths.log };
}

/** SIGTERM, wait for the JVM to exit (SIGKILL after timeoutMs). True when something was stopped. */
export async function registryDown(port: number, say: (line: string) => void = console.log, timeoutMs = 20_000): Promise<boolean> {
  const paths = registryPaths(port);
  const pid = runningRegistryPid(port);
  if (pid === undefined) {
    rmSync(paths.pidFile, { force: true });
    say(`no schema registry started by registry:up is running on port ${port}`);
    return false;
  }
  say(`stopping the schema registry (pid ${pid})…`);
  process.kill(pid, 'SIGTERM');
  if (!(await waitFor(() => !processAlive(pid), timeoutMs, 100))) {
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !processAlive(pid), 5_000, 100);
  }
  rmSync(paths.pidFile, { force: true });
  say('stopped (its schemas were in memory and are gone)');
  return true;
}
