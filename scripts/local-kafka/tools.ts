/**
 * Kafka's own command-line tools, the real ones: from the Maven Central jars (JVM mode and an existing
 * cluster) or inside the container (Docker mode). Names as in Kafka's bin/, with or without `.sh`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config';
import { execInDockerBroker } from './docker-broker';
import { classpath, ensureJars, toolsLog4jFlag } from './jars';
import { clientProperties } from './secure';
import { type KafkaRelease, kafkaRelease } from './versions';

/** Perf tests get the optimising JIT; the short-lived tools start faster without it. */
const PERF_TOOLS = new Set(['kafka-producer-perf-test', 'kafka-consumer-perf-test']);

export function toolName(name: string): string {
  return name.replace(/\.sh$/, '').replace(/^.*\//, '');
}

export function knownTools(release: KafkaRelease = kafkaRelease()): string[] {
  return [...Object.keys(release.tools), 'kafka-run-class'].sort();
}

/** The java command line for a tool of the release KAFKA_VERSION names (JVM mode / existing cluster). */
export function javaToolArgs(tool: string, args: string[], release: KafkaRelease = kafkaRelease()): string[] {
  const name = toolName(tool);
  let mainClass = release.tools[name];
  let rest = args;
  if (name === 'kafka-run-class') {
    mainClass = args[0];
    rest = args.slice(1);
  }
  if (mainClass === undefined) {
    throw new Error(`unknown Kafka tool '${tool}'. Known tools: ${knownTools(release).join(', ')}`);
  }
  const jvm = PERF_TOOLS.has(name) ? ['-Xmx512m'] : ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
  return [...jvm, '-Djava.awt.headless=true', toolsLog4jFlag(release), '-cp', classpath(release), mainClass, ...rest];
}

/**
 * With KAFKA_SSL / KAFKA_SASL_* set (a secured cluster, such as kafka:up --secure's or MSK's), Kafka's tools
 * get the same settings in a client properties file (mode 600, deleted when the tool exits), through the flag
 * each tool has for one; unless the caller passed that flag itself.
 */
function securityConfig(tool: string, args: string[], release: KafkaRelease): { flag: string; file: string; dir: string } | undefined {
  const flag = release.clientConfigFlags[tool];
  if (flag === undefined || args.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) return undefined;
  const lines = clientProperties(loadConfig(process.env).kafka);
  if (lines === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'kafka-functions-client-'));
  const file = join(dir, 'client.properties');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { flag, file, dir };
}

/** Runs a tool with stdin, stdout and stderr passed through; resolves to its exit code. */
export async function runTool(tool: string, args: string[], where: { docker: boolean; port: number; nodes?: number }): Promise<number> {
  const name = toolName(tool);
  if (where.docker) return execInDockerBroker(where.port, where.nodes ?? 1, name, args);
  const release = kafkaRelease();
  const security = securityConfig(name, args, release);
  const javaArgs = javaToolArgs(name, security === undefined ? args : [...args, security.flag, security.file], release);
  await ensureJars((line) => console.error(line), release);
  const child = spawn('java', javaArgs, { stdio: 'inherit' });
  if (security !== undefined) child.on('close', () => rmSync(security.dir, { recursive: true, force: true }));
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolvePromise) => {
    child.on('error', (error) => {
      console.error(`could not run java: ${error.message}`);
      resolvePromise(127);
    });
    child.on('close', (code, signal) => resolvePromise(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}
