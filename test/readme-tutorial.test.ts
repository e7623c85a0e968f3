/**
 * The README's tutorial, walked as a reader walks it, top to bottom: the sections "The tutorial with this
 * project's commands", "Produce", "Consume: the three terminals", "Kafka-triggered functions under serverless
 * offline" and "Inspect the group" (with "Watch the partitions move"). Every command comes from the README's own
 * ```sh blocks, in their order (a cursor per section fails the test on a command it does not expect, or one
 * left over), and runs for real: Kafka's tools from the project's jars, `npm start` (kafka:up, then serverless
 * offline with the shipped Kafka-triggered function's mapping), `npm run consume` terminals, Ctrl-C as SIGINT
 * to the process group (what a terminal sends), `npx serverless invoke local`, `inspect-group`, curl. What
 * each prints is compared with the README's sample next to it.
 *
 * What is normalised, and only that, because it legitimately varies from one run to the next:
 * - names: the test owns its topics and groups, so `payment-done`, `my-events`, `my-app3`,
 *   `payment-done-record-handler`, `localhost:9092` and `localhost:3000` are this run's in the commands, and
 *   the README's again in what they print; column padding follows the names, so runs of spaces in a table
 *   count as one;
 * - times, durations, member ids (long and short) and `isLeader` (which member leads the group);
 * - npm's own `> script` banner lines (the README shows what the command prints);
 * - one command's value: `invoke local`'s `"durationSeconds":60` runs as 5 here, to keep the walk short;
 * - offsets and counts that depend on two random choices of an earlier step, which the README's samples fix
 *   as follows: the Produce batch's keyless record goes round-robin from a random partition (the samples take
 *   partition 1), and which partition terminal 1 holds at the end comes from the round-robin assignor over
 *   random member ids (the samples take partition 1). The test reads both from the run (the batch's answer,
 *   the member's summary) and shifts the printed numbers to the samples' choice before comparing.
 *
 * Run here but not compared (no sample in the README): kafka-topics --describe, kafka-consumer-groups in the
 * Consume section. Outside the walked sections (their own tests run them): kafka:up's modes, the schema
 * registry, the live page, `npm run demo`. The commands the README gives in its prose rather than in a block,
 * which the walk does not run, are NOT_RUN below, each with its reason.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, endOffsets, testBrokers, uniqueName } from './support/kafka';
import { startOffline, type Offline } from './support/offline';
import { jsonLines, runCommand, startProcess, type Finished, type RunningProcess } from './support/processes';
import { fencedBlocks, readmeSection, shellCommands, type ReadmeCommand } from './support/readme';
import { waitFor } from './support/wait';

const topic = uniqueName('readme-payments');
const eventsTopic = uniqueName('readme-events');
const group = uniqueName('readme-app');
const handlerGroup = uniqueName('readme-handler');
const broker = testBrokers().join(',');

/** Commands in the README's prose (or its Quick start) that the walk does not run, by design, and why. */
const NOT_RUN: Array<{ section: string; command: string; reason: string }> = [
  {
    section: '## Quick start',
    command: 'npm install && npm start',
    reason: 'the suite runs in an installed checkout; npm start is run below',
  },
  { section: '## Quick start', command: 'npm test', reason: 'this test is part of it' },
  {
    section: '## Kafka, one command on any machine',
    command: 'docker run -p 9092:9092 apache/kafka:3.7.1',
    reason: 'needs a Docker engine (CI has none); the existing-cluster path it leads to is the one this walk takes (KAFKA_BROKERS)',
  },
  {
    section: "## The tutorial with this project's commands",
    command: 'PRODUCE_TOPICS=payment-done,quickstart-events,my-events npm start',
    reason: 'a fourth npm start; the 403 before it is checked here, PRODUCE_TOPICS itself by test/produce-http.test.ts',
  },
  {
    section: '## Consume',
    command: 'kill -9 <pid>',
    reason: 'test/consume-pid.test.ts kills the member by that pid; here it would add a 10 s session timeout',
  },
  {
    section: '## Consume',
    command: 'npm run kafka:down',
    reason: 'it would stop the broker the suite shares; test/logs.test.ts runs that outage on a broker of its own',
  },
];

