/**
 * npm run bench:consume — the consumer group member on one broker, in one run, next to Kafka's own Java
 * consumer (kafka-consumer-perf-test) as the yardstick:
 *   1. records/s of one member (lib/consumer, Lambda-shaped batches to a no-op handler) reading a
 *      backlog of BENCH_RECORDS 1 KB records (Lambda's defaults, and batch size 10000 / window 0),
 *      vs kafka-consumer-perf-test reading the same topic;
 *   2. how long until the survivors consume a moved partition again after a member (a real
 *      `npm run consume` process) leaves gracefully (SIGINT), and after one is killed (SIGKILL);
 *   3. produce → handler latency, p50/p99, one record at a time, with window 0 (and the default 500 ms).
 * Brokers: KAFKA_BROKERS or localhost:9092. Creates its own topics and groups, and deletes the topics.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../lib/config';
import { createKafka } from '../lib/kafka-client';
import { logger } from '../lib/logger';
import { startGroupMember, type GroupMember, type GroupMemberOptions } from '../lib/consumer/group-member';
import { eventRecords, type KafkaEvent } from '../lib/consumer/lambda-event';
import { ensureJars } from './local-kafka/jars';
import { javaToolArgs } from './local-kafka/tools';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const LATENCY_RECORDS = Number(process.env.BENCH_LATENCY_RECORDS ?? 300);
const REPO_ROOT = resolve(__dirname, '..');

const config: Config = loadConfig({ ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? 'localhost:9092' });
const brokers = config.kafka.brokers;
const suffix = randomBytes(4).toString('hex');
const say = (line: string) => console.log(line);

function memberOptions(
  kafka: Kafka,
  groupId: string,
  topic: string,
  invoke: (event: KafkaEvent) => Promise<unknown>,
  overrides: Partial<GroupMemberOptions> = {},
): GroupMemberOptions {
  return {
    kafka,
    logger,
    groupId,
    topic,
    startingPosition: 'TRIM_HORIZON',
    ...config.consume,
    eventSource: { kind: 'SelfManagedKafka', bootstrapServers: brokers },
    invoke,
    ...overrides,
  };
}

function runJava(tool: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('java', javaToolArgs(tool, args));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`${tool} exited ${code}:\n${output}`))));
  });
}

const createdTopics: string[] = [];

async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  createdTopics.push(topic);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** One member reads the whole backlog; records/s from its start (join included) and from its first batch. */
async function benchMember(
  kafka: Kafka,
  topic: string,
  overrides: Partial<GroupMemberOptions>,
): Promise<{ total: number; fetching: number }> {
  let first: number | undefined;
  let last = 0;
  const started = performance.now();
  const member = startGroupMember(
    memberOptions(
      kafka,
      `bench-member-${randomBytes(4).toString('hex')}`,
      topic,
      async (event) => {
        first ??= performance.now();
        // Touch every record as a handler would (the base64 value is decoded).
        for (const record of eventRecords(event)) Buffer.from(record.value, 'base64');
        last = performance.now();
      },
      { maxRecords: RECORDS, ...overrides },
    ),
  );
  const summary = await member.done;
  if (summary.recordsProcessed !== RECORDS)
    throw new Error(`member processed ${summary.recordsProcessed} of ${RECORDS}: ${summary.error ?? ''}`);
  return { total: RECORDS / ((last - started) / 1_000), fetching: RECORDS / ((last - (first ?? started)) / 1_000) };
}

/** kafka-consumer-perf-test on the same topic: nMsg.sec (join included) and fetch.nMsg.sec. */
async function benchJava(topic: string): Promise<{ total: number; fetching: number }> {
  const output = await runJava('kafka-consumer-perf-test', [
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(RECORDS),
    '--group',
    `bench-java-${randomBytes(4).toString('hex')}`,
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
  return { total: Number(fields[5]), fetching: Number(fields[9]) };
}

interface ChildMember {
  child: ChildProcessWithoutNullStreams;
  partitions: Promise<number[]>;
}

/** A real `npm run consume` member (run with node directly, so a signal reaches exactly it). */
function startChildMember(topic: string, groupId: string): ChildMember {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/consume.ts', '--topic', topic, '--group', groupId], {
    cwd: REPO_ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers.join(','), CONSUME_BATCH_WINDOW_MS: '0' },
  });
  let output = '';
  const partitions = new Promise<number[]>((resolvePromise, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const joins = output.split('\n').filter((line) => line.includes('"message":"group joined"'));
      const last = joins[joins.length - 1];
      if (last !== undefined) {
        const parsed = JSON.parse(last) as { assignment: Record<string, number[]> };
        const held = parsed.assignment[topic] ?? [];
        if (held.length > 0) resolvePromise(held);
      }
    });
    child.on('exit', () => reject(new Error(`member exited before holding a partition:\n${output}`)));
  });
  child.stderr.resume();
  partitions.catch(() => undefined);
  return { child, partitions };
}

