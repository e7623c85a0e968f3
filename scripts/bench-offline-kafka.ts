/**
 * npm run bench:offline — how fast Kafka-triggered functions run under `serverless offline start`.
 *
 * Same broker, same run, same backlog of records (default 100 000 × 100 B over 3 partitions):
 *   1. the consume member (lib/consumer/group-member) in this process, its invoke a no-op;
 *   2. the offline-kafka plugin: the same member code, each batch invoking a no-op function through
 *      serverless-offline's runner (worker thread, structured clone of the event);
 *   3. the same with `serverless offline start --useInProcess` (handler in offline's own thread);
 *   4. the plugin with 3 members per mapping (one per partition: 3 invocations in flight, as AWS allows);
 * each as a drain rate (from its group join until the broker shows every offset committed: includes the
 * first fetch and, offline, the worker's cold start) and a steady rate (records after the first invocation
 * over the time from its end to the end of the last); batch size 100 (Lambda's default), window 0. Then
 * produce→function latency with window 0: one record at a time, `sentAt` in the value, the function logs
 * how long it took (both paths).
 *
 * Each path runs --rounds times (3), the order reversed every other round; the report gives the median and min–max of
 * each rate and of each ratio to the member (taken round by round), and the load average before and after.
 *
 * Options: --records N (100000) --batch-size N (100) --latency-samples N (50 a round) --rounds N (BENCH_ROUNDS, else 3).
 * Brokers: KAFKA_BROKERS, else localhost:9092.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Partitioners, type Admin } from 'kafkajs';
import { loadConfig } from '../lib/config';
import { createKafka } from '../lib/kafka/client';
import { startGroupMember } from '../lib/consumer/group-member';
import type { KafkaEvent } from '../lib/consumer/lambda-event';
import { loadAverage, machineLine } from './support/machine';
import { freePort } from './support/free-port';
import { formatRatio, formatSpread, percentile, ratioSpread, spread } from './support/stats';
import { printTable, type Row } from './support/table';

const ROOT = resolve(__dirname, '..');

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const raw = index >= 0 ? process.argv[index + 1] : undefined;
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} expects a whole number, got ${raw}`);
  return value;
}

const RECORDS = option('records', 100_000);
const BATCH_SIZE = option('batch-size', 100);
const LATENCY_SAMPLES = option('latency-samples', 50);
const ROUNDS = option('rounds', Number(process.env.BENCH_ROUNDS || 3));
const config = loadConfig(process.env);
const brokers = config.kafka.brokers;
const quiet = new Logger({ serviceName: 'bench-offline-kafka', logLevel: 'ERROR' });
// The project's client factory: KAFKA_SSL / KAFKA_SASL_* apply, as for every other client.
const kafka = createKafka(config.kafka, quiet);
const name = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function produceBacklog(topic: string, count: number): Promise<number> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const value = 'x'.repeat(100);
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let sent = 0; sent < count; sent += 1_000) {
    const messages = Array.from({ length: Math.min(1_000, count - sent) }, (_, index) => ({ key: String((sent + index) % 97), value }));
    inFlight.push(producer.send({ topic, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return (performance.now() - started) / 1000;
}

/** Resolves with the time (ms since epoch) at which the group's committed offsets reached the end offsets. */
async function whenCommitted(groupId: string, topic: string, timeoutMs = 600_000): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const byPartition = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, offset]));
      if (ends.every(({ partition, high }) => byPartition.get(partition) === high)) return Date.now();
      await new Promise((resolvePoll) => setTimeout(resolvePoll, 50));
    }
    throw new Error(`group ${groupId} did not commit ${topic} to its end within ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}

function memberOptions(groupId: string, topic: string, invoke: (event: KafkaEvent) => Promise<unknown>) {
  const { consume } = config;
  return {
    kafka,
    logger: quiet,
    groupId,
    topic,
    startingPosition: 'TRIM_HORIZON' as const,
    batchSize: BATCH_SIZE,
    batchWindowMs: 0,
    sessionTimeoutMs: consume.sessionTimeoutMs,
    heartbeatIntervalMs: consume.heartbeatIntervalMs,
    rebalanceTimeoutMs: consume.rebalanceTimeoutMs,
    errorHandling: consume.errorHandling,
    retryBackoffMs: consume.retryBackoffMs,
    destinationsDir: consume.destinationsDir,
    eventSource: { kind: 'SelfManagedKafka' as const, bootstrapServers: brokers },
    invoke,
  };
}

/** 1. The consume member in this process, no-op invoke. */
interface Rates {
  /** Records / time from the group join until the broker shows every offset committed. */
  drain: number;
  /** Records / time between the end of the first invocation and the end of the last (no join, no cold start). */
  steady: number;
}

/** Steady-state rate from (end time ms, records) per invocation, leaving the first invocation out. */
function steadyRate(invocations: { endedAt: number; records: number }[]): number {
  const [first, ...rest] = [...invocations].sort((a, b) => a.endedAt - b.endedAt);
  const last = rest[rest.length - 1];
  if (first === undefined || last === undefined || last.endedAt === first.endedAt) return Number.NaN;
  return rest.reduce((sum, { records }) => sum + records, 0) / ((last.endedAt - first.endedAt) / 1000);
}

/** 1. The consume member in this process, no-op invoke. */
async function benchMember(topic: string): Promise<Rates> {
  const groupId = name('bench-member');
  const invocations: { endedAt: number; records: number }[] = [];
  const member = startGroupMember(
    memberOptions(groupId, topic, async (event) => {
      invocations.push({ endedAt: Date.now(), records: Object.values(event.records).reduce((sum, list) => sum + list.length, 0) });
    }),
  );
  await member.joined;
  const joinedAt = Date.now();
  const doneAt = await whenCommitted(groupId, topic);
  await member.stop();
  return { drain: RECORDS / ((doneAt - joinedAt) / 1000), steady: steadyRate(invocations) };
}

async function memberLatency(topic: string): Promise<number[]> {
  const samples: number[] = [];
  let arrived: (() => void) | undefined;
  const member = startGroupMember(
    memberOptions(name('bench-member-latency'), topic, async (event) => {
      const now = Date.now();
      for (const records of Object.values(event.records)) {
        for (const record of records) {
          samples.push(now - (JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as { sentAt: number }).sentAt);
        }
      }
      arrived?.();
    }),
  );
  await member.joined;
  await sendProbes(
    topic,
    () =>
      new Promise<void>((resolveArrival) => {
        arrived = resolveArrival;
      }),
  );
  await member.stop();
  return samples;
}

/** Sends LATENCY_SAMPLES records one at a time, each after the previous one arrived. */
async function sendProbes(topic: string, nextArrival: () => Promise<void>): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let index = 0; index < LATENCY_SAMPLES; index += 1) {
    const arrival = nextArrival();
    await producer.send({ topic, messages: [{ key: String(index), value: JSON.stringify({ sentAt: Date.now() }) }] });
    await Promise.race([
      arrival,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`probe ${index} did not arrive in 10 s`)), 10_000)),
    ]);
  }
  await producer.disconnect();
}

/** 2. The plugin under the real `serverless offline start`: throughput of `sink`, latency of `latency`. */
async function benchOffline(
  topic: string,
  latencyTopic: string,
  extraArgs: string[] = [],
  members = 1,
): Promise<{ rates: Rates; latencies: number[] }> {
  const serviceConfig = `.offline-kafka-test-${name('bench')}.yml`;
  copyFileSync(join(ROOT, 'scripts', 'support', 'bench-offline.yml'), join(ROOT, serviceConfig));
  const group = name('bench-offline');
  const latencyGroup = name('bench-offline-latency');
  let output = '';
  const waiters = new Set<() => void>();
  const child = spawn(
    'npx',
    [
      'serverless',
      'offline',
      'start',
      '--config',
      serviceConfig,
      '--httpPort',
      String(await freePort()),
      '--lambdaPort',
      String(await freePort()),
      ...extraArgs,
    ],
    {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        KAFKA_BROKERS: brokers.join(','),
        BENCH_TOPIC: topic,
        BENCH_GROUP: group,
        BENCH_BATCH_SIZE: String(BATCH_SIZE),
        BENCH_MEMBERS: String(members),
        LATENCY_TOPIC: latencyTopic,
        LATENCY_GROUP: latencyGroup,
      },
    },
  );
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters) wake();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const lines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const waitFor = <T>(what: string, check: () => T | undefined, timeoutMs: number) =>
    new Promise<T>((resolveWait, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`no ${what} within ${timeoutMs} ms:\n${output.slice(-3000)}`));
      }, timeoutMs);
      const wake = () => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          waiters.delete(wake);
          resolveWait(value);
        }
      };
      waiters.add(wake);
      wake();
    });
  try {
    // Timed from the first member's join (with several members, the others join within the same rebalance).
    const joined = await waitFor(
      'sink group join',
      () => lines().find((line) => line.message === 'group joined' && line.groupId === group),
      120_000,
    );
    const joinedAt = Date.parse(String(joined.timestamp));
    const doneAt = await whenCommitted(group, topic);
    const invoked = lines().filter((line) => line.message === 'function invoked' && line.function === 'sink');
    const durations = invoked.map((line) => Number(line.durationMs));
    const rates = {
      drain: RECORDS / ((doneAt - joinedAt) / 1000),
      steady: steadyRate(invoked.map((line) => ({ endedAt: Date.parse(String(line.timestamp)), records: Number(line.records) }))),
    };
    const coldStart = durations[0];
    console.log(
      `  (${extraArgs.join(' ') || 'worker threads'}, ${members} member(s): ${durations.length} invocations, ` +
        `first ${coldStart} ms (worker start, handler load), ` +
        `then runner round trip p50 ${percentile(durations.slice(1), 50)} ms, p90 ${percentile(durations.slice(1), 90)} ms)`,
    );

    await waitFor(
      'latency group join',
      () => lines().find((line) => line.message === 'group joined' && line.groupId === latencyGroup),
      60_000,
    );
    let seen = 0;
    await sendProbes(latencyTopic, () => {
      const want = seen + 1;
      seen = want;
      return waitFor(
        'latency probe',
        () => (lines().filter((line) => line.message === 'bench latency').length >= want ? true : undefined),
        10_000,
      ).then(() => undefined);
    });
    const latencies = lines()
      .filter((line) => line.message === 'bench latency')
      .map((line) => Number(line.ms));
    return { rates, latencies };
  } finally {
    rmSync(join(ROOT, serviceConfig), { force: true });
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      process.kill(-child.pid, 'SIGINT');
      await exited;
    }
  }
}

interface PathResult {
  rates: Rates;
  latencies: number[];
}

const PATHS = ['member', 'offline', 'inProcess', 'threeMembers'] as const;
type PathName = (typeof PATHS)[number];
const LABELS: Record<PathName, string> = {
  member: 'consume member, in process, no-op invoke',
  offline: 'offline-kafka, function via serverless-offline',
  inProcess: 'offline-kafka, offline --useInProcess',
  threeMembers: 'offline-kafka, 3 members (one per partition)',
};

/** One round: every path reads its own backlog with a new group; odd rounds go in the reverse order. */
async function runRound(round: number, backlogs: Record<PathName, string>): Promise<Record<PathName, PathResult>> {
  const latencyTopics = Object.fromEntries(PATHS.map((path) => [path, name(`bench-offline-latency-${path}`)])) as Record<PathName, string>;
  await withAdmin((admin) =>
    admin.createTopics({ topics: Object.values(latencyTopics).map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true }),
  );
  try {
    const run: Record<PathName, () => Promise<PathResult>> = {
      member: async () => ({ rates: await benchMember(backlogs.member), latencies: await memberLatency(latencyTopics.member) }),
      offline: () => benchOffline(backlogs.offline, latencyTopics.offline),
      inProcess: () => benchOffline(backlogs.inProcess, latencyTopics.inProcess, ['--useInProcess']),
      threeMembers: () => benchOffline(backlogs.threeMembers, latencyTopics.threeMembers, [], 3),
    };
    const order = round % 2 === 1 ? PATHS : [...PATHS].reverse();
    const results: Partial<Record<PathName, PathResult>> = {};
    for (const path of order) results[path] = await run[path]();
    const done = (path: PathName): PathResult => {
      const result = results[path];
      if (result === undefined) throw new Error(`round ${round}: ${path} did not run`);
      return result;
    };
    const all = { member: done('member'), offline: done('offline'), inProcess: done('inProcess'), threeMembers: done('threeMembers') };
    console.log(
      `  round ${round} (${order.join(', ')}): drain/s ` +
        PATHS.map((path) => `${path} ${all[path].rates.drain.toFixed(0)}`).join(', ') +
        `; steady/s ${PATHS.map((path) => `${path} ${all[path].rates.steady.toFixed(0)}`).join(', ')}`,
    );
    return all;
  } finally {
    await withAdmin((admin) => admin.deleteTopics({ topics: Object.values(latencyTopics) })).catch(() => undefined);
  }
}

async function main() {
  const backlogs = Object.fromEntries(PATHS.map((path) => [path, name(`bench-offline-${path}`)])) as Record<PathName, string>;
  const topics = Object.values(backlogs);
  await withAdmin((admin) => admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true }));
  try {
    console.log(`bench:offline on ${brokers.join(',')}, ${machineLine()}`);
    console.log(`before: ${loadAverage()}`);
    console.log(
      `${RECORDS} records of 100 B over 3 partitions per path; batch size ${BATCH_SIZE}, window 0; ${ROUNDS} rounds, ` +
        'each path reading its backlog again with a new group, the order reversed every other round',
    );
    let producedIn = 0;
    for (const topic of topics) producedIn += await produceBacklog(topic, RECORDS);
    console.log(`backlogs produced (${((RECORDS * topics.length) / producedIn).toFixed(0)} records/s with kafkajs)`);

    const rounds: Record<PathName, PathResult>[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) rounds.push(await runRound(round, backlogs));
    const of = (path: PathName, pick: (rates: Rates) => number) => rounds.map((result) => pick(result[path].rates));
    const rows: Row[] = [['', 'drain/s  ×member', 'steady/s  ×member']];
    const cell = (path: PathName, pick: (rates: Rates) => number) =>
      path === 'member'
        ? formatSpread(spread(of(path, pick)))
        : `${formatSpread(spread(of(path, pick)))}  ${formatRatio(ratioSpread(of(path, pick), of('member', pick)))}`;
    for (const path of PATHS) rows.push([LABELS[path], cell(path, (rates) => rates.drain), cell(path, (rates) => rates.steady)]);
    printTable(`records/s, median (min–max) of ${rounds.length} rounds; ratios to the member taken round by round`, rows);
    console.log('  drain: from the group join until every offset is committed; steady: after the first invocation');
    const pooled = (path: PathName) => rounds.flatMap((result) => result[path].latencies);
    console.log(`produce→function latency, window 0, ${LATENCY_SAMPLES} records one at a time per round, pooled over the rounds:`);
    for (const path of ['member', 'offline', 'inProcess'] as const) {
      const samples = pooled(path);
      console.log(`  ${LABELS[path].padEnd(48)} p50 ${percentile(samples, 50)} ms, p90 ${percentile(samples, 90)} ms`);
    }
    console.log(`after: ${loadAverage()}`);
  } finally {
    await withAdmin((admin) => admin.deleteTopics({ topics })).catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
