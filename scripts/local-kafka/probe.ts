/** Asks a broker whether it really serves (a metadata request), and creates the tutorial's topics. */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../lib/config';
import { kafkaOptions } from '../../lib/kafka/client';
import { isAuthenticationFailure } from '../../lib/kafka/errors';
import { errorMessage } from '../../lib/errors';

/** The tutorial's topics: `quickstart-events` (1 partition) and `payment-done` (3 partitions). */
export const TUTORIAL_TOPICS = [
  { topic: 'quickstart-events', numPartitions: 1 },
  { topic: 'payment-done', numPartitions: 3 },
] as const;

/**
 * A client with the project's connection settings (KAFKA_SSL, KAFKA_SASL_*: a real cluster needs them),
 * short timeouts, no retries and no logs: the caller polls and says what it waits for. Topic creation
 * passes `patient`: long request timeouts and kafkajs's own retries, since a broker that has just started
 * may not yet know the partitions it was asked to create when kafkajs looks for their leaders.
 */
function quietKafka(brokers: string[], patient = false): Kafka {
  const retries = patient ? 8 : 0;
  const { kafka } = loadConfig(process.env);
  return new Kafka({
    ...kafkaOptions({
      ...kafka,
      brokers,
      clientId: 'kafka-functions-probe',
      connectionTimeoutMs: 1_000,
      requestTimeoutMs: patient ? 60_000 : 3_000,
      retries,
    }),
    retry: { retries, maxRetryTime: 30_000 },
    logLevel: logLevel.NOTHING,
    logCreator: undefined,
  });
}

/**
 * Asks the seed brokers one after the other until one answers: a client with no retries connects to one
 * seed of its list at random, so a cluster with one broker down would otherwise answer only now and then.
 */
async function firstSeedAnswering<T extends { ok: boolean }>(brokers: string[], ask: (seed: string[]) => Promise<T>): Promise<T> {
  let last: T | undefined;
  for (const seed of brokers) {
    last = await ask([seed]);
    if (last.ok) return last;
  }
  if (last === undefined) throw new Error('no brokers to ask');
  return last;
}

type ProbeAnswer = { ok: true; brokers: number } | { ok: false; reason: string; authenticationFailed?: boolean };

/**
 * One metadata request; resolves to the number of brokers in the answer, or to the error's message.
 * `authenticationFailed`: the brokers answered but refused the SASL login (waiting will not help).
 */
export function probeBroker(brokers: string[]): Promise<ProbeAnswer> {
  return firstSeedAnswering(brokers, probeSeed);
}

