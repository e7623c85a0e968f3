/**
 * Kafka 3.7.1 run on the JVM from the Maven Central jars: single node, KRaft (broker and controller in one
 * process), in the background with a pid file and a log file. Storage is formatted once; data survives
 * stop and start until --wipe.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classpath, ensureJars, toolsLog4jFile } from './jars';
import { instanceDir } from './paths';
import { processAlive, run, waitFor } from './processes';

export interface JvmBrokerPaths {
  dir: string;
  dataDir: string;
  properties: string;
  log: string;
  pidFile: string;
  log4j: string;
}

export function jvmBrokerPaths(port: number): JvmBrokerPaths {
  const dir = instanceDir(port);
  return {
    dir,
    dataDir: join(dir, 'data'),
    properties: join(dir, 'server.properties'),
    log: join(dir, 'broker.log'),
    pidFile: join(dir, 'broker.pid'),
    log4j: join(dir, 'log4j.properties'),
  };
}

/** The pid of the broker kafka:up started on this port, if that process still runs and is ours. */
export function runningJvmBrokerPid(port: number): number | undefined {
  const paths = jvmBrokerPaths(port);
  if (!existsSync(paths.pidFile)) return undefined;
  const pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  // Guard against a recycled pid: the process must be a Kafka broker on this instance's properties.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('kafka.Kafka') || !cmdline.includes(paths.properties)) return undefined;
  } catch {
    // No /proc (macOS): trust the pid file and the liveness check.
  }
  return pid;
}

function writeConfig(paths: JvmBrokerPaths, port: number, controllerPort: number): void {
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(
    paths.properties,
    [
      '# Written by kafka:up (scripts/local-kafka). Single-node KRaft: broker and controller in one process.',
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://localhost:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${paths.dataDir}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      // Without this every first join of a group waits 3 s for more members.
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      '',
    ].join('\n'),
  );
  writeFileSync(
    paths.log4j,
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.request.logger=WARN',
      'log4j.logger.state.change.logger=WARN',
      'log4j.logger.kafka.log.LogCleaner=WARN',
      '',
    ].join('\n'),
  );
}

/** Formats KRaft storage the first time (keeps the data on later starts). */
async function formatStorageOnce(paths: JvmBrokerPaths): Promise<void> {
  if (existsSync(join(paths.dataDir, 'meta.properties'))) return;
  const java = ['-cp', classpath(), `-Dlog4j.configuration=file:${toolsLog4jFile()}`, 'kafka.tools.StorageTool'];
  const uuid = await run('java', [...java, 'random-uuid'], { timeoutMs: 60_000 });
  const clusterId = uuid.stdout.trim();
  if (uuid.code !== 0 || clusterId === '') throw new Error(`kafka-storage random-uuid failed: ${uuid.stderr}`);
  const format = await run('java', [...java, 'format', '-t', clusterId, '-c', paths.properties], { timeoutMs: 60_000 });
  if (format.code !== 0) throw new Error(`kafka-storage format failed: ${format.stdout}${format.stderr}`);
}

export interface StartedJvmBroker {
  pid: number;
  paths: JvmBrokerPaths;
}

/** Starts the broker in the background (detached: it outlives this process). Does not wait for it to serve. */
export async function startJvmBroker(
  port: number,
  controllerPort: number,
  say: (line: string) => void = console.log,
): Promise<StartedJvmBroker> {
  await ensureJars(say);
  const paths = jvmBrokerPaths(port);
  writeConfig(paths, port, controllerPort);
  await formatStorageOnce(paths);
  const heap = process.env.KAFKA_HEAP_OPTS ?? '-Xms256m -Xmx512m';
  const logFd = openSync(paths.log, 'a');
  const child = spawn(
    'java',
    [
      ...heap.split(/\s+/).filter((part) => part !== ''),
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${paths.log4j}`,
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
  return { pid: child.pid, paths };
}

/** SIGTERM (Kafka's clean shutdown), wait up to timeoutMs, then SIGKILL. Optionally deletes the data. */
export async function stopJvmBroker(port: number, options: { wipe?: boolean; timeoutMs?: number } = {}): Promise<boolean> {
  const paths = jvmBrokerPaths(port);
  const pid = runningJvmBrokerPid(port);
  let stopped = false;
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const exited = await waitFor(() => !processAlive(pid), options.timeoutMs ?? 30_000, 100);
    if (!exited) {
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !processAlive(pid), 5_000, 100);
    }
    stopped = true;
  }
  rmSync(paths.pidFile, { force: true });
  if (options.wipe) rmSync(paths.dir, { recursive: true, force: true });
  return stopped;
}

/** The last lines of the broker's log, for error messages. */
export function brokerLogTail(port: number, lines = 30): string {
  const { log } = jvmBrokerPaths(port);
  if (!existsSync(log)) return '';
  return readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n');
}
