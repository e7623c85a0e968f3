/**
 * npm run consume -- [--group my-app3] [--topic payment-done] [--duration 60] [--max-records N] [--from-beginning|--from-latest]
 *
 * One member of the consumer group in this terminal, as in the tutorial's three terminals: it logs each
 * record (JSON lines), runs until Ctrl-C (or --duration / --max-records), then finishes the batch in
 * hand, commits, leaves the group and prints a summary. Exit code 1 when the member could not go on (its
 * on-failure destination refused records, or it could not start or crashed).
 */
import { createKafka } from '../lib/kafka/client';
import { parseArgs } from 'node:util';
import { getConfig } from '../lib/config';
import { logger } from '../lib/logger';
import { errorMessage } from '../lib/errors';
import { describeSummary, loadRecordProcessor, parseConsumeRequest, runConsumeSession } from '../lib/consumer/consume-session';
import { processRecords } from '../functions/record-handler';

const USAGE =
  'usage: npm run consume -- [--group ID] [--topic NAME] [--duration SECONDS] [--max-records N] [--from-beginning|--from-latest]';

function numberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new Error(`--${name} expects a number, got '${raw}'`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      group: { type: 'string' },
      topic: { type: 'string' },
      duration: { type: 'string' },
      'max-records': { type: 'string' },
      'from-beginning': { type: 'boolean' },
      'from-latest': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values['from-beginning'] === true && values['from-latest'] === true)
    throw new Error('--from-beginning and --from-latest exclude each other');
  const config = getConfig();
  const request = parseConsumeRequest(
    {
      groupId: values.group,
      topic: values.topic,
      durationSeconds: numberOption('duration', values.duration),
      maxRecords: numberOption('max-records', values['max-records']),
      fromBeginning: values['from-latest'] === true ? false : undefined,
    },
    config,
    undefined,
  );
  const processor = await loadRecordProcessor(config, processRecords);
  // npm runs this script in a child process: this pid, not npm's, is the member (kill -9 <pid> in the README).
  logger.info('member process started', { pid: process.pid, groupId: request.groupId, topic: request.topic });
  const summary = await runConsumeSession(request, {
    kafka: createKafka(config.kafka, logger),
    logger,
    config,
    processor,
    handleSignals: true,
  });
  console.log(`summary: ${describeSummary(summary)}`);
  console.log(`summary: ${JSON.stringify(summary)}`);
  return summary.stoppedBecause === 'failed' ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`consume: ${errorMessage(error)}`);
    console.error(USAGE);
    process.exitCode = 2;
  },
);