async function probeSeed(brokers: string[]): Promise<ProbeAnswer> {
  const admin = quietKafka(brokers).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 ? { ok: true, brokers: cluster.brokers.length } : { ok: false, reason: 'no brokers in metadata' };
  } catch (error) {
    const reason = errorMessage(error);
    return isAuthenticationFailure(error) ? { ok: false, reason, authenticationFailed: true } : { ok: false, reason };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface NodeLeadership {
  nodeId: number;
  host: string;
  port: number;
  /** `topic/partition` of every partition this broker leads (internal topics left out). */
  leads: string[];
}

type Leadership = { ok: true; nodes: NodeLeadership[]; controller: number | null } | { ok: false; reason: string };

/** Who is in the cluster and which partitions each broker leads, from one metadata answer. */
export function describeLeadership(brokers: string[]): Promise<Leadership> {
  return firstSeedAnswering(brokers, leadershipFromSeed);
}

async function leadershipFromSeed(brokers: string[]): Promise<Leadership> {
  const admin = quietKafka(brokers).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const topics = (await admin.listTopics()).filter((topic) => !topic.startsWith('__')).sort();
    const metadata = topics.length === 0 ? { topics: [] } : await admin.fetchTopicMetadata({ topics });
    const nodes = cluster.brokers
      .map(({ nodeId, host, port }) => ({ nodeId, host, port, leads: [] as string[] }))
      .sort((a, b) => a.nodeId - b.nodeId);
    for (const { name, partitions } of metadata.topics) {
      for (const { partitionId, leader } of [...partitions].sort((a, b) => a.partitionId - b.partitionId)) {
        nodes.find(({ nodeId }) => nodeId === leader)?.leads.push(`${name}/${partitionId}`);
      }
    }
    for (const node of nodes) node.leads.sort();
    return { ok: true, nodes, controller: cluster.controller };
  } catch (error) {
    return { ok: false, reason: errorMessage(error) };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until a metadata request succeeds, printing what it waits for every few seconds.
 * `stillStarting` lets the caller stop early when the broker process died.
 */
export async function waitUntilServing(
  brokers: string[],
  options: { timeoutMs: number; what: string; say: (line: string) => void; stillStarting?: () => boolean; expectBrokers?: number },
): Promise<void> {
  const started = Date.now();
  let lastSaid = 0;
  let lastReason = '';
  options.say(`waiting for ${options.what} to answer a metadata request at ${brokers.join(',')}…`);
  for (;;) {
    const probed = await probeBroker(brokers);
    const expected = options.expectBrokers ?? 1;
    const answer: typeof probed =
      probed.ok && probed.brokers < expected
        ? { ok: false, reason: `${probed.brokers} of ${expected} brokers in the cluster so far` }
        : probed;
    if (answer.ok) {
      options.say(
        `Kafka serves at ${brokers.join(',')} (${answer.brokers} broker${answer.brokers === 1 ? '' : 's'}, ` +
          `ready after ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      return;
    }
    lastReason = answer.reason;
    if (answer.authenticationFailed) {
      const { sasl } = loadConfig(process.env).kafka;
      const who = sasl === undefined ? '' : ` as ${sasl.username} (${sasl.mechanism.toUpperCase()})`;
      throw new Error(
        `authentication failed at ${brokers.join(',')}${who}: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (${answer.reason})`,
      );
    }
    const elapsed = Date.now() - started;
    if (options.stillStarting && !options.stillStarting()) {
      throw new Error(`${options.what} exited before it served (last answer: ${lastReason})`);
    }
    if (elapsed > options.timeoutMs) {
      throw new Error(`${options.what} did not answer within ${Math.round(options.timeoutMs / 1000)} s (last answer: ${lastReason})`);
    }
    if (elapsed - lastSaid >= 3_000) {
      lastSaid = elapsed;
      options.say(`  still waiting (${Math.round(elapsed / 1000)} s): ${lastReason}`);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 300));
  }
}

/**
 * Creates the tutorial's topics that are missing; returns the names it created. `expectedBrokers`: how many
 * brokers kafka:up started (undefined for a cluster it did not start). The replication factor follows the
 * brokers the cluster reports, so it waits until all of those have registered: a broker that answers first
 * would otherwise give the topics fewer replicas than the cluster has (seen: RF 2 on a 3-broker cluster).
 */
export async function ensureTutorialTopics(brokers: string[], expectedBrokers?: number): Promise<string[]> {
  const seed = (await firstSeedAnswering(brokers, async (candidate) => ({ ok: (await probeSeed(candidate)).ok, candidate }))).candidate;
  const admin = quietKafka(seed, true).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = TUTORIAL_TOPICS.filter(({ topic }) => !existing.has(topic));
    if (missing.length === 0) return [];
    // kafkajs speaks CreateTopics v3, which has no "broker default" replication factor: choose one.
    const members = await registeredBrokers(admin, expectedBrokers ?? 1, 60_000);
    const replicationFactor = Math.min(3, members.length);
    // Three replicas, and a write with acks=all needs two of them: one broker may be lost without losing
    // an acknowledged record or refusing writes.
    const configEntries = replicationFactor >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
    await admin.createTopics({
      topics: missing.map(({ topic, numPartitions }) => ({ topic, numPartitions, replicationFactor, configEntries })),
      // Not kafkajs's wait: it asks one broker once, and in a cluster a broker that has not yet caught up
      // with the new topics answers "unknown topic", which kafkajs does not retry.
      waitForLeaders: false,
      timeout: 60_000,
    });
    const names = missing.map(({ topic }) => topic);
    await waitForLeaders(admin, names, 60_000);
    return names;
  } finally {
    await admin.disconnect();
  }
}

/** The brokers the cluster reports, once at least `wanted` have registered; fails after timeoutMs. */
async function registeredBrokers(admin: Admin, wanted: number, timeoutMs: number): Promise<{ nodeId: number }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { brokers: members } = await admin.describeCluster();
    if (members.length >= wanted) return members;
    if (Date.now() >= deadline) {
      throw new Error(`only ${members.length} of the ${wanted} brokers registered with the cluster within ${timeoutMs / 1000} s`);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 300));
  }
}

/** Polls metadata until every partition of the topics has a leader; fails after timeoutMs. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const led = metadata.topics.filter(({ partitions }) => partitions.length > 0 && partitions.every(({ leader }) => leader >= 0));
      if (led.length === topics.length) return;
      last = `${led.length} of ${topics.length} topics have leaders`;
    } catch (error) {
      last = errorMessage(error);
    }
    await sleep(300);
  }
  throw new Error(`the new topics ${topics.join(', ')} have no leaders after ${Math.round(timeoutMs / 1000)} s (${last})`);
}

/**
 * Waits until the group coordinator serves. A fresh broker creates `__consumer_offsets` on the first
 * FindCoordinator and then loads it; a consumer that comes in the meantime fails to find its coordinator
 * (seen on a fresh Kafka 4.4.0 under load), so kafka:up returns only once a DescribeGroups is answered.
 */
export async function waitForGroupCoordinator(brokers: string[], timeoutMs = 60_000): Promise<void> {
  const admin = quietKafka(brokers).admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await admin.describeGroups(['kafka-functions-probe']);
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `the group coordinator did not answer within ${Math.round(timeoutMs / 1000)} s ` + `(last answer: ${errorMessage(error)})`,
          );
        }
        await new Promise((resolveDelay) => setTimeout(resolveDelay, 300));
      }
    }
  } finally {
    await admin.disconnect();
  }
}
