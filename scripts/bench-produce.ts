/**
 * npm run bench:produce — produce throughput and latency on one broker, next to Kafka's own Java producer
 * (kafka-producer-perf-test) as the yardstick, measured fairly on a shared machine:
 *   - every throughput figure is a steady state: each side first runs a warm-up that is left out (ours
 *     BENCH_WARMUP_SECONDS, 2 s; the Java tool its first 5 s window: JVM start, JIT, connections), then is
 *     measured over BENCH_SECONDS (6 s; the Java tool over two 5 s windows);
 *   - BENCH_ROUNDS rounds (3), alternating which side goes first; every figure is the median over the rounds
 *     with its min–max, and every ratio is taken round by round (ours / Kafka's of the same round);
 *   - the load average is printed before and after, so the reader can judge the noise.
 * Measured: kafka-producer-perf-test (1 KB, acks=all, idempotent; tuned linger.ms=10 batch.size=262144 — the
 * yardstick — and its defaults), lib/produce `publish` in batches of 500, POST /produce in batches of 500
 * (1 and 4 clients), single-record POST /produce p50/p99 one at a time (beside the no-op function's), and 50 clients × 200 single-record
 * POSTs next to a no-op `http` function in the same serverless offline.
 * Brokers: KAFKA_BROKERS or localhost:9092. Every round writes to its own topics (3 partitions), deleted after it.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { loadConfig } from '../lib/config';
import { createKafka } from '../lib/kafka/client';
import { logger } from '../lib/logger';
import { createDefaultPartitioner } from '../lib/produce/partitioners';
import type { ProduceRecord } from '../lib/produce/produce-request';
import { closePublishDependencies, createPublishDependencies, publish } from '../lib/produce/publish';
import { ensureJars } from './local-kafka/jars';
import { createPoster } from './support/http-client';
import { producerPerfTest } from './support/java-tools';
import { loadAverage, machineLine } from './support/machine';
import { startBenchOffline, type BenchOffline } from './support/offline';
import { formatRatio, formatSpread, percentile, ratioSpread, spread } from './support/stats';
import { printTable, type Row } from './support/table';

function wholeNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got ${raw}`);
  return value;
}

const ROUNDS = wholeNumber('BENCH_ROUNDS', 3);
// 2 s: a cold process is slowest in its first second (two runs here: 33k and 37k/s; the later seconds 34k-55k/s).
const WARMUP_MS = wholeNumber('BENCH_WARMUP_SECONDS', 2) * 1_000;
// 6 s, and 500 single requests a round: the whole `npm run bench` under 10 minutes (7 s, 3 s and 1000 took 10 min 1 s).
const MEASURE_MS = wholeNumber('BENCH_SECONDS', 6) * 1_000;
const REQUESTS = wholeNumber('BENCH_REQUESTS', 500);
const LOAD_CLIENTS = wholeNumber('BENCH_LOAD_CLIENTS', 50);
const LOAD_REQUESTS = wholeNumber('BENCH_LOAD_REQUESTS', 200);
const BATCH = 500;
const PARTITIONS = 3;
const RECORD_BYTES = 1_024;
const VALUE = 'v'.repeat(RECORD_BYTES);

const config = loadConfig({ ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? 'localhost:9092' });
const brokers = config.kafka.brokers;
const kafka = createKafka(config.kafka);
const suffix = randomBytes(4).toString('hex');
const say = (line: string) => console.log(line);
const keyOf = (i: number) => `user${i % 1_000}`;

async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic and waits until a fresh client sees a leader for each partition (a busy broker lags). */
async function createTopic(topic: string): Promise<void> {
  await withAdmin((admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await withAdmin(async (admin) => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      return partitions.length === PARTITIONS && partitions.every((partition) => partition.leader >= 0);
    }).catch(() => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`topic ${topic} has no leader for every partition after 30 s`);
    await setTimeout(200);
  }
}

