/**
 * npm run demo: the tutorial's story in one terminal, in well under a minute. Kafka up (as `kafka:up`), three
 * `npm run consume` members of one group started as children of this process, the tutorial's keyed events
 * produced, a table of who owns what, then one member stopped gracefully (Ctrl-C) and one killed (SIGKILL),
 * each partition move printed with the time it took. Exit 0; every child is gone before it exits, and a
 * Ctrl-C at any moment stops them all (exit 130).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import { getConfig } from '../lib/config';
import { errorMessage } from '../lib/errors';
import { commandKafka } from './support/cli';
import { ClusterWatcher, type ClusterView, type TimelineEntry } from '../lib/inspection/cluster-watch';
import { kafkaUp, optionsFromEnv } from './local-kafka/index';

const ROOT = resolve(__dirname, '..');
const TOPIC = 'payment-done';
// The broker's minimum: a killed member's partitions move after this long.
const SESSION_TIMEOUT_MS = 6_000;
const KEYS = ['user1', 'user2', 'user3', 'user4', 'user5', 'user6'];

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | string>;
  output: string;
}

const children: Child[] = [];
const started = Date.now();
const say = (line: string) => process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}\n`);

function startMember(name: string, groupId: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/consume.ts', '--group', groupId, '--topic', TOPIC, '--from-latest'], {
    cwd: ROOT,
    env: { ...process.env, LOG_FORMAT: 'json', KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), KAFKA_HEARTBEAT_INTERVAL_MS: '500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry: Child = {
    name,
    process: child,
    output: '',
    exited: new Promise((resolveExit) => child.on('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'))),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    entry.output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    entry.output += chunk.toString();
  });
  children.push(entry);
  return entry;
}

/** Every child gone: SIGTERM (a graceful leave), SIGKILL after 5 s. */
async function stopAll(): Promise<void> {
  const running = children.filter((child) => child.process.exitCode === null && child.process.signalCode === null);
  for (const child of running) child.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of running) child.process.kill('SIGKILL');
  }, 5_000);
  await Promise.all(running.map((child) => child.exited));
  clearTimeout(timer);
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

/** The member ids the page and the log lines show, from a member's "group joined" JSON line. */
function memberIdOf(child: Child): string | undefined {
  const match = /"message":"group joined"[^\n]*"memberId":"([^"]+)"/.exec(child.output);
  return match?.[1];
}

function ownersTable(view: ClusterView, groupId: string, names: Map<string, string>): string {
  const group = view.groups.find((candidate) => candidate.groupId === groupId);
  const rows = group?.topics[TOPIC] ?? [];
  const lines = ['      PARTITION  OWNER  MEMBER       COMMITTED  LAG'];
  for (const row of rows) {
    const member = group?.members.find((candidate) => candidate.label === row.owner);
    const who = member === undefined ? '-' : (names.get(member.memberId) ?? member.memberId.slice(-12));
    const committed = row.committedOffset ?? '-';
    const lag = row.lagFrom === 'log-start' ? `${row.lag} (nothing committed: from the log start)` : row.lag;
    lines.push(
      `      ${String(row.partition).padEnd(9)}  ${(row.owner ?? '-').padEnd(5)}  ${who.padEnd(11)}  ${committed.padEnd(9)}  ${lag}`,
    );
  }
  return lines.join('\n');
}

async function settled(watcher: ClusterWatcher, groupId: string, members: number): Promise<ClusterView> {
  return waitFor(
    `${members} members to own one partition${members === 3 ? '' : ' or more'} each`,
    async () => {
      const view = await watcher.view({ topics: [TOPIC], groups: [groupId] });
      const group = view.groups.find((candidate) => candidate.groupId === groupId);
      const rows = group?.topics[TOPIC] ?? [];
      const ok =
        group?.state === 'Stable' && group.members.length === members && rows.length > 0 && rows.every((row) => row.owner !== null);
      return ok ? view : undefined;
    },
    // Starting three Node processes takes a few seconds on an idle laptop, much longer on a loaded machine.
    120_000,
  );
}

type Move = Extract<TimelineEntry, { kind: 'move' }>;
const reported = new Set<TimelineEntry>();

/** The moves the watcher recorded since `since` that were not reported yet. */
function newMoves(view: ClusterView, groupId: string, since: number): Move[] {
  const moves = view.timeline.filter(
    (entry): entry is Move => entry.kind === 'move' && entry.groupId === groupId && entry.at >= since && !reported.has(entry),
  );
  for (const move of moves) reported.add(move);
  return moves;
}

