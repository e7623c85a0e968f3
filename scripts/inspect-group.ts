/**
 * npm run inspect-group -- [--group my-app3] [--topic T] [--members | --state | --json] [--watch [--interval 1000]]
 *
 * What `kafka-consumer-groups --describe --group` prints — which member owns which partition, committed and
 * log end offsets, lag — in the same columns, from the project's config; as JSON for scripts; or live.
 */
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { GroupNotFoundError, errorMessage } from '../lib/errors';
import { FAILURE_EXIT, USAGE_EXIT, commandConfig, commandKafka, errorLine, exitSoon } from './support/cli';
import {
  describeConsumerGroup,
  ownerChanges,
  partitionOwners,
  type ConsumerGroupDocument,
} from '../lib/inspection/consumer-group-inspection';
import { coordinatorFinder, type CoordinatorFinder } from '../lib/inspection/group-coordinator';
import { inspectionError } from '../lib/inspection/kafka-errors';
import { formatMembersTable, formatOffsetsTable, formatStateTable, formatSummary, groupStateNotice } from '../lib/inspection/table-format';

const USAGE = `usage: npm run inspect-group -- [--group <id>] [--topic <topic>] [--members | --state | --json] [--watch [--interval <ms>]]

  --group <id>       the consumer group (default: KAFKA_GROUP_ID, else my-app3)
  --topic <topic>    only this topic's partitions
  (no view flag)     GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID, then a summary
  --members          GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT (as --members --verbose)
  --state            GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS
  --json             one JSON document: groupId, state, protocol, coordinator, members, partitions, totalLag
  --watch            redraw every interval; print a line each time a partition changes owner; Ctrl-C to stop
  --interval <ms>    how often --watch redraws (default 1000, 100 to 3600000)
  -h, --help         this text`;

type View = 'offsets' | 'members' | 'state' | 'json';

interface Options {
  groupId: string;
  topic: string | undefined;
  view: View;
  watch: boolean;
  intervalMs: number;
}

class UsageError extends Error {}

function parseOptions(argv: string[], defaultGroupId: string): Options | 'help' {
  const parse = () =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        group: { type: 'string' },
        topic: { type: 'string' },
        members: { type: 'boolean' },
        state: { type: 'boolean' },
        json: { type: 'boolean' },
        watch: { type: 'boolean' },
        interval: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse());
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  if (values.help === true) return 'help';
  const views = (['members', 'state', 'json'] as const).filter((view) => values[view] === true);
  if (views.length > 1)
    throw new UsageError(`choose one of --members, --state, --json (got ${views.map((view) => `--${view}`).join(' ')})`);
  const view: View = views[0] ?? 'offsets';
  const watch = values.watch === true;
  if (watch && view === 'json') throw new UsageError('--json prints one document; use it without --watch');
  if (values.interval !== undefined && !watch) throw new UsageError('--interval goes with --watch');
  let intervalMs = 1_000;
  if (values.interval !== undefined) {
    if (!/^\d+$/.test(values.interval)) throw new UsageError(`--interval expects milliseconds, got '${values.interval}'`);
    intervalMs = Number(values.interval);
    if (intervalMs < 100 || intervalMs > 3_600_000) throw new UsageError(`--interval must be from 100 to 3600000 ms, got ${intervalMs}`);
  }
  const groupId = values.group ?? defaultGroupId;
  if (groupId.trim() === '') throw new UsageError('--group must not be empty');
  if (values.topic !== undefined && values.topic.trim() === '') throw new UsageError('--topic must not be empty');
  return { groupId, topic: values.topic, view, watch, intervalMs };
}

/** stdout text and stderr notice for one view of a document. */
function render(document: ConsumerGroupDocument, view: View): { out: string; notice: string | undefined } {
  const notice = groupStateNotice(document);
  switch (view) {
    case 'json':
      return { out: `${JSON.stringify(document, null, 2)}\n`, notice: undefined };
    case 'members':
      return { out: formatMembersTable(document), notice };
    case 'state':
      return { out: formatStateTable(document), notice };
    case 'offsets':
      return { out: `${formatOffsetsTable(document)}\n${formatSummary(document)}`, notice };
  }
}

