/**
 * npm run bench:consume — the consumer group member on one broker, next to Kafka's own Java consumer
 * (kafka-consumer-perf-test) as the yardstick:
 *   1. records/s of one member (lib/consumer, Lambda-shaped batches to a no-op handler) reading a
 *      backlog of BENCH_RECORDS (1000000) 1 KB records (Lambda's defaults, and batch size 10000 / window 0),
 *      vs kafka-consumer-perf-test reading the same backlog with a new group; BENCH_ROUNDS (3) rounds,
 *      alternating which side reads first, median and min–max of each figure and of each ratio (taken
 *      round by round). Steady state: the member's rate from its first batch (join and first fetch left
 *      out) against the tool's fetch.nMsg.sec (its rate after the join); whole-run rates beside them;
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
import { createKafka } from '../lib/kafka/client';
import { logger } from '../lib/logger';
import { startGroupMember, type GroupMember, type GroupMemberOptions } from '../lib/consumer/group-member';
import { eventRecords, type KafkaEvent } from '../lib/consumer/lambda-event';
import { ensureJars } from './local-kafka/jars';
import { consumerPerfTest, runJavaTool } from './support/java-tools';
import { loadAverage, machineLine } from './support/machine';
import { formatRatio, formatSpread, percentile, ratioSpread, spread } from './support/stats';
import { printTable, type Row } from './support/table';

// A million: kafka-consumer-perf-test reads 300 000 in about a second, most of it the JVM's warm-up (measured on one
// quiet 2-core machine: 88k/s over 300 000, 311k/s over 1 000 000), so a shorter read does not show its steady rate.
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
function benchJava(topic: string): Promise<{ total: number; fetching: number }> {
  return consumerPerfTest({ brokers, topic, records: RECORDS, group: `bench-java-${randomBytes(4).toString('hex')}` });
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
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

interface Round {
  java: { total: number; fetching: number };
  defaults: { total: number; fetching: number };
  large: { total: number; fetching: number };
}

async function main(): Promise<void> {
  logger.setLogLevel('ERROR');
  say(`bench:consume on ${brokers.join(',')}, ${machineLine()}`);
  say(`before: ${loadAverage()}`);
  say(`${RECORDS} records of 1 KB for throughput (${ROUNDS} rounds, alternating which side reads first), ${LATENCY_RECORDS} for latency`);
  await ensureJars((line) => say(line));
  const kafka = createKafka(config.kafka);
  const topic = `bench-consume-${suffix}`;
  await createTopic(kafka, topic, 3);
  say(`1/4 filling ${topic} (3 partitions) with kafka-producer-perf-test…`);
  await runJavaTool('kafka-producer-perf-test', [
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

  say('2/4 throughput: kafka-consumer-perf-test and one member (Lambda defaults; batch 10000, window 0), by rounds…');
  const rounds: Round[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const ours = async () => ({
      defaults: await benchMember(createKafka(config.kafka, logger), topic, {}),
      large: await benchMember(createKafka(config.kafka, logger), topic, { batchSize: 10_000, batchWindowMs: 0 }),
    });
    if (round % 2 === 1) {
      const java = await benchJava(topic);
      rounds.push({ java, ...(await ours()) });
    } else {
      const member = await ours();
      rounds.push({ java: await benchJava(topic), ...member });
    }
    say(`  round ${round} done`);
  }

  say(`3/4 partition moves (session timeout ${config.consume.sessionTimeoutMs} ms): graceful leave, then SIGKILL…`);
  const graceful = await benchMove(kafka, 'SIGINT');
  const killed = await benchMove(kafka, 'SIGKILL');

  say('4/4 produce → handler latency, window 0 and 500 ms…');
  const latency0 = await benchLatency(kafka, 0);
  const latency500 = await benchLatency(kafka, 500);

  const of = (pick: (round: Round) => number) => rounds.map(pick);
  const rate = (values: number[]) => formatSpread(spread(values), 0, '/s');
  const javaTotal = of((r) => r.java.total);
  const javaFetching = of((r) => r.java.fetching);
  const rows: Row[] = [
    ['kafka-consumer-perf-test, fetch.nMsg.sec (yardstick: after the join)', rate(javaFetching), '1.00×'],
    ['kafka-consumer-perf-test, nMsg.sec (join included)', rate(javaTotal), ''],
    [
      'member, Lambda defaults (batch 100, window 500 ms), from its first batch',
      rate(of((r) => r.defaults.fetching)),
      `${formatRatio(
        ratioSpread(
          of((r) => r.defaults.fetching),
          javaFetching,
        ),
      )} of fetch.nMsg.sec (target ≥ 0.8×)`,
    ],
    [
      'member, Lambda defaults, join included',
      rate(of((r) => r.defaults.total)),
      `${formatRatio(
        ratioSpread(
          of((r) => r.defaults.total),
          javaTotal,
        ),
      )} of nMsg.sec`,
    ],
    [
      'member, batch 10000, window 0, from its first batch',
      rate(of((r) => r.large.fetching)),
      `${formatRatio(
        ratioSpread(
          of((r) => r.large.fetching),
          javaFetching,
        ),
      )} of fetch.nMsg.sec`,
    ],
    [
      'member, batch 10000, window 0, join included',
      rate(of((r) => r.large.total)),
      `${formatRatio(
        ratioSpread(
          of((r) => r.large.total),
          javaTotal,
        ),
      )} of nMsg.sec`,
    ],
  ];
  printTable(`records/s of 1 KB, ${RECORDS} a read, 3 partitions: median (min–max) of ${rounds.length} rounds`, rows);
  printTable('one run each', [
    ['partition moved after a graceful leave (SIGINT)', `${graceful.toFixed(0)} ms`, '(target < 3000 ms)'],
    ['partition moved after SIGKILL', `${killed.toFixed(0)} ms`, `(session timeout ${config.consume.sessionTimeoutMs} ms)`],
    ['produce → handler latency, window 0', `p50 ${latency0.p50} ms, p99 ${latency0.p99} ms`, ''],
    ['produce → handler latency, window 500 ms', `p50 ${latency500.p50} ms, p99 ${latency500.p99} ms`, ''],
  ]);

  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: createdTopics }).catch((error: unknown) => say(`could not delete the bench topics: ${String(error)}`));
  await admin.disconnect();
  say('');
  say(`after: ${loadAverage()}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