/** What every command of the walk gets: the tutorial's defaults, pointed at this test's names. */
const walkEnv: NodeJS.ProcessEnv = {
  KAFKA_TOPIC: topic,
  KAFKA_GROUP_ID: group,
  PRODUCE_TOPICS: `${topic},quickstart-events`,
  RECORD_HANDLER_TOPIC: topic,
  RECORD_HANDLER_GROUP_ID: handlerGroup,
  FORCE_COLOR: '0',
  NO_COLOR: '1',
};

/** One `npm start` per environment the README names (`# with VAR=value npm start`); the plain one runs the mapping. */
const offlines = new Map<string, Promise<Offline>>();
const processes: RunningProcess[] = [];

function envKey(env: Record<string, string>): string {
  return JSON.stringify(Object.entries(env).sort());
}

function npmStart(env: Record<string, string>): Promise<Offline> {
  const key = envKey(env);
  let offline = offlines.get(key);
  if (offline === undefined) {
    // Only the plain `npm start` runs the shipped function's mapping (OFFLINE_KAFKA_ENABLED unset, as a reader
    // has it): one reader, one mapping on the topic. The others are the same npm start with the mapping off.
    const mapping = Object.keys(env).length === 0 ? undefined : 'false';
    offline = startOffline({ npmStart: true, env: { ...walkEnv, OFFLINE_KAFKA_ENABLED: mapping, ...env }, readyTimeoutMs: 120_000 });
    offlines.set(key, offline);
  }
  return offline;
}

/** The README's command with this run's names and ports. */
function adapt(command: string, offline?: Offline): string {
  let adapted = command
    .replaceAll('payment-done', topic)
    .replaceAll('my-events', eventsTopic)
    .replaceAll('my-app3', group)
    .replaceAll('localhost:9092', broker);
  if (offline !== undefined) adapted = adapted.replaceAll('localhost:3000', `localhost:${offline.httpPort}`);
  return adapted;
}