/**
 * Three members (two in this process, one a child process) share three partitions while records keep
 * coming; the child is stopped with `signal`; returns the ms until a survivor handles a record of its partition.
 */
async function benchMove(kafka: Kafka, signal: 'SIGINT' | 'SIGKILL'): Promise<number> {
  const topic = `bench-consume-move-${signal.toLowerCase()}-${suffix}`;
  const groupId = `bench-move-${signal.toLowerCase()}-${suffix}`;
  await createTopic(kafka, topic, 3);
  const seen = new Map<number, number>(); // partition → last time a survivor handled one of its records
  const waiters: { partition: number; after: number; resolve: (at: number) => void }[] = [];
  const survivorInvoke = async (event: KafkaEvent) => {
    const now = performance.now();
    for (const record of eventRecords(event)) {
      seen.set(record.partition, now);
      for (const waiter of [...waiters]) {
        if (waiter.partition === record.partition && now >= waiter.after) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(now);
        }
      }
    }
  };
  const survivors: GroupMember[] = [1, 2].map(() =>
    startGroupMember(memberOptions(createKafka(config.kafka, logger), groupId, topic, survivorInvoke, { batchWindowMs: 0 })),
  );
  await Promise.all(survivors.map((member) => member.joined));
  const victim = startChildMember(topic, groupId);
  const [partition] = await victim.partitions;
  if (partition === undefined) throw new Error('victim holds no partition');

  const producer = kafka.producer();
  await producer.connect();
  let producing = true;
  const stream = (async () => {
    let n = 0;
    while (producing) {
      await producer.send({ topic, messages: [0, 1, 2].map((p) => ({ partition: p, value: `r-${n}` })) });
      n += 1;
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
    }
  })();
  await new Promise((resolvePromise) => setTimeout(resolvePromise, 1_000));

  const stoppedAt = performance.now();
  const moved = new Promise<number>((resolvePromise) => waiters.push({ partition, after: stoppedAt, resolve: resolvePromise }));
  victim.child.kill(signal);
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`partition ${partition} did not move within 60 s`)), 60_000).unref(),
  );
  const movedAt = await Promise.race([moved, timeout]);
  producing = false;
  await stream;
  await producer.disconnect();
  await Promise.all(survivors.map((member) => member.stop()));
  if (victim.child.exitCode === null && victim.child.signalCode === null)
    await new Promise((resolvePromise) => victim.child.once('exit', resolvePromise));
  return movedAt - stoppedAt;
}

/** produce → handler latency of single records sent one at a time, 20 ms apart. */
async function benchLatency(kafka: Kafka, batchWindowMs: number): Promise<{ p50: number; p99: number }> {
  const topic = `bench-consume-latency-${batchWindowMs}-${suffix}`;
  await createTopic(kafka, topic, 3);
  const latencies: number[] = [];
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolvePromise) => {
    resolveAll = resolvePromise;
  });
  const member = startGroupMember(
    memberOptions(
      createKafka(config.kafka, logger),
      `bench-latency-${batchWindowMs}-${suffix}`,
      topic,
      async (event) => {
        const now = Date.now();
        for (const record of eventRecords(event)) latencies.push(now - Number(Buffer.from(record.value, 'base64').toString()));
        if (latencies.length >= LATENCY_RECORDS) resolveAll();
      },
      { batchWindowMs },
    ),
  );
  await member.joined;
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < LATENCY_RECORDS; i += 1) {
    await producer.send({ topic, messages: [{ key: `k-${i}`, value: String(Date.now()) }] });
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
  }
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`latency: ${latencies.length} of ${LATENCY_RECORDS} records arrived within 30 s`)), 30_000).unref(),
  );
  await Promise.race([all, timeout]);
  await producer.disconnect();
  await member.stop();
  latencies.sort((a, b) => a - b);
  const pick = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { p50: pick(50), p99: pick(99) };
}