/** The topic of one measurement in one round (named up front: PRODUCE_TOPICS lists the HTTP ones). */
function topicName(kind: string, round: number): string {
  return `bench-produce-${kind}-${suffix}-r${round}`;
}

const HTTP_KINDS = ['http1', 'http4', 'single'];

async function deleteTopics(topics: string[]): Promise<void> {
  await withAdmin((admin) => admin.deleteTopics({ topics })).catch((error: unknown) =>
    say(`  could not delete ${topics.join(', ')}: ${String(error)}`),
  );
}

/**
 * A topic for one measurement. Java's and lib's are deleted right after it (a steady-state Java run writes
 * gigabytes); the HTTP ones at the end, while offline is stopped: a warm kafkajs producer keeps every topic it
 * wrote to among its metadata targets, and once one is deleted its next metadata refresh fails.
 */
const deleteAtEnd: string[] = [];
async function withTopic<T>(topic: string, work: (topic: string) => Promise<T>, when: 'after' | 'at-end' = 'after'): Promise<T> {
  await createTopic(topic);
  try {
    return await work(topic);
  } finally {
    if (when === 'after') await deleteTopics([topic]);
    else deleteAtEnd.push(topic);
  }
}

/**
 * `clients` loops each doing `step` (which returns how many records it completed) until warm-up and
 * measurement are over; records/s of the steps that completed inside the measured window.
 */
async function steadyRate(clients: number, step: (n: number) => Promise<number>): Promise<number> {
  const started = performance.now();
  const windowStart = started + WARMUP_MS;
  const windowEnd = windowStart + MEASURE_MS;
  let counted = 0;
  let n = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < windowEnd) {
        const records = await step(n);
        n += 1;
        const now = performance.now();
        if (now >= windowStart && now < windowEnd) counted += records;
      }
    }),
  );
  return counted / (MEASURE_MS / 1_000);
}

function batchRecords(start: number): ProduceRecord[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    key: keyOf(start + i),
    value: VALUE,
    parsedValue: VALUE,
    headers: {},
    partition: undefined,
  }));
}

async function benchLib(round: number): Promise<number> {
  return withTopic(topicName('lib', round), async (topic) => {
    const dependencies = createPublishDependencies(kafka, { partitioner: createDefaultPartitioner(), timeoutMs: 30_000 });
    try {
      return await steadyRate(1, async (n) => (await publish({ topic, records: batchRecords(n * BATCH) }, dependencies)).results.length);
    } finally {
      await closePublishDependencies(dependencies);
    }
  });
}

type Poster = ReturnType<typeof createPoster>;

async function postOk(poster: Poster, path: string, body: string): Promise<void> {
  const answer = await poster.post(path, body);
  if (answer.status !== 200) throw new Error(`POST ${path} answered ${answer.status}: ${answer.body}`);
}

function batchBody(topic: string, start: number): string {
  return JSON.stringify({ topic, messages: Array.from({ length: BATCH }, (_, i) => ({ key: keyOf(start + i), value: VALUE })) });
}

async function benchHttpBatches(offline: BenchOffline, clients: number, round: number): Promise<number> {
  return withTopic(
    topicName(`http${clients}`, round),
    async (topic) => {
      const poster = createPoster(offline.baseUrl, clients);
      try {
        return await steadyRate(clients, async (n) => {
          await postOk(poster, '/produce', batchBody(topic, n * BATCH));
          return BATCH;
        });
      } finally {
        poster.close();
      }
    },
    'at-end',
  );
}

function singleBody(topic: string, i: number): string {
  return JSON.stringify({ topic, key: keyOf(i), value: VALUE });
}

