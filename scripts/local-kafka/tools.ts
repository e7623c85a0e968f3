/**
 * Kafka's own command-line tools, the real ones: from the Maven Central jars (JVM mode and an existing
 * cluster) or inside the container (Docker mode). Names as in Kafka's bin/, with or without `.sh`.
 */
import { spawn } from 'node:child_process';
import { execInDockerBroker } from './docker-broker';
import { classpath, ensureJars, toolsLog4jFile } from './jars';

/** Tool name → main class in Kafka 3.7.1 (kafka_2.13 and kafka-tools jars). */
export const TOOL_CLASSES: Record<string, string> = {
  'kafka-topics': 'org.apache.kafka.tools.TopicCommand',
  'kafka-console-producer': 'kafka.tools.ConsoleProducer',
  'kafka-console-consumer': 'kafka.tools.ConsoleConsumer',
  'kafka-consumer-groups': 'kafka.admin.ConsumerGroupCommand',
  'kafka-producer-perf-test': 'org.apache.kafka.tools.ProducerPerformance',
  'kafka-consumer-perf-test': 'org.apache.kafka.tools.ConsumerPerformance',
  'kafka-get-offsets': 'org.apache.kafka.tools.GetOffsetShell',
  'kafka-configs': 'kafka.admin.ConfigCommand',
  'kafka-delete-records': 'org.apache.kafka.tools.DeleteRecordsCommand',
  'kafka-leader-election': 'org.apache.kafka.tools.LeaderElectionCommand',
  'kafka-broker-api-versions': 'kafka.admin.BrokerApiVersionsCommand',
  'kafka-metadata-quorum': 'org.apache.kafka.tools.MetadataQuorumCommand',
  'kafka-storage': 'kafka.tools.StorageTool',
};

/** Perf tests get the optimising JIT; the short-lived tools start faster without it. */
const PERF_TOOLS = new Set(['kafka-producer-perf-test', 'kafka-consumer-perf-test']);

export function toolName(name: string): string {
  return name.replace(/\.sh$/, '').replace(/^.*\//, '');
}

export function knownTools(): string[] {
  return [...Object.keys(TOOL_CLASSES), 'kafka-run-class'].sort();
}

/** The java command line for a tool (JVM mode / existing cluster). */
export function javaToolArgs(tool: string, args: string[]): string[] {
  const name = toolName(tool);
  let mainClass = TOOL_CLASSES[name];
  let rest = args;
  if (name === 'kafka-run-class') {
    mainClass = args[0];
    rest = args.slice(1);
  }
  if (mainClass === undefined) {
    throw new Error(`unknown Kafka tool '${tool}'. Known tools: ${knownTools().join(', ')}`);
  }
  const jvm = PERF_TOOLS.has(name) ? ['-Xmx512m'] : ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
  return [...jvm, '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${toolsLog4jFile()}`, '-cp', classpath(), mainClass, ...rest];
}

/** Runs a tool with stdin, stdout and stderr passed through; resolves to its exit code. */
export async function runTool(tool: string, args: string[], where: { docker: boolean; port: number; nodes?: number }): Promise<number> {
  const name = toolName(tool);
  if (where.docker) return execInDockerBroker(where.port, where.nodes ?? 1, name, args);
  const javaArgs = javaToolArgs(name, args);
  await ensureJars((line) => console.error(line));
  const child = spawn('java', javaArgs, { stdio: 'inherit' });
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
