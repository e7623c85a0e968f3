/**
 * npm run bench:produce — produce throughput and latency on one broker, in one run, next to Kafka's own
 * Java producer (kafka-producer-perf-test) so the figures have a yardstick:
 *   1. lib/produce `publish` (batches of 500, 1 KB values, acks=all, idempotent), records/s;
 *   2. POST /produce through `serverless offline start`, batches of 500, records/s (1 and 4 clients);
 *   3. POST /produce, one record per request, p50/p99 latency;
 *   4. kafka-producer-perf-test, 1 KB records, acks=all (defaults, and linger.ms=10 batch.size=262144).
 * Brokers: KAFKA_BROKERS or localhost:9092. Creates its own topics (3 partitions, like payment-done).
 * BENCH_RECORDS (default 50000) records per throughput run; BENCH_REQUESTS (default 1000) single requests.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../lib/config';
import { createKafka } from '../lib/kafka-client';
import { logger } from '../lib/logger';
import { createDefaultPartitioner } from '../lib/produce/partitioners';
import type { ProduceRecord } from '../lib/produce/produce-request';
import { closePublishDependencies, createPublishDependencies, publish } from '../lib/produce/publish';
import { ensureJars } from './local-kafka/jars';
import { javaToolArgs } from './local-kafka/tools';
import { startOffline } from '../test/support/offline';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1_000);
const BATCH = 500;
const PARTITIONS = 3;
const VALUE = 'v'.repeat(1_024);

const config = loadConfig({ ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? 'localhost:9092' });
const brokers = config.kafka.brokers;
const suffix = randomBytes(4).toString('hex');
const topicNames = {
  lib: `bench-produce-lib-${suffix}`,
  http: `bench-produce-http-${suffix}`,
  http4: `bench-produce-http4-${suffix}`,
  single: `bench-produce-single-${suffix}`,
  java: `bench-produce-java-${suffix}`,
  javaTuned: `bench-produce-java-tuned-${suffix}`,
};

function say(line: string): void {
  console.log(line);
}

function keyOf(i: number): string {
  return `user${i % 1_000}`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function createTopics(): Promise<void> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: Object.values(topicNames).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

async function deleteTopics(): Promise<void> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(topicNames) });
  } finally {
    await admin.disconnect();
  }
}

async function benchLib(): Promise<number> {
  const dependencies = createPublishDependencies(createKafka(config.kafka), { partitioner: createDefaultPartitioner(), timeoutMs: 30_000 });
  const batch = (start: number): ProduceRecord[] =>
    Array.from({ length: BATCH }, (_, i) => ({
      key: keyOf(start + i),
      value: VALUE,
      parsedValue: VALUE,
      headers: {},
      partition: undefined,
    }));
  try {
    await publish({ topic: topicNames.lib, records: batch(0) }, dependencies); // warm-up: connect, metadata
    const started = performance.now();
    for (let sent = 0; sent < RECORDS; sent += BATCH) await publish({ topic: topicNames.lib, records: batch(sent) }, dependencies);
    return RECORDS / ((performance.now() - started) / 1_000);
  } finally {
    await closePublishDependencies(dependencies);
  }
}

async function post(baseUrl: string, body: string): Promise<void> {
  const response = await fetch(`${baseUrl}/produce`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (response.status !== 200) throw new Error(`POST /produce answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
}

function batchBody(topic: string, start: number): string {
  return JSON.stringify({ topic, messages: Array.from({ length: BATCH }, (_, i) => ({ key: keyOf(start + i), value: VALUE })) });
}

async function benchHttpBatches(baseUrl: string, topic: string, clients: number): Promise<number> {
  await Promise.all(Array.from({ length: clients }, () => post(baseUrl, batchBody(topic, 0)))); // warm every worker
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < RECORDS) {
        const start = next;
        next += BATCH;
        await post(baseUrl, batchBody(topic, start));
      }
    }),
  );
  return RECORDS / ((performance.now() - started) / 1_000);
}

async function benchSingle(baseUrl: string): Promise<{ p50: number; p99: number; mean: number }> {
  const body = (i: number) => JSON.stringify({ topic: topicNames.single, key: keyOf(i), value: VALUE });
  for (let i = 0; i < 50; i += 1) await post(baseUrl, body(i));
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i += 1) {
    const started = performance.now();
    await post(baseUrl, body(i));
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), mean: times.reduce((sum, t) => sum + t, 0) / times.length };
}

function runJavaPerfTest(topic: string, extraProps: string[]): Promise<number> {
  const args = javaToolArgs('kafka-producer-perf-test', [
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
    'acks=all',
    ...extraProps,
  ]);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('java', args);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      // Final line: "50000 records sent, 19047.6 records/sec (18.60 MB/sec), …"
      const match = output.match(/(\d+) records sent, ([\d.]+) records\/sec[^\n]*\n?\s*$/);
      if (code !== 0 || match?.[2] === undefined) reject(new Error(`kafka-producer-perf-test exited ${code}:\n${output}`));
      else resolvePromise(Number(match[2]));
    });
  });
}

function ratio(value: number, yardstick: number): string {
  return `${(value / yardstick).toFixed(2)}×`;
}

async function main(): Promise<void> {
  logger.setLogLevel('ERROR');
  say(`bench:produce on ${brokers.join(',')}: ${RECORDS} records of 1 KB per throughput run, acks=all, ${PARTITIONS} partitions`);
  await ensureJars((line) => say(line));
  await createTopics();

  say('1/4 lib/produce publish, batches of 500…');
  const lib = await benchLib();

  say('2/4 starting serverless offline…');
  const offline = await startOffline({
    env: {
      KAFKA_BROKERS: brokers.join(','),
      PRODUCE_TOPICS: [topicNames.http, topicNames.http4, topicNames.single].join(','),
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
  });
  let http1: number;
  let http4: number;
  let single: { p50: number; p99: number; mean: number };
  try {
    say('    POST /produce, batches of 500, 1 client…');
    http1 = await benchHttpBatches(offline.baseUrl, topicNames.http, 1);
    say('    POST /produce, batches of 500, 4 clients…');
    http4 = await benchHttpBatches(offline.baseUrl, topicNames.http4, 4);
    say(`3/4 POST /produce, one record per request, ${REQUESTS} requests…`);
    single = await benchSingle(offline.baseUrl);
  } finally {
    await offline.stop();
  }

  say('4/4 kafka-producer-perf-test (Java producer)…');
  const java = await runJavaPerfTest(topicNames.java, []);
  const javaTuned = await runJavaPerfTest(topicNames.javaTuned, ['linger.ms=10', 'batch.size=262144']);

  // Ratios against both Java runs: the defaults are the yardstick, the tuned run is the fairer
  // comparison with our batches of 500 (the Java producer then batches as much per request).
  const vs = (value: number) => `${ratio(value, java)} of defaults, ${ratio(value, javaTuned)} of tuned`;
  const rows: [string, string, string][] = [
    ['kafka-producer-perf-test, defaults (yardstick)', `${java.toFixed(0)} records/s`, '1.00×'],
    ['kafka-producer-perf-test, linger.ms=10 batch.size=262144', `${javaTuned.toFixed(0)} records/s`, ratio(javaTuned, java)],
    ['lib/produce publish, batches of 500', `${lib.toFixed(0)} records/s`, `${vs(lib)} (target ≥ 0.8×)`],
    ['POST /produce, batches of 500, 1 client', `${http1.toFixed(0)} records/s`, `${vs(http1)} (target ≥ 0.3×)`],
    ['POST /produce, batches of 500, 4 clients', `${http4.toFixed(0)} records/s`, vs(http4)],
    ['POST /produce, single record, p50', `${single.p50.toFixed(2)} ms`, '(target < 5 ms)'],
    ['POST /produce, single record, p99', `${single.p99.toFixed(2)} ms`, `mean ${single.mean.toFixed(2)} ms`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  say('');
  for (const [name, value, note] of rows) say(`${name.padEnd(width)}  ${value.padStart(16)}  ${note}`);
  await deleteTopics();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:produce failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