async function main(): Promise<void> {
  logger.setLogLevel('ERROR');
  say(`bench:consume on ${brokers.join(',')}: ${RECORDS} records of 1 KB for throughput, ${LATENCY_RECORDS} for latency`);
  await ensureJars((line) => say(line));
  const kafka = createKafka(config.kafka);
  const topic = `bench-consume-${suffix}`;
  await createTopic(kafka, topic, 3);
  say(`1/4 filling ${topic} (3 partitions) with kafka-producer-perf-test…`);
  await runJava('kafka-producer-perf-test', [
    '--topic',
    topic,
    '--num-records',
    String(RECORDS),
    '--record-size',
    '1024',
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers.join(',')}`,
    'linger.ms=10',
    'batch.size=262144',
  ]);

  say('2/4 throughput: kafka-consumer-perf-test, then one member (Lambda defaults; batch 10000, window 0)…');
  const java = await benchJava(topic);
  const defaults = await benchMember(createKafka(config.kafka, logger), topic, {});
  const large = await benchMember(createKafka(config.kafka, logger), topic, { batchSize: 10_000, batchWindowMs: 0 });
  const java2 = await benchJava(topic);

  say(`3/4 partition moves (session timeout ${config.consume.sessionTimeoutMs} ms): graceful leave, then SIGKILL…`);
  const graceful = await benchMove(kafka, 'SIGINT');
  const killed = await benchMove(kafka, 'SIGKILL');

  say('4/4 produce → handler latency, window 0 and 500 ms…');
  const latency0 = await benchLatency(kafka, 0);
  const latency500 = await benchLatency(kafka, 500);

  const javaBest = Math.max(java.total, java2.total);
  const javaFetchBest = Math.max(java.fetching, java2.fetching);
  const rows: [string, string, string][] = [
    [
      'kafka-consumer-perf-test (yardstick), join included',
      `${java.total.toFixed(0)} / ${java2.total.toFixed(0)} records/s (before / after ours)`,
      '1.00×',
    ],
    ['kafka-consumer-perf-test, fetch.nMsg.sec', `${java.fetching.toFixed(0)} / ${java2.fetching.toFixed(0)} records/s`, ''],
    [
      'member, Lambda defaults (batch 100, window 500 ms), join included',
      `${defaults.total.toFixed(0)} records/s`,
      `${(defaults.total / javaBest).toFixed(2)}× (target ≥ 0.8×)`,
    ],
    [
      'member, Lambda defaults, from its first batch',
      `${defaults.fetching.toFixed(0)} records/s`,
      `${(defaults.fetching / javaFetchBest).toFixed(2)}× of fetch.nMsg.sec`,
    ],
    ['member, batch 10000, window 0, join included', `${large.total.toFixed(0)} records/s`, `${(large.total / javaBest).toFixed(2)}×`],
    [
      'member, batch 10000, window 0, from its first batch',
      `${large.fetching.toFixed(0)} records/s`,
      `${(large.fetching / javaFetchBest).toFixed(2)}× of fetch.nMsg.sec`,
    ],
    ['partition moved after a graceful leave (SIGINT)', `${graceful.toFixed(0)} ms`, '(target < 3000 ms)'],
    ['partition moved after SIGKILL', `${killed.toFixed(0)} ms`, `(session timeout ${config.consume.sessionTimeoutMs} ms)`],
    ['produce → handler latency, window 0', `p50 ${latency0.p50} ms, p99 ${latency0.p99} ms`, ''],
    ['produce → handler latency, window 500 ms', `p50 ${latency500.p50} ms, p99 ${latency500.p99} ms`, ''],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  say('');
  for (const [name, value, note] of rows) say(`${name.padEnd(width)}  ${value}  ${note}`);

  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: createdTopics }).catch((error: unknown) => say(`could not delete the bench topics: ${String(error)}`));
  await admin.disconnect();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
