/**
 * npm run inspect-topic -- [topic] [--json]
 *
 * A topic's partitions with leader, replicas and in-sync replicas (as `kafka-topics --describe`) and earliest
 * and latest offsets (as `kafka-get-offsets --time -2 / -1`). The topic defaults to KAFKA_TOPIC (payment-done).
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../lib/errors';
import { FAILURE_EXIT, USAGE_EXIT, commandConfig, commandKafka, errorLine, exitSoon } from './support/cli';
import { formatTopicTable } from '../lib/inspection/table-format';
import { describeTopic } from '../lib/inspection/topic-inspection';

const USAGE = `usage: npm run inspect-topic -- [<topic>] [--json]

  <topic>      the topic (default: KAFKA_TOPIC, else payment-done)
  --json       one JSON document: topic, replicationFactor, partitions [{partition, leader, replicas, isr,
               earliestOffset, latestOffset, records}], records
  -h, --help   this text`;

async function main(argv: string[]): Promise<number> {
  const config = commandConfig();
  if (typeof config === 'number') return config;
  const parse = () =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`Error: ${errorMessage(error)}\n${USAGE}\n`);
    return USAGE_EXIT;
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    process.stderr.write(`Error: one topic at a time (got ${parsed.positionals.join(' ')})\n${USAGE}\n`);
    return USAGE_EXIT;
  }
  const topic = parsed.positionals[0] ?? config.defaultTopic;

  const admin = commandKafka(config).admin();
  try {
    await admin.connect();
    const description = await describeTopic(admin, topic);
    process.stdout.write(parsed.values.json === true ? `${JSON.stringify(description, null, 2)}\n` : formatTopicTable(description));
    return 0;
  } catch (error) {
    process.stderr.write(`${errorLine(error, config.kafka.brokers)}\n`);
    return FAILURE_EXIT;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(exitSoon, (error: unknown) => {
  process.stderr.write(`Error: ${errorMessage(error)}\n`);
  exitSoon(FAILURE_EXIT);
});
