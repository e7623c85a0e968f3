/**
 * `npm run kafka:up -- --brokers 3`: a three-broker KRaft cluster on free ports of its own, beside the suite's
 * broker, driven as users drive it (npm scripts) and checked against what the cluster itself reports.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { jvmNodes } from '../scripts/local-kafka/jvm-broker';
import { clusterDir } from '../scripts/local-kafka/paths';
import { run } from '../scripts/local-kafka/processes';
import { freePortRun } from './support/free-port';
import { ownJvmKafkaEnv, withAdmin } from './support/kafka';
import { REPO_ROOT } from './support/processes';

function npm(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000) {
  return run('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, env, timeoutMs });
}

/** Processes whose command line names this cluster's folder (every node's properties file lives there). */
function processesOf(port: number): number[] {
  const result: number[] = [];
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(clusterDir(port))) result.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return result;
}

describe('npm run kafka:up -- --brokers 3', () => {
  let port = 0;
  const env = (): NodeJS.ProcessEnv => ownJvmKafkaEnv(port);

  afterAll(async () => {
    if (port !== 0) await npm(['kafka:down', '--', '--wipe'], env());
  });

  it('starts three brokers, status shows who leads what, the tools and our commands work, and down leaves no process', async () => {
    port = await freePortRun(6);
    const brokers = [0, 1, 2].map((offset) => `localhost:${port + offset}`);

    const up = await npm(['kafka:up', '--', '--brokers', '3'], env());
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain(`3 brokers on ports ${port}-${port + 2}, controllers on ${port + 3}-${port + 5}`);
    expect(up.stdout).toContain('(3 brokers, ready after');
    expect(up.stdout).toContain('created topics: quickstart-events, payment-done');

    // What the cluster reports: three brokers, the tutorial topics replicated three ways with min.insync.replicas=2.
    const described = await withAdmin(async (admin) => {
      const cluster = await admin.describeCluster();
      const metadata = await admin.fetchTopicMetadata({ topics: ['payment-done', 'quickstart-events'] });
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: ['payment-done', 'quickstart-events'].map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['min.insync.replicas'],
        })),
      });
      return { cluster, metadata, configs };
    }, brokers);
    expect(described.cluster.brokers.map(({ nodeId, port: brokerPort }) => [nodeId, brokerPort]).sort()).toEqual([
      [1, port],
      [2, port + 1],
      [3, port + 2],
    ]);
    const partitions = described.metadata.topics.flatMap(({ name, partitions: list }) => list.map((partition) => ({ name, ...partition })));
    expect(partitions.map(({ name }) => name).sort()).toEqual(['payment-done', 'payment-done', 'payment-done', 'quickstart-events']);
    for (const partition of partitions) {
      expect([...partition.replicas].sort()).toEqual([1, 2, 3]);
      expect([...partition.isr].sort()).toEqual([1, 2, 3]);
    }
    expect(described.configs.resources.map(({ configEntries }) => configEntries[0]?.configValue)).toEqual(['2', '2']);

    // A second kafka:up finds the cluster running (without --brokers too) and starts nothing.
    const again = await npm(['kafka:up'], env());
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already running \(pids \d+, \d+, \d+, Kafka \d+\.\d+\.\d+\)/);

    // Asking for one broker where the cluster runs is refused, naming what runs there; nothing changes.
    const single = await npm(['kafka:up', '--', '--brokers', '1'], env());
    expect(single.code).toBe(1);
    expect(single.stderr).toContain(`a 3-broker cluster started by kafka:up runs on port ${port}`);

    // kafka:status: one line per node, with the partitions it leads, as the cluster's metadata says.
    const status = await npm(['kafka:status'], env());
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain('serving at');
    expect(status.stdout).toContain('(3 brokers)');
    for (const id of [1, 2, 3]) {
      const line = status.stdout.split('\n').find((text) => text.trim().startsWith(`node ${id} `));
      expect(line, status.stdout).toBeDefined();
      expect(line).toContain(`localhost:${port + id - 1}`);
      expect(line).toContain(`controller port ${port + 2 + id}`);
      const led = partitions
        .filter(({ leader }) => leader === id)
        .map(({ name, partitionId }) => `${name}/${partitionId}`)
        .sort();
      expect(line).toContain(led.length === 0 ? 'leads no partitions' : `leads ${led.join(', ')}`);
    }

    // Kafka's own tools through the wrapper, and our commands with nothing but KAFKA_PORT, unchanged.
    const topics = await npm(
      ['kafka', '--', 'kafka-topics', '--describe', '--topic', 'payment-done', '--bootstrap-server', brokers[0] ?? ''],
      env(),
    );
    expect(topics.code, topics.stderr).toBe(0);
    expect(topics.stdout).toContain('ReplicationFactor: 3');
    expect(topics.stdout).toContain('min.insync.replicas=2');
    const inspected = await npm(['inspect-topic', '--', 'payment-done', '--json'], env());
    expect(inspected.code, inspected.stderr).toBe(0);
    const topic = JSON.parse(inspected.stdout) as { replicationFactor: number; partitions: { leader: number | null }[] };
    expect(topic.replicationFactor).toBe(3);
    expect(topic.partitions.map(({ leader }) => leader)).toEqual(
      partitions
        .filter(({ name }) => name === 'payment-done')
        .sort((a, b) => a.partitionId - b.partitionId)
        .map(({ leader }) => leader),
    );

    // The suite's broker ran beside it all along.
    const suite = await withAdmin(async (admin) => (await admin.describeCluster()).brokers.length, inject('kafkaBrokers'));
    expect(suite).toBeGreaterThan(0);

    // kafka:down stops every node: no process of the cluster is left.
    const pids = jvmNodes(port, 3).map((node) => Number(readFileSync(node.paths.pidFile, 'utf8')));
    expect(pids.every((pid) => processesOf(port).includes(pid))).toBe(true);
    const down = await npm(['kafka:down'], env());
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(down.stdout).toContain('stopping the 3-broker cluster');
    expect(processesOf(port)).toEqual([]);
    const statusDown = await npm(['kafka:status'], env());
    expect(statusDown.code).toBe(1);
    expect(statusDown.stdout).toContain('not serving');

    const wiped = await npm(['kafka:down', '--', '--wipe'], env());
    expect(wiped.code).toBe(0);
    expect(existsSync(clusterDir(port))).toBe(false);
    port = 0;
  }, 600_000);
});