/** One at a time to `path`: 50 warm-up requests left out, then REQUESTS timed. */
async function timeOneAtATime(offline: BenchOffline, path: string, body: (i: number) => string): Promise<{ p50: number; p99: number }> {
  const poster = createPoster(offline.baseUrl, 1);
  try {
    for (let i = 0; i < 50; i += 1) await postOk(poster, path, body(i));
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i += 1) {
      const started = performance.now();
      await postOk(poster, path, body(i));
      times.push(performance.now() - started);
    }
    return { p50: percentile(times, 50), p99: percentile(times, 99) };
  } finally {
    poster.close();
  }
}

/**
 * Single-record POSTs one at a time to /produce, and the same number to the no-op function in the same offline
 * just before: what serverless offline itself costs per request is the floor under /produce's figure.
 */
async function benchSingle(offline: BenchOffline, round: number): Promise<{ single: Single; singleNoop: Single }> {
  const singleNoop = await timeOneAtATime(offline, '/noop', () => '{}');
  const single = await withTopic(
    topicName('single', round),
    (topic) => timeOneAtATime(offline, '/produce', (i) => singleBody(topic, i)),
    'at-end',
  );
  return { single, singleNoop };
}

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
}

/** LOAD_CLIENTS clients each sending LOAD_REQUESTS single-record POSTs back to back; every answer must be 200. */
async function loadOnce(offline: BenchOffline, path: string, body: (i: number) => string): Promise<Load> {
  const poster = createPoster(offline.baseUrl, LOAD_CLIENTS);
  const times: number[] = [];
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: LOAD_CLIENTS }, async (_, client) => {
        for (let i = 0; i < LOAD_REQUESTS; i += 1) {
          const sent = performance.now();
          await postOk(poster, path, body(client * LOAD_REQUESTS + i));
          times.push(performance.now() - sent);
        }
      }),
    );
  } finally {
    poster.close();
  }
  return { perSecond: times.length / ((performance.now() - started) / 1_000), p50: percentile(times, 50), p99: percentile(times, 99) };
}

/**
 * Before the rounds, offline is brought to LOAD_CLIENTS workers (instances) of each function, each with its
 * clients connected, so cold starts are left out of the figures (they are Lambda's too, and not what this
 * measures). Concurrency rises in steps of 10, so that a busy machine does not start 50 workers at once;
 * a warm-up request that fails (a cold start over the function's timeout) is tried again, and said so.
 */
async function warmLoad(offline: BenchOffline, topic: string): Promise<void> {
  let failed = 0;
  for (let concurrency = Math.min(10, LOAD_CLIENTS); ; concurrency = Math.min(LOAD_CLIENTS, concurrency + 10)) {
    for (const [path, body] of [
      ['/noop', '{}'],
      ['/produce', singleBody(topic, concurrency)],
    ] as const) {
      for (let pass = 0; pass < 2; pass += 1) failed += await warmOnce(offline, path, body, concurrency);
    }
    if (concurrency === LOAD_CLIENTS) break;
  }
  if (failed > 0) say(`  (${failed} warm-up requests answered other than 200 and were tried again)`);
}

/** `concurrency` requests at once, each tried up to 3 times; returns how many answers were not 200. */
async function warmOnce(offline: BenchOffline, path: string, body: string, concurrency: number): Promise<number> {
  const poster = createPoster(offline.baseUrl, concurrency);
  let failed = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let attempt = 1; ; attempt += 1) {
          const answer = await poster.post(path, body);
          if (answer.status === 200) return;
          failed += 1;
          if (attempt === 3) throw new Error(`warm-up POST ${path} answered ${answer.status} three times: ${answer.body}`);
        }
      }),
    );
  } finally {
    poster.close();
  }
  return failed;
}

interface Single {
  p50: number;
  p99: number;
}

interface Round {
  javaTuned: number;
  javaDefaults: number;
  lib: number;
  http1: number;
  http4: number;
  single: Single;
  singleNoop: Single;
  noop: Load;
  produce: Load;
}