async function produceKeys(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic: TOPIC, messages: KEYS.map((key, index) => ({ key, value: `paid ${(index + 1) * 10}` })) });
    say(`produced ${KEYS.length} events keyed ${KEYS.join(', ')} (the Java client's partitioner: the same key, the same partition)`);
  } finally {
    await producer.disconnect();
  }
}

function processedBy(child: Child): string[] {
  return [...child.output.matchAll(/"message":"record processed"[^\n]*"partition":(\d+)[^\n]*"key":"([^"]*)"/g)].map(
    (match) => `${match[2]}→p${match[1]}`,
  );
}

async function moveReport(watcher: ClusterWatcher, groupId: string, since: number, how: string, names: Map<string, string>) {
  const view = await settled(
    watcher,
    groupId,
    children.filter((child) => child.process.exitCode === null && child.process.signalCode === null).length,
  );
  for (const move of newMoves(view, groupId, since)) {
    say(`  ${move.partition}: ${move.from ?? '-'} → ${move.to ?? '-'} ${((move.at - since) / 1000).toFixed(1)} s after the ${how}`);
  }
  say(`who owns what now:\n${ownersTable(view, groupId, names)}`);
}

async function main(): Promise<number> {
  const config = getConfig();
  const groupId = `my-app3-demo-${process.pid}`;
  say('the live page shows all of this too: http://localhost:3000/ (while `npm start` runs in another terminal)');
  say('Kafka up (as npm run kafka:up)…');
  await kafkaUp(optionsFromEnv(process.env, (line) => say(`  ${line}`)));

  const kafka = commandKafka(config);
  const admin: Admin = kafka.admin();
  await admin.connect();
  const watcher = new ClusterWatcher(admin);
  try {
    say(`three members of group ${groupId} on ${TOPIC} (npm run consume, as in the tutorial's three terminals)…`);
    const members = ['A', 'B', 'C'].map((name) => startMember(name, groupId));
    const first = await settled(watcher, groupId, 3);
    // Each member is called by the letter the page gives it (A, B, C in the order they joined).
    const names = new Map<string, string>();
    const firstGroup = first.groups.find((group) => group.groupId === groupId);
    for (const member of members) {
      const id = await waitFor("the members' join lines", async () => memberIdOf(member), 10_000);
      member.name = firstGroup?.members.find((candidate) => candidate.memberId === id)?.label ?? member.name;
      names.set(id, `consume ${member.name}`);
    }
    members.sort((a, b) => a.name.localeCompare(b.name));
    say(`the group is Stable, one partition each:\n${ownersTable(first, groupId, names)}`);

    await produceKeys(kafka);
    await waitFor(
      'the members to process the events',
      async () => (members.flatMap(processedBy).length >= KEYS.length ? true : undefined),
      20_000,
    );
    for (const member of members) say(`  consume ${member.name} processed ${processedBy(member).join(' ') || 'nothing'}`);

    const [graceful, killed] = members;
    if (graceful === undefined || killed === undefined) throw new Error('three members expected');
    say(`Ctrl-C to consume ${graceful.name}: it finishes its batch, commits and leaves the group…`);
    const stopAt = Date.now();
    graceful.process.kill('SIGINT');
    await graceful.exited;
    await moveReport(watcher, groupId, stopAt, 'Ctrl-C', names);

    say(`SIGKILL to consume ${killed.name}: it cannot leave; the broker waits for its session timeout (${SESSION_TIMEOUT_MS / 1000} s)…`);
    const killAt = Date.now();
    killed.process.kill('SIGKILL');
    await killed.exited;
    await waitFor(
      'the killed member to be dropped',
      async () => {
        const view = await watcher.view({ topics: [TOPIC], groups: [groupId] });
        return view.groups.find((group) => group.groupId === groupId)?.members.length === 1 ? true : undefined;
      },
      SESSION_TIMEOUT_MS + 20_000,
    );
    await moveReport(watcher, groupId, killAt, 'SIGKILL', names);

    say('stopping the last member…');
    await stopAll();
    say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; no member left running`);
    return 0;
  } finally {
    watcher.stop();
    await stopAll();
    await admin.disconnect().catch(() => undefined);
  }
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  say('Ctrl-C: stopping the members…');
  void stopAll().then(() => process.exit(130));
});
process.on('SIGTERM', () => {
  void stopAll().then(() => process.exit(143));
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`demo failed: ${errorMessage(error)}`);
    void stopAll().then(() => process.exit(1));
  },
);