async function describeOnce(admin: Admin, coordinators: CoordinatorFinder, options: Options): Promise<ConsumerGroupDocument> {
  // The coordinator costs one more connection; only the views that show it look it up.
  const needsCoordinator = options.view === 'state' || options.view === 'json';
  return describeConsumerGroup(admin, options.groupId, { topic: options.topic, ...(needsCoordinator ? { coordinators } : {}) });
}

async function runOnce(admin: Admin, coordinators: CoordinatorFinder, options: Options, brokers: string[]): Promise<number> {
  try {
    await admin.connect();
    const document = await describeOnce(admin, coordinators, options);
    const { out, notice } = render(document, options.view);
    if (notice !== undefined) process.stderr.write(`${notice}\n`);
    process.stdout.write(out);
    return 0;
  } catch (error) {
    process.stderr.write(`${errorLine(error, brokers)}\n`);
    return FAILURE_EXIT;
  }
}

const CLEAR_SCREEN = '\u001b[H\u001b[2J';
const MOVES_SHOWN = 20;

/**
 * Redraws every interval. On a terminal the screen is cleared and redrawn with the latest owner changes under
 * the table; into a pipe, each redraw whose content changed is printed and each owner change is printed once.
 */
async function runWatch(admin: Admin, coordinators: CoordinatorFinder, options: Options, brokers: string[]): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const moves: string[] = [];
  let owners: Map<string, string | null> | undefined;
  let lastDrawn = '';
  let stopping = false;
  let wake: (() => void) | undefined;

  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  while (!stopping) {
    const started = Date.now();
    let body: string;
    try {
      const document = await describeOnce(admin, coordinators, options);
      const next = partitionOwners(document);
      if (owners !== undefined) {
        for (const change of ownerChanges(owners, next)) {
          const line = `${new Date().toISOString()} ${change.partition}: ${change.from ?? '-'} → ${change.to ?? '-'}`;
          moves.push(line);
          if (!tty) process.stdout.write(`${line}\n`);
        }
      }
      owners = next;
      const { out, notice } = render(document, options.view);
      body = `${notice === undefined ? '' : `${notice.trimStart()}\n`}${out}`;
    } catch (error) {
      // Not an observation of the group: keep the last known owners, show the error, try again next time.
      const known = inspectionError(error, brokers);
      body = `${errorLine(known, brokers)}\n`;
      if (!(known instanceof GroupNotFoundError)) await admin.connect().catch(() => undefined);
    }
    if (stopping) break;
    const topicPart = options.topic === undefined ? '' : `, topic '${options.topic}'`;
    const heading = `Every ${options.intervalMs} ms: group '${options.groupId}'${topicPart}`;
    if (tty) {
      const recent = moves.slice(-MOVES_SHOWN);
      const history = recent.length === 0 ? '' : `\nOwner changes:\n${recent.join('\n')}\n`;
      process.stdout.write(`${CLEAR_SCREEN}${heading}  ${new Date().toISOString()}  (Ctrl-C to stop)\n${body}${history}`);
    } else if (body !== lastDrawn) {
      process.stdout.write(`${heading}  ${new Date().toISOString()}\n${body}\n`);
    }
    lastDrawn = body;
    const wait = Math.max(0, options.intervalMs - (Date.now() - started));
    await new Promise<void>((resolveWait) => {
      const timer = setTimeout(resolveWait, wait);
      wake = () => {
        clearTimeout(timer);
        resolveWait();
      };
    });
    wake = undefined;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const config = commandConfig();
  if (typeof config === 'number') return config;
  let options: Options | 'help';
  try {
    options = parseOptions(argv, config.defaultGroupId);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`Error: ${error.message}\n${USAGE}\n`);
    return USAGE_EXIT;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const kafka = commandKafka(config);
  const admin = kafka.admin();
  const coordinators = coordinatorFinder(kafka);
  try {
    if (!options.watch) return await runOnce(admin, coordinators, options, config.kafka.brokers);
    try {
      await admin.connect();
    } catch (error) {
      process.stderr.write(`${errorLine(error, config.kafka.brokers)}\n`);
      return FAILURE_EXIT;
    }
    return await runWatch(admin, coordinators, options, config.kafka.brokers);
  } finally {
    await Promise.allSettled([admin.disconnect(), coordinators.close()]);
  }
}

main(process.argv.slice(2)).then(exitSoon, (error: unknown) => {
  process.stderr.write(`Error: ${errorMessage(error)}\n`);
  exitSoon(FAILURE_EXIT);
});