async function javaRun(kind: string, round: number, props: string[], windows: number): Promise<number> {
  return withTopic(topicName(kind, round), async (topic) => {
    const result = await producerPerfTest({
      brokers,
      topic,
      recordSize: RECORD_BYTES,
      props: ['acks=all', ...props],
      warmupWindows: 1,
      windows,
    });
    return result.rate;
  });
}

async function runRound(round: number, offline: BenchOffline, loadTopic: string): Promise<Round> {
  const javaFirst = round % 2 === 1;
  const partial: Partial<Round> = {};
  const java = async () => {
    say(`  round ${round}: kafka-producer-perf-test, tuned, then defaults…`);
    partial.javaTuned = await javaRun('java-tuned', round, ['linger.ms=10', 'batch.size=262144'], 2);
    partial.javaDefaults = await javaRun('java', round, [], 1);
  };
  const ours = async () => {
    say(`  round ${round}: lib publish, POST /produce batches (1 and 4 clients), single records…`);
    partial.lib = await benchLib(round);
    partial.http1 = await benchHttpBatches(offline, 1, round);
    partial.http4 = await benchHttpBatches(offline, 4, round);
    Object.assign(partial, await benchSingle(offline, round));
  };
  const load = async () => {
    say(`  round ${round}: ${LOAD_CLIENTS} clients × ${LOAD_REQUESTS} single-record POSTs, /noop and /produce…`);
    await warmLoad(offline, loadTopic);
    const produceLoad = () => loadOnce(offline, '/produce', (i) => singleBody(loadTopic, i));
    const noopLoad = () => loadOnce(offline, '/noop', () => '{}');
    if (javaFirst) {
      partial.noop = await noopLoad();
      partial.produce = await produceLoad();
    } else {
      partial.produce = await produceLoad();
      partial.noop = await noopLoad();
    }
  };
  if (javaFirst) {
    await java();
    await ours();
  } else {
    await ours();
    await java();
  }
  await load();
  const { javaTuned, javaDefaults, lib, http1, http4, single, singleNoop, noop, produce } = partial;
  if (
    javaTuned === undefined ||
    javaDefaults === undefined ||
    lib === undefined ||
    http1 === undefined ||
    http4 === undefined ||
    single === undefined ||
    singleNoop === undefined ||
    noop === undefined ||
    produce === undefined
  ) {
    throw new Error(`round ${round} did not measure every figure`);
  }
  return { javaTuned, javaDefaults, lib, http1, http4, single, singleNoop, noop, produce };
}

