/**
 * Fault tolerance on a three-broker cluster (kafka:up -- --brokers 3, on free ports of its own): while
 * POST /produce (through the real `serverless offline start`) and three `npm run consume` members run,
 * the broker leading most of payment-done's partitions is killed with SIGKILL. Every record answered 200
 * must be read back by a consumer that is not ours (Kafka's kafka-console-consumer) and by the members;
 * the leaders move (as `npm run inspect-topic` shows); /produce answers 503 at worst and recovers by
 * itself; the killed broker, started again by kafka:up, rejoins every partition's ISR.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { jvmNodes } from '../scripts/local-kafka/jvm-broker';
import { clusterDir } from '../scripts/local-kafka/paths';
import { processAlive, run } from '../scripts/local-kafka/processes';
import { processed, startConsumeCli, waitForOnePartitionEach, type Member } from './support/consume';
import { freePortRun } from './support/free-port';
import { ownJvmKafkaEnv, uniqueName, withAdmin } from './support/kafka';
import { startOffline, type Offline } from './support/offline';
import { REPO_ROOT } from './support/processes';
import { waitFor } from './support/wait';

const TOPIC = 'payment-done';

function npm(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000) {
  return run('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, env, timeoutMs });
}

/** Processes whose command line names this cluster's folder (every node's properties file lives there). */
function processesOf(port: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(clusterDir(port));
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface PartitionState {
  partition: number;
  leader: number | null;
  isr: number[];
}

/** Seconds from `since` to when an answer came, one decimal. */
function seconds(answer: { answeredAt: number } | undefined, since: number): string {
  return answer === undefined ? '?' : ((answer.answeredAt - since) / 1000).toFixed(1);
}

interface Answer {
  seq: number;
  status: number;
  code?: string;
  sentAt: number;
  answeredAt: number;
}

describe('a three-broker cluster losing the broker that leads payment-done', () => {
  let port = 0;
  let offline: Offline | undefined;
  const members: Member[] = [];
  const env = (): NodeJS.ProcessEnv => ownJvmKafkaEnv(port);

  afterAll(async () => {
    await Promise.all(members.map((member) => member.process.stop('SIGKILL')));
    await offline?.stop();
    if (port !== 0) await npm(['kafka:down', '--', '--wipe'], env());
  });

  it('loses no acknowledged record, answers 503 at worst, moves leaders, recovers by itself, and the broker rejoins', async () => {
    port = await freePortRun(6);
    const brokers = [0, 1, 2].map((offset) => `localhost:${port + offset}`);
    const clusterEnv = { KAFKA_BROKERS: brokers.join(',') };
    const up = await npm(['kafka:up', '--', '--brokers', '3'], env());
    expect(up.code, up.stdout + up.stderr).toBe(0);

    const partitions = (): Promise<PartitionState[]> =>
      withAdmin(async (admin) => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] });
        return (topics[0]?.partitions ?? [])
          .map(({ partitionId, leader, isr }) => ({ partition: partitionId, leader: leader < 0 ? null : leader, isr: [...isr].sort() }))
          .sort((a, b) => a.partition - b.partition);
      }, brokers);

    offline = await startOffline({ env: clusterEnv });
    const group = uniqueName('failover');
    for (const name of ['m1', 'm2', 'm3']) members.push(startConsumeCli(name, TOPIC, group, [], clusterEnv));
    await waitForOnePartitionEach(members, TOPIC, [0, 1, 2], 120_000);

    // Three clients POST one keyed record each, again and again, until told to stop.
    const answers: Answer[] = [];
    const acked = new Set<string>();
    let next = 0;
    let producing = true;
    const base = offline.baseUrl;
    const client = async () => {
      while (producing) {
        const seq = next++;
        const sentAt = Date.now();
        const response = await fetch(`${base}/produce`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic: TOPIC, key: `key-${seq}`, value: `failover-${seq}` }),
        });
        const body = (await response.json()) as { error?: { code?: string } };
        answers.push({
          seq,
          status: response.status,
          sentAt,
          answeredAt: Date.now(),
          ...(body.error?.code ? { code: body.error.code } : {}),
        });
        if (response.status === 200) acked.add(`failover-${seq}`);
        else await sleep(100);
      }
    };
    const clients = [client(), client(), client()];
    const okAfter = (since: number) => answers.filter((answer) => answer.status === 200 && answer.sentAt >= since).length;
    await waitFor(
      () => `acked ${acked.size}: ${JSON.stringify(answers.slice(-5))}`,
      () => okAfter(0) >= 30,
      60_000,
    );

    // The victim: the broker leading most of payment-done's partitions.
    const before = await partitions();
    const leads = new Map<number, number>();
    for (const { leader } of before) if (leader !== null) leads.set(leader, (leads.get(leader) ?? 0) + 1);
    const victim = [...leads.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (victim === undefined) throw new Error(`no leaders: ${JSON.stringify(before)}`);
    const victimNode = jvmNodes(port, 3)[victim - 1];
    if (victimNode === undefined) throw new Error(`no node ${victim}`);
    const victimPid = Number(readFileSync(victimNode.paths.pidFile, 'utf8'));
    const ledBefore = before.filter(({ leader }) => leader === victim).map(({ partition }) => partition);
    const killedAt = Date.now();
    process.kill(victimPid, 'SIGKILL');
    await waitFor(
      () => `pid ${victimPid} still alive`,
      () => !processAlive(victimPid),
      10_000,
    );

    // Leaders move to the two brokers left, as `npm run inspect-topic` shows.
    type Inspected = { partitions: { partition: number; leader: number | null; isr: number[] }[] };
    const moved = await waitFor(
      () => `leaders still on ${victim}`,
      async () => {
        const inspected = await npm(['inspect-topic', '--', TOPIC, '--json'], { ...env(), ...clusterEnv }, 60_000);
        if (inspected.code !== 0) return undefined;
        const topic = JSON.parse(inspected.stdout) as Inspected;
        return topic.partitions.every(({ leader }) => leader !== null && leader !== victim) ? topic : undefined;
      },
      90_000,
    );
    const leadersMovedAt = Date.now();
    for (const { partition, leader, isr } of moved.partitions) {
      expect(leader, `partition ${partition}`).not.toBe(victim);
      expect(isr, `partition ${partition}`).not.toContain(victim);
    }

    // kafka:status names the killed node as not running, and the two left lead every partition.
    const status = await npm(['kafka:status'], env());
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain('(2 brokers)');
    expect(status.stdout).toMatch(new RegExp(`node ${victim}\\s+localhost:${port + victim - 1}\\s+not running`));
    const ledNow = status.stdout
      .split('\n')
      .filter((line) => /^\s+node \d/.test(line))
      .flatMap((line) => (/leads (.*)$/.exec(line)?.[1] ?? '').split(', '))
      .filter((name) => name.startsWith(`${TOPIC}/`))
      .sort();
    expect(ledNow).toEqual([`${TOPIC}/0`, `${TOPIC}/1`, `${TOPIC}/2`]);

    // /produce recovers by itself: 30 answers of 200 in a row, all partitions written, after the last failure.
    const recovered = await waitFor(
      () => `no recovery: ${JSON.stringify(answers.slice(-5))}`,
      () => {
        const failures = answers.filter((answer) => answer.status !== 200);
        const lastFailure = failures[failures.length - 1];
        const since = lastFailure === undefined ? killedAt : Math.max(killedAt, lastFailure.answeredAt);
        return okAfter(since) >= 30 && Date.now() > leadersMovedAt ? since : undefined;
      },
      90_000,
    );

    // kafka:up starts the killed node again; it rejoins the ISR of every partition.
    const restart = await npm(['kafka:up'], env());
    expect(restart.code, restart.stdout + restart.stderr).toBe(0);
    expect(restart.stdout).toContain(`restarting node ${victim} (the others run)`);
    const rejoined = await waitFor(
      () => `node ${victim} not back in every ISR`,
      async () => {
        const now = await partitions();
        return now.every(({ isr }) => isr.length === 3) ? now : undefined;
      },
      120_000,
    );
    const rejoinedAt = Date.now();
    expect(rejoined.map(({ isr }) => isr)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
    const afterRejoin = okAfter(rejoinedAt);
    await waitFor(
      () => 'no 200 after the rejoin',
      () => okAfter(rejoinedAt) >= afterRejoin + 15,
      60_000,
    );
    producing = false;
    await Promise.all(clients);

    // Only 200 and 503 (BROKER_UNAVAILABLE) were answered.
    const unexpected = answers.filter(
      (answer) => answer.status !== 200 && !(answer.status === 503 && answer.code === 'BROKER_UNAVAILABLE'),
    );
    expect(unexpected).toEqual([]);

    // Every acknowledged record, read back by Kafka's own console consumer.
    const endOffsets = await withAdmin(async (admin) => admin.fetchTopicOffsets(TOPIC), brokers);
    const total = endOffsets.reduce((sum, { high }) => sum + Number(high), 0);
    const consumed = await npm(
      [
        'kafka',
        '--',
        'kafka-console-consumer',
        '--bootstrap-server',
        brokers.join(','),
        '--topic',
        TOPIC,
        '--from-beginning',
        '--max-messages',
        String(total),
        '--timeout-ms',
        '60000',
      ],
      env(),
      120_000,
    );
    expect(consumed.code, consumed.stderr).toBe(0);
    const readBack = new Set(consumed.stdout.split('\n').filter((line) => line.startsWith('failover-')));
    const lost = [...acked].filter((value) => !readBack.has(value));
    expect(lost).toEqual([]);

    // … and by the three members of the group, which carried on through the failover.
    await waitFor(
      () => {
        const seen = new Set(members.flatMap((member) => processed(member).map(({ value }) => value)));
        return `members missed ${[...acked].filter((value) => !seen.has(value)).length} of ${acked.size}`;
      },
      () => {
        const seen = new Set(members.flatMap((member) => processed(member).map(({ value }) => value)));
        return [...acked].every((value) => seen.has(value)) ? true : undefined;
      },
      90_000,
    );

    const unavailable = answers.filter((answer) => answer.status === 503);
    // A 503 answered before the kill is the machine's load (a publish over PRODUCE_TIMEOUT_MS), not the failover.
    const beforeKill = unavailable.filter((answer) => answer.answeredAt < killedAt).length;
    const afterKill = unavailable.filter((answer) => answer.answeredAt >= killedAt);
    const span =
      afterKill.length === 0
        ? 'none after the kill'
        : `${afterKill.length} answered ${seconds(afterKill[0], killedAt)}-${seconds(afterKill.at(-1), killedAt)} s after the kill, ` +
          `${beforeKill} before it`;
    console.log(
      `[failover] killed node ${victim} (led partitions ${ledBefore.join(',')}): acked ${acked.size}, lost ${lost.length}, ` +
        `503s ${unavailable.length} (${span}), ` +
        `leaders moved (seen by inspect-topic) after ${((leadersMovedAt - killedAt) / 1000).toFixed(1)} s, ` +
        `/produce answered only 200 from ${((recovered - killedAt) / 1000).toFixed(1)} s on, ` +
        `rejoined every ISR ${((rejoinedAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
        `${total} records in the topic (${total - acked.size} from requests not answered 200 or retried)`,
    );

    await Promise.all(members.map((member) => member.process.stop('SIGTERM')));
    const down = await npm(['kafka:down', '--', '--wipe'], env());
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(processesOf(port)).toEqual([]);
    expect(existsSync(clusterDir(port))).toBe(false);
    port = 0;
  }, 600_000);
});
