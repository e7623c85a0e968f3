/**
 * Kafka's own Java tools for the benchmarks' yardsticks, from the jars kafka:up fetches: one runner, and
 * the two perf tests read at steady state.
 */
import { spawn } from 'node:child_process';
import { javaToolArgs } from '../local-kafka/tools';

export interface JavaRun {
  /** Everything the tool printed (stdout and stderr). */
  output: string;
  code: number | null;
}

/**
 * Runs a Kafka tool to its end, or until `enough(output)` says so (then it is stopped: the perf tests have
 * no duration option). Rejects on a non-zero exit the runner did not ask for, or after timeoutMs.
 */
export function runJavaTool(tool: string, args: string[], options: { enough?: (output: string) => boolean; timeoutMs?: number } = {}) {
  const timeoutMs = options.timeoutMs ?? 300_000;
  return new Promise<JavaRun>((resolveRun, reject) => {
    const child = spawn('java', javaToolArgs(tool, args));
    let output = '';
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${tool} did not finish within ${timeoutMs} ms:\n${output.slice(-3000)}`));
    }, timeoutMs);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (options.enough?.(output)) stop();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !stopped) reject(new Error(`${tool} exited ${code}:\n${output.slice(-3000)}`));
      else resolveRun({ output, code });
    });
  });
}

/** kafka-producer-perf-test reports every 5 s (its fixed window): "N records sent, R records/sec (…". */
const PRODUCER_WINDOW = /^(\d+) records sent, ([\d.]+) records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency/;

export interface SteadyRate {
  /** Records per second over the measured windows (warm-up windows left out). */
  rate: number;
  /** Each measured window's own rate. */
  windows: number[];
}

/**
 * kafka-producer-perf-test at steady state: runs until `warmupWindows + windows` of its 5 s windows have
 * been reported, then is stopped; the warm-up windows (JVM start, JIT, connections) are left out.
 */
export async function producerPerfTest(options: {
  brokers: string[];
  topic: string;
  recordSize: number;
  props: string[];
  warmupWindows: number;
  windows: number;
}): Promise<SteadyRate> {
  const wanted = options.warmupWindows + options.windows;
  const windowsOf = (output: string) =>
    output
      .split('\n')
      .map((line) => PRODUCER_WINDOW.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null);
  const { output } = await runJavaTool(
    'kafka-producer-perf-test',
    [
      '--topic',
      options.topic,
      '--num-records',
      '1000000000',
      '--record-size',
      String(options.recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${options.brokers.join(',')}`,
      ...options.props,
    ],
    // A window's line is complete once the next line starts; a whole line ends with "\n".
    { enough: (text) => windowsOf(text.slice(0, text.lastIndexOf('\n') + 1)).length >= wanted, timeoutMs: (wanted * 5 + 60) * 1_000 },
  );
  const measured = windowsOf(output.slice(0, output.lastIndexOf('\n') + 1)).slice(options.warmupWindows, wanted);
  if (measured.length < options.windows) throw new Error(`kafka-producer-perf-test reported ${measured.length} windows:\n${output}`);
  // Each window's duration is its records over its rate; the steady rate is all records over all durations.
  let records = 0;
  let seconds = 0;
  for (const match of measured) {
    const sent = Number(match[1]);
    const rate = Number(match[2]);
    records += sent;
    seconds += sent / rate;
  }
  return { rate: records / seconds, windows: measured.map((match) => Number(match[2])) };
}

export interface ConsumerPerfResult {
  /** nMsg.sec: records over the whole run, the group join included. */
  total: number;
  /** fetch.nMsg.sec: records over the time after the join (the tool's own steady part). */
  fetching: number;
}

/** kafka-consumer-perf-test reading `records` records of a topic with a new group. */
export async function consumerPerfTest(options: { brokers: string[]; topic: string; records: number; group: string }) {
  const { output } = await runJavaTool('kafka-consumer-perf-test', [
    '--bootstrap-server',
    options.brokers.join(','),
    '--topic',
    options.topic,
    '--messages',
    String(options.records),
    '--group',
    options.group,
    '--timeout',
    '60000',
  ]);
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
  // fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = output
    .trim()
    .split('\n')
    .filter((row) => /^\d{4}-/.test(row))
    .pop();
  const fields = line?.split(',').map((field) => field.trim());
  if (fields === undefined || fields.length < 10) throw new Error(`unexpected kafka-consumer-perf-test output:\n${output}`);
  const result: ConsumerPerfResult = { total: Number(fields[5]), fetching: Number(fields[9]) };
  return result;
}