function report(rounds: Round[]): void {
  const of = <T>(pick: (round: Round) => T) => rounds.map(pick);
  const tuned = of((r) => r.javaTuned);
  const rate = (values: number[]) => formatSpread(spread(values), 0, '/s');
  const ms = (values: number[]) => formatSpread(spread(values), 2, ' ms');
  const vsTuned = (values: number[], target?: string) =>
    `${formatRatio(ratioSpread(values, tuned))} of tuned${target ? ` (target ${target})` : ''}`;
  const throughput: Row[] = [
    ['kafka-producer-perf-test, linger.ms=10 batch.size=262144 (yardstick)', rate(tuned), '1.00×'],
    ['kafka-producer-perf-test, defaults', rate(of((r) => r.javaDefaults)), vsTuned(of((r) => r.javaDefaults))],
    [
      'lib/produce publish, batches of 500',
      rate(of((r) => r.lib)),
      vsTuned(
        of((r) => r.lib),
        '≥ 0.5×',
      ),
    ],
    [
      'POST /produce, batches of 500, 1 client',
      rate(of((r) => r.http1)),
      vsTuned(
        of((r) => r.http1),
        '≥ 0.25×',
      ),
    ],
    ['POST /produce, batches of 500, 4 clients', rate(of((r) => r.http4)), vsTuned(of((r) => r.http4))],
  ];
  printTable(`records/s of 1 KB, acks=all, idempotent, ${PARTITIONS} partitions: median (min–max) of ${rounds.length} rounds`, throughput);
  const singleVsNoop = (pick: (single: Single) => number) =>
    `${formatRatio(
      ratioSpread(
        of((r) => pick(r.single)),
        of((r) => pick(r.singleNoop)),
      ),
    )} of no-op`;
  printTable(`one record per request, one at a time (${REQUESTS} requests a round), one offline`, [
    ['no-op http function, p50', ms(of((r) => r.singleNoop.p50)), '(what serverless offline costs per request)'],
    ['no-op http function, p99', ms(of((r) => r.singleNoop.p99)), ''],
    ['POST /produce, p50', ms(of((r) => r.single.p50)), `${singleVsNoop((single) => single.p50)} (target ≤ 2 ms)`],
    ['POST /produce, p99', ms(of((r) => r.single.p99)), singleVsNoop((single) => single.p99)],
  ]);
  const noop = of((r) => r.noop);
  const produce = of((r) => r.produce);
  printTable(`${LOAD_CLIENTS} clients × ${LOAD_REQUESTS} single-record POSTs, one offline (every answer 200)`, [
    ['no-op http function, requests/s', rate(noop.map((l) => l.perSecond)), ''],
    ['no-op http function, p50', ms(noop.map((l) => l.p50)), ''],
    ['no-op http function, p99', ms(noop.map((l) => l.p99)), ''],
    ['POST /produce, requests/s', rate(produce.map((l) => l.perSecond)), ''],
    [
      'POST /produce, p50',
      ms(produce.map((l) => l.p50)),
      `${formatRatio(
        ratioSpread(
          produce.map((l) => l.p50),
          noop.map((l) => l.p50),
        ),
      )} of no-op (target ≤ 2×)`,
    ],
    [
      'POST /produce, p99',
      ms(produce.map((l) => l.p99)),
      `${formatRatio(
        ratioSpread(
          produce.map((l) => l.p99),
          noop.map((l) => l.p99),
        ),
      )} of no-op (target ≤ 3×)`,
    ],
  ]);
}

async function main(): Promise<void> {
  logger.setLogLevel('ERROR');
  say(`bench:produce on ${brokers.join(',')}, ${machineLine()}`);
  say(`before: ${loadAverage()}`);
  say(
    `${ROUNDS} rounds alternating which side goes first; ` +
      `ours: ${WARMUP_MS / 1_000} s warm-up left out, then ${MEASURE_MS / 1_000} s measured; ` +
      'kafka-producer-perf-test: its first 5 s window left out, then 2 windows (tuned) or 1 (defaults)',
  );
  await ensureJars((line) => say(line));
  const loadTopic = topicName('load', 0);
  const httpTopics = [loadTopic];
  for (let round = 1; round <= ROUNDS; round += 1) httpTopics.push(...HTTP_KINDS.map((kind) => topicName(kind, round)));
  await createTopic(loadTopic);
  say('starting serverless offline (produce and a no-op http function)…');
  const offline = await startBenchOffline({
    serviceFile: 'scripts/support/bench-produce.yml',
    env: { KAFKA_BROKERS: brokers.join(','), PRODUCE_TOPICS: httpTopics.join(',') },
    // offline ends a worker idle for 60 s; the Java runs of a round take longer, and the load would then
    // meet 50 cold starts again.
    args: ['--terminateIdleLambdaTime', '3600'],
  });
  const rounds: Round[] = [];
  try {
    say(`warming ${LOAD_CLIENTS} workers of each function (left out)…`);
    await warmLoad(offline, loadTopic);
    for (let round = 1; round <= ROUNDS; round += 1) rounds.push(await runRound(round, offline, loadTopic));
  } catch (error) {
    say(`offline's last output:\n${offline.output().slice(-3_000)}`);
    throw error;
  } finally {
    await offline.stop();
    await deleteTopics([loadTopic, ...deleteAtEnd]);
  }
  report(rounds);
  say('');
  say(`after: ${loadAverage()}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:produce failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