/** What a command printed, with the README's names back and the varying parts as placeholders. */
function normalise(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('> ') && !/^npm (notice|warn)/.test(line))
    .join('\n')
    .replaceAll(handlerGroup, 'payment-done-record-handler')
    .replaceAll(topic, 'payment-done')
    .replaceAll(eventsTopic, 'my-events')
    .replaceAll(group, 'my-app3')
    .replaceAll(testBrokers()[0] ?? broker, 'localhost:9092')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/\b\d\d:\d\d:\d\d\.\d{3}\b/g, '<time>')
    .replace(/kafka-functions-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<member>')
    .replace(/member=[0-9a-f]{8}\b/g, 'member=<member>')
    .replace(/durationMs=\d+/g, 'durationMs=<ms>')
    .replace(/isLeader=(true|false)/g, 'isLeader=<bool>')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/** Walks a section's commands in order: each step names the command it expects next. */
function cursor(heading: string) {
  const section = readmeSection(heading);
  const commands = shellCommands(section);
  let index = 0;
  return {
    section,
    samples: fencedBlocks(section),
    next(pattern: RegExp): ReadmeCommand {
      const command = commands[index];
      expect(command?.command, `the next command of "${heading}" (number ${index + 1})`).toMatch(pattern);
      index += 1;
      if (command === undefined) throw new Error('unreachable');
      return command;
    },
    done(): void {
      expect(
        commands.slice(index).map(({ command }) => command),
        `commands of "${heading}" the walk did not run`,
      ).toEqual([]);
    },
  };
}

async function run(command: ReadmeCommand, options: { offline?: Offline; input?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const result = await runCommand('bash', ['-c', adapt(command.command, options.offline)], {
    env: { ...walkEnv, ...command.env },
    input: options.input,
    timeoutMs: options.timeoutMs ?? 90_000,
  });
  expect(result.code, `${command.command}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

function start(command: ReadmeCommand, env: NodeJS.ProcessEnv = {}): RunningProcess {
  const child = startProcess('bash', ['-c', adapt(command.command)], { ...walkEnv, ...command.env, ...env });
  processes.push(child);
  return child;
}

interface ProduceAnswer {
  topic: string;
  results: Array<{ key?: string; partition: number; offset: string }>;
}

/** Lines of a terminal that carry a message (its pretty log format: `<time> LEVEL  message …`). */
function logged(child: RunningProcess, message: string): string[] {
  return child
    .output()
    .split('\n')
    .filter((line) => new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} [A-Z]+ +${message}\\b`).test(line));
}

/** The assignment of a terminal's last `group joined` line. */
function lastAssignment(child: RunningProcess): number[] | undefined {
  const line = logged(child, 'group joined').pop();
  const json = line?.match(/assignment=(\{\S*\})/)?.[1];
  if (json === undefined) return undefined;
  return (JSON.parse(json) as Record<string, number[]>)[topic] ?? [];
}

/** A table as the samples show it: rows in a stable order, offsets shifted to the samples' keyless partition. */
function tableAsSample(text: string, shift: (partition: number) => number): string {
  const lines = normalise(text)
    .split('\n')
    .map((line) => {
      const group = line.match(/^(my-app3 payment-done )(\d) (\d+|-) (\d+|-) (.*)$/);
      if (group !== null) {
        const [, head, partition, current, end, rest] = group;
        const by = shift(Number(partition));
        const moved = (value = '-') => (value === '-' ? value : String(Number(value) + by));
        return `${head}${partition} ${moved(current)} ${moved(end)} ${rest}`;
      }
      const topicRow = line.match(/^(payment-done (\d) \d+ \S+ \S+ \d+) (\d+) (\d+)$/);
      if (topicRow !== null) {
        const [, head, partition, latest, records] = topicRow;
        const by = shift(Number(partition));
        return `${head} ${Number(latest) + by} ${Number(records) + by}`;
      }
      return line;
    });
  // Rows of one table in partition order: Kafka's tool orders members by their (random) ids.
  const sorted: string[] = [];
  let rows: string[] = [];
  for (const line of [...lines, '']) {
    if (/^(my-app3|payment-done) /.test(line)) {
      rows.push(line);
      continue;
    }
    sorted.push(...rows.sort(), line);
    rows = [];
  }
  return sorted.slice(0, -1).join('\n').trim();
}

/** The shape of a JSON document in the README's notation: `{"a","b":{"c"},"d":[{"e"}]}`. */
function shapeOf(value: unknown, key = ''): string {
  if (key === 'assignment') return '{"<topic>":[partitions]}';
  if (Array.isArray(value)) return `[${shapeOf(value[0])}]`;
  if (typeof value !== 'object' || value === null) return '';
  const entries = Object.entries(value).map(([name, inner]) => {
    const nested = typeof inner === 'object' && inner !== null ? shapeOf(inner, name) : '';
    return nested === '' ? `"${name}"` : `"${name}":${nested}`;
  });
  return `{${entries.join(',')}}`;
}

beforeAll(async () => {
  await createTopic(topic, 3); // what kafka:up does for payment-done, here for this test's own topic
  // Start the README's `npm start`s now: they take the longest, and the Produce section is their first user.
  for (const heading of ['## Produce', '## Consume']) {
    for (const command of shellCommands(readmeSection(heading))) {
      if (command.command.startsWith('curl')) void npmStart(command.env).catch(() => undefined);
    }
  }
});

afterAll(async () => {
  // README_WALK_LOG_DIR=dir keeps what every process printed, for a look after a failure.
  const dir = process.env.README_WALK_LOG_DIR;
  if (dir !== undefined) {
    for (const [index, child] of processes.entries()) writeFileSync(join(dir, `process-${index + 1}.log`), child.output());
    for (const [index, offline] of [...offlines.values()].entries())
      writeFileSync(join(dir, `npm-start-${index + 1}.log`), (await offline).process.output());
  }
  await Promise.all(processes.map((child) => child.stop('SIGKILL', 5_000)));
  await Promise.all([...offlines.values()].map(async (offline) => (await offline).stop()));
});

describe("the README's tutorial, in the README's order", () => {
  it('names every command it does not run, each still in its section of the README', () => {
    for (const { section, command } of NOT_RUN) {
      const text = readmeSection(section);
      const inBlock = shellCommands(text).some((written) => written.command === command);
      expect(inBlock || text.includes(`\`${command}\``), `${section}: ${command}`).toBe(true);
    }
  });

  it('every command runs as written and prints what the README shows', { timeout: 420_000 }, async () => {
    // ── The tutorial with this project's commands ──────────────────────────────────────────────────────
    const tutorial = cursor("## The tutorial with this project's commands");
    const created = await run(tutorial.next(/^npm run kafka -- kafka-topics\.sh --create --topic my-events /));
    expect(normalise(created.stdout)).toBe('Created topic my-events.');
    const producer = tutorial.next(/^npm run kafka -- kafka-console-producer\.sh --topic my-events /);
    expect(producer.notes).toEqual(['type lines, Ctrl-D to finish']);
    await run(producer, { input: 'hello kafka\nsecond line\n' }); // the lines typed, then Ctrl-D (end of input)
    const consumer = tutorial.next(/^npm run kafka -- kafka-console-consumer\.sh --topic my-events --from-beginning /);
    expect(consumer.notes).toEqual(['Ctrl-C to stop']);
    const reading = start(consumer);
    await reading.waitForOutput(/hello kafka\nsecond line\n/, 60_000);
    expect(await reading.stop('SIGINT')).not.toBe('SIGKILL');
    // Java's shutdown hook prints its count on the way out, the pipe may deliver it after npm has exited.
    await waitFor(
      () => `the consumer's count: ${reading.output()}`,
      () => reading.output().includes('Processed a total of 2 messages'),
      15_000,
    );
    const described = await run(tutorial.next(/^npm run kafka -- kafka-topics --describe --topic payment-done /));
    expect(normalise(described.stdout)).toMatch(/^Topic: payment-done TopicId: \S+ PartitionCount: 3 /);
    tutorial.done();
    // "A topic you create here, like my-events, is not one /produce may write to until you add it to PRODUCE_TOPICS"
    expect(tutorial.section).toContain('answers 403 `TOPIC_NOT_ALLOWED`');
    const notAllowed = await fetch(`${(await npmStart({})).baseUrl}/produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: eventsTopic, value: 'hello' }),
    });
    expect(notAllowed.status).toBe(403);
    expect(((await notAllowed.json()) as { error: { code: string } }).error.code).toBe('TOPIC_NOT_ALLOWED');

    // ── Produce: POST /produce ─────────────────────────────────────────────────────────────────────────
    const produce = cursor('## Produce');
    const [tutorialAnswer] = fencedBlocks(produce.section, 'json');
    const first = produce.next(/^curl .*localhost:3000\/produce/);
    const firstAnswer = await run(first, { offline: await npmStart(first.env) });
    expect(normalise(firstAnswer.stdout)).toBe(tutorialAnswer); // "On a fresh payment-done": the test's topic is fresh
    const readBack = await run(produce.next(/^npm run kafka -- kafka-console-consumer .*--partition 0 --offset 0 --max-messages 1/s));
    expect(readBack.stdout).toContain('Partition:0\tOffset:0\tuser1\thi there');
    let keylessPartition: number | undefined;
    for (const pattern of [
      /"messages":\[\n.*"no key"/s,
      /"tier":"vip"/,
      /"key":"user1"}'$/,
      /x-api-key: let-me-in/,
      /^curl(?!.*x-api-key)/s,
    ]) {
      const command = produce.next(pattern);
      expect(command.command).toContain('http://localhost:3000/produce');
      const { stdout } = await run(command, { offline: await npmStart(command.env) });
      if (command.expected !== undefined) {
        expect(normalise(stdout), command.command).toBe(command.expected);
        continue;
      }
      const answer = JSON.parse(stdout) as ProduceAnswer;
      expect(answer.results, `${command.command}\n→ ${stdout}`).toBeDefined();
      if (command.command.includes('"no key"')) keylessPartition = answer.results[2]?.partition;
      if (command.env.PRODUCE_PARTITIONER === 'vip-users') {
        // The VIP record in its own lane, the other one elsewhere.
        expect(answer.results).toEqual([
          expect.objectContaining({ partition: 0 }),
          expect.objectContaining({ partition: expect.any(Number) }),
        ]);
        expect(answer.results).not.toContainEqual(expect.objectContaining({ key: 'user2', partition: 0 }));
      }
      if (command.env.PRODUCE_API_KEY !== undefined) {
        // "The first answers 200 with user1's record on partition 0 of payment-done"
        expect(answer).toMatchObject({ topic, results: [{ key: 'user1', partition: 0 }] });
      }
    }
    produce.done();
    if (keylessPartition === undefined) throw new Error('the batch answer names no partition for its keyless record');
    // Samples take the keyless record on partition 1: shift a partition's printed offsets by this.
    const shift = (partition: number) => (partition === 1 ? 1 : 0) - (keylessPartition === partition ? 1 : 0);

    // ── Consume: the three terminals ───────────────────────────────────────────────────────────────────
    const consume = cursor('## Consume');
    const [joinedSample, processedSample, ctrlCSample] = consume.samples;
    await run(consume.next(/^npm run kafka:up$/));
    const backlog = [...(await endOffsets(topic)).values()].reduce((sum, offset) => sum + Number(offset), 0);
    const terminals: RunningProcess[] = [];
    let consumeCommand: ReadmeCommand | undefined;
    for (const n of [1, 2, 3]) {
      const command = consume.next(/^npm run consume$/);
      consumeCommand ??= command;
      expect(command.comment).toMatch(new RegExp(`^terminal ${n}\\b`));
      // A terminal shows the pretty format; a reader opens the next terminal once this one has joined.
      const terminal = start(command, { LOG_FORMAT: 'pretty' });
      terminals.push(terminal);
      await terminal.waitForOutput(/ group joined /, 90_000);
      // Terminal 1, alone in the group at first, reads the whole backlog the Produce section wrote.
      if (n === 1) await waitFor('terminal 1 to read the backlog', () => logged(terminal, 'record processed').length >= backlog, 30_000);
    }
    const [terminal1, terminal2, terminal3] = terminals;
    if (consumeCommand === undefined) throw new Error('no npm run consume');
    if (terminal1 === undefined || terminal2 === undefined || terminal3 === undefined) throw new Error('three terminals');
    const settled = await waitFor(
      () => `one partition each: ${terminals.map((terminal) => terminal.output().slice(-800)).join('\n---\n')}`,
      () => {
        const held = terminals.map(lastAssignment);
        return held.every((partitions) => partitions?.length === 1) && new Set(held.flat()).size === 3 && held;
      },
      60_000,
    );
    // "once the group has settled, each member holds one partition"
    for (const [index, terminal] of terminals.entries()) {
      const line = logged(terminal, 'group joined').pop() ?? '';
      const partition = settled[index]?.[0] ?? -1;
      expect(normalise(line).replace(`[${partition}]`, '[1]')).toBe(normalise(joinedSample ?? ''));
    }
    expect(consume.next(/^npm start$/).comment).toMatch(/^terminal 4/);
    const offline = await npmStart({});
    const curl = consume.next(/^curl .*"paid 40"/s);
    const paid = JSON.parse((await run(curl, { offline })).stdout) as ProduceAnswer;
    expect(paid.results.map(({ key, partition }) => [key, partition])).toEqual([
      ['user1', 0],
      ['user2', 2],
      ['user3', 2],
      ['user4', 1],
    ]);
    // "one line per record it was given": user4's record, on partition 1, in its owner's terminal.
    const owner1 = terminals[settled.findIndex((partitions) => partitions?.[0] === 1)];
    if (owner1 === undefined) throw new Error('nobody holds partition 1');
    await owner1.waitForOutput(/record processed \S+-1@\d+ key=user4/, 30_000);
    const user4Line = logged(owner1, 'record processed').find((line) => line.includes('key=user4')) ?? '';
    const user4Offset = Number(user4Line.match(/-1@(\d+)/)?.[1]);
    expect(normalise(user4Line).replace(`@${user4Offset}`, `@${user4Offset + shift(1)}`)).toBe(normalise(processedSample ?? ''));

    // "Press Ctrl-C in terminal 1": SIGINT to its process group, as the terminal sends it.
    const held1 = settled[0]?.[0] ?? -1;
    const records1 = (await endOffsets(topic)).get(held1);
    await terminal1.waitForOutput(new RegExp(`record processed \\S+-${held1}@${Number(records1) - 1} `), 30_000);
    // The script exits 0 on a signal; npm then reports the interrupted run as the signal.
    expect(await terminal1.stop('SIGINT')).toMatch(/^(0|SIGINT)$/);
    const summaryLines = terminal1
      .output()
      .split('\n')
      .filter((line) => /signal received|group leaving|group left|^summary: /.test(line));
    // The samples' terminal 1 ends on partition 1 and read the keyless record there: shift the counts to that.
    const curlRecords = (partition: number) => paid.results.filter((result) => result.partition === partition).length;
    const summary = JSON.parse(summaryLines.at(-1)?.replace(/^summary: /, '') ?? '{}') as { recordsProcessed: number; batches: number };
    const recordsAsSample = summary.recordsProcessed - curlRecords(held1) + curlRecords(1);
    const asSample = normalise(summaryLines.join('\n'))
      .replaceAll(`partitions=[${held1}]`, 'partitions=[1]')
      .replaceAll(`"partitions":[${held1}]`, '"partitions":[1]')
      .replaceAll(`(partitions ${held1})`, '(partitions 1)')
      .replaceAll(`recordsProcessed=${summary.recordsProcessed}`, `recordsProcessed=${recordsAsSample}`)
      .replaceAll(`"recordsProcessed":${summary.recordsProcessed}`, `"recordsProcessed":${recordsAsSample}`)
      .replaceAll(`processed ${summary.recordsProcessed} records`, `processed ${recordsAsSample} records`);
    expect(asSample).toBe(normalise(ctrlCSample ?? ''));
    // "Within about a second terminals 2 and 3 log group rebalancing and a new group joined — one of them now
    // holds two partitions"
    const moved = await waitFor(
      () => `terminals 2 and 3 to share the three partitions: ${terminal2.output().slice(-600)}\n${terminal3.output().slice(-600)}`,
      () => {
        const held = [lastAssignment(terminal2), lastAssignment(terminal3)];
        return new Set(held.flat()).size === 3 && held.flat().length === 3 && held;
      },
      30_000,
    );
    expect(moved.map((partitions) => partitions?.length).sort()).toEqual([1, 2]);
    for (const terminal of [terminal2, terminal3]) expect(logged(terminal, 'group rebalancing').length).toBeGreaterThan(0);
    const kafkaView = await run(consume.next(/^npm run kafka -- kafka-consumer-groups .*--describe --group my-app3$/));
    expect(
      normalise(kafkaView.stdout)
        .split('\n')
        .filter((line) => line.startsWith('my-app3 payment-done ')),
    ).toHaveLength(3);
    // The function invocation: the same member, bounded by its duration (shortened here from 60 s to 5 s).
    const invoke = consume.next(
      /^npx serverless invoke local -f consume --data '\{"groupId":"my-app3","topic":"payment-done","durationSeconds":60\}'$/,
    );
    const invoked = await run(
      { ...invoke, command: invoke.command.replace('"durationSeconds":60', '"durationSeconds":5') },
      { timeoutMs: 120_000 },
    );
    // The member's log lines come first, the invocation's result last.
    const result = JSON.parse(invoked.stdout.slice(invoked.stdout.lastIndexOf('\n{') + 1)) as Record<string, unknown>;
    const fieldList = consume.section.match(/returns the summary as its result\s+\(([\s\S]*?)\)\./)?.[1] ?? '';
    const fields = [...fieldList.matchAll(/`([A-Za-z]+)`/g)].map((match) => match[1]);
    expect(Object.keys(result).sort()).toEqual([...fields].sort());
    expect(result).toMatchObject({ groupId: group, topic, end: { kind: 'duration' } });
    consume.done();

    // ── Kafka-triggered functions under serverless offline ─────────────────────────────────────────────
    const triggered = cursor('## Kafka-triggered functions under serverless offline');
    const [mappingSample] = fencedBlocks(triggered.section);
    expect(triggered.next(/^npm start$/).comment).toMatch(/^terminal 1/); // the one already running
    const paid42 = JSON.parse((await run(triggered.next(/"paid 42"/), { offline })).stdout) as ProduceAnswer;
    const offset42 = Number(paid42.results[0]?.offset);
    expect(paid42.results[0]?.partition).toBe(0);
    // The invocation of partition 0 that ends at "paid 42" (an earlier one of another partition may end at the same offset).
    await waitFor('the mapping to invoke the function for "paid 42"', () =>
      jsonLines(offline.process.output()).some(
        (line) => line.message === 'function invoked' && JSON.stringify(line.partitions) === '[0]' && line.lastOffset === offset42,
      ),
    );
    const printed = offline.process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(normalise(line)) as Record<string, unknown>);
    for (const sampleLine of (mappingSample ?? '').split('\n')) {
      const sample = JSON.parse(sampleLine.replace(/,…\}$/, '}')) as Record<string, unknown>;
      delete sample.durationMs;
      expect(
        printed.some((line) => {
          const shifted = { ...line };
          for (const field of ['offset', 'firstOffset', 'lastOffset']) {
            if (typeof shifted[field] === 'number') shifted[field] = (shifted[field] as number) + shift(0);
          }
          return Object.entries(sample).every(([field, value]) => JSON.stringify(shifted[field]) === JSON.stringify(value));
        }),
        `a line like ${sampleLine}`,
      ).toBe(true);
    }
    triggered.done();

    // ── Inspect the group ──────────────────────────────────────────────────────────────────────────────
    const inspect = cursor('## Inspect the group');
    const [describeSample, viewsSample, movesSample, emptySample] = inspect.samples;
    // "three npm run consume members": terminal 1, stopped above, started again as the section says.
    expect(inspect.section).toContain("start terminal 1's `npm run consume` again");
    const terminal1Again = start(consumeCommand, { LOG_FORMAT: 'pretty' });
    const members = [terminal1Again, terminal2, terminal3];
    await waitFor(
      () => `one partition each again: ${members.map((terminal) => terminal.output().slice(-600)).join('\n---\n')}`,
      () => {
        const held = members.map(lastAssignment);
        return held.every((partitions) => partitions?.length === 1) && new Set(held.flat()).size === 3;
      },
      60_000,
    );
    await waitFor('lag 0', async () => {
      const { stdout } = await runCommand('npm', ['run', '-s', 'inspect-group', '--', '--json'], { env: walkEnv });
      const document = JSON.parse(stdout) as { state: string; totalLag: string; members: unknown[] };
      return document.state === 'Stable' && document.members.length === 3 && document.totalLag === '0';
    });
    const kafkaTable = await run(inspect.next(/^npm run kafka -- kafka-consumer-groups .*--describe --group my-app3$/));
    const ourTable = await run(inspect.next(/^npm run inspect-group$/));
    const [sampleTable, sampleSummary] = (describeSample ?? '').split('\n\n');
    expect(tableAsSample(kafkaTable.stdout, shift)).toBe(tableAsSample(sampleTable ?? '', () => 0));
    expect(tableAsSample(ourTable.stdout, shift)).toBe(tableAsSample(describeSample ?? '', () => 0));
    expect(normalise(ourTable.stdout)).toContain(normalise(sampleSummary ?? ''));
    const [membersSample, stateSample, topicSample] = (viewsSample ?? '').split('\n\n').reduce<string[]>((parts, part) => {
      // The topic table and its summary line are one sample.
      if (part.startsWith("Topic '")) parts[parts.length - 1] += `\n\n${part}`;
      else parts.push(part);
      return parts;
    }, []);
    const membersView = await run(inspect.next(/^npm run inspect-group -- --members$/));
    expect(tableAsSample(membersView.stdout, shift)).toBe(tableAsSample(membersSample ?? '', () => 0));
    const stateView = await run(inspect.next(/^npm run inspect-group -- --state$/));
    expect(tableAsSample(stateView.stdout, shift)).toBe(tableAsSample(stateSample ?? '', () => 0));
    const jsonView = await run(inspect.next(/^npm run -s inspect-group -- --json$/));
    const documentShape = inspect.section.match(/`--json` prints `([\s\S]*?)`; offsets/)?.[1]?.replace(/\s+/g, '');
    const document = JSON.parse(jsonView.stdout) as { partitions: Array<{ currentOffset: unknown; lag: unknown }> };
    expect(shapeOf(document)).toBe(documentShape);
    for (const row of document.partitions) expect([typeof row.currentOffset, typeof row.lag]).toEqual(['string', 'string']);
    const oneTopic = await run(inspect.next(/^npm run inspect-group -- --group my-app3 --topic payment-done$/));
    expect(tableAsSample(oneTopic.stdout, shift)).toBe(tableAsSample(ourTable.stdout, shift));
    const topicView = await run(inspect.next(/^npm run inspect-topic -- payment-done$/));
    expect(tableAsSample(topicView.stdout, shift)).toBe(tableAsSample(topicSample ?? '', () => 0));
    const groupCurl = inspect.next(/^curl -s localhost:3000\/groups\/my-app3$/);
    expect(groupCurl.comment).toMatch(/^200 and the document/);
    const served = JSON.parse((await run(groupCurl, { offline })).stdout) as unknown;
    expect(shapeOf(served)).toBe(documentShape);
    const missingCurl = inspect.next(/^curl -s localhost:3000\/groups\/no-such-group$/);
    const [status, body] = (missingCurl.comment ?? '').split(/ (.*)/s);
    expect((await run(missingCurl, { offline })).stdout.trim()).toBe(body);
    expect(String((await fetch(`${offline.baseUrl}/groups/no-such-group`)).status)).toBe(status);

    // ── Watch the partitions move ──────────────────────────────────────────────────────────────────────
    const watchCommand = inspect.next(/^npm run inspect-group -- --watch --interval 500$/);
    expect(watchCommand.comment).toBe('Ctrl-C to stop');
    const watch = start(watchCommand);
    await watch.waitForOutput(/total lag \d+/, 30_000);
    // "Stop one of the three consumers (Ctrl-C in its terminal)"
    expect(await terminal2.stop('SIGINT')).toMatch(/^(0|SIGINT)$/);
    await watch.waitForOutput(new RegExp(`${topic}-\\d: \\S+ → \\S+`), 30_000);
    const moveShape = /^<time> payment-done-\d: (<member>|-) → (<member>|-)$/;
    for (const line of normalise(movesSample ?? '').split('\n')) expect(line).toMatch(moveShape);
    const moves = normalise(watch.stdout())
      .split('\n')
      .filter((line) => / → /.test(line));
    expect(moves.length).toBeGreaterThan(0);
    for (const line of moves) expect(line).toMatch(moveShape);
    // "When the last member leaves, the group is Empty; Kafka keeps its offsets"
    await Promise.all([terminal1Again.stop('SIGINT'), terminal3.stop('SIGINT')]);
    await watch.waitForOutput(/state Empty, 0 members[^\n]*\n/, 30_000);
    const [noMembers, ...emptyTable] = (emptySample ?? '').split('\n');
    expect(normalise(watch.output())).toContain(noMembers);
    const lastRedraw = watch.stdout().slice(watch.stdout().lastIndexOf('GROUP '));
    expect(tableAsSample(lastRedraw, shift)).toBe(tableAsSample(emptyTable.join('\n'), () => 0));
    expect(await watch.stop('SIGINT')).not.toBe('SIGKILL');
    inspect.done();

    // "one line per event on a terminal": nothing else, no stack trace (Powertools' JSON parse error printed one
    // per plain-text record until the shipped handler stopped asking it to parse JSON).
    for (const terminal of [terminal1, terminal2, terminal3, terminal1Again]) {
      const other = terminal
        .output()
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('> ') && !/^(\d\d:\d\d:\d\d\.\d{3} [A-Z]+ |summary: )/.test(line));
      expect(other).toEqual([]);
    }
  });
});
