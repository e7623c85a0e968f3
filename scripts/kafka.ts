/**
 * npm run kafka:up | kafka:down [-- --wipe] | kafka:status | kafka -- <tool> [args…]
 * See scripts/local-kafka/index.ts for how the mode is chosen.
 */
import { kafkaDown, kafkaStatus, kafkaUp, NODE_COUNTS, optionsFromEnv, readState } from './local-kafka/index';
import { ensureJars } from './local-kafka/jars';
import { knownTools, runTool } from './local-kafka/tools';
import { jarsDir, kafkaRelease } from './local-kafka/versions';

const usage = () => `usage:
  npm run kafka:up                 start Kafka (KAFKA_VERSION, default 3.7.1; or find it running) and create the tutorial's topics
  npm run kafka:up -- --brokers 3  … a cluster of three brokers on KAFKA_PORT, +1, +2 (controllers on +3, +4, +5)
  npm run kafka:down [-- --wipe]   stop what kafka:up started; --wipe also deletes its data
  npm run kafka:status             what runs where
  npm run kafka:jars               fetch Kafka's jars with Maven (kafka:up does it when needed)
  npm run kafka -- <tool> [args]   run one of Kafka's own tools: ${knownTools().join(', ')}`;

/** kafka:up's arguments: nothing, or `--brokers N` (also `--brokers=N`). A string is what was wrong. */
function brokersArgument(args: string[]): number | undefined | string {
  if (args.length === 0) return undefined;
  const [flag = '', value] = args[0]?.includes('=') ? (args[0].split('=', 2) as [string, string]) : [args[0], args[1]];
  const consumed = args[0]?.includes('=') ? 1 : 2;
  if (flag !== '--brokers' || args.length > consumed) return `unknown argument: ${args.join(' ')}`;
  if (value === undefined || !/^\d+$/.test(value) || !NODE_COUNTS.includes(Number(value))) {
    return `--brokers: expected one of ${NODE_COUNTS.join(', ')}, got '${value ?? ''}'`;
  }
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = optionsFromEnv();
  switch (command) {
    case 'up': {
      const nodeCount = brokersArgument(rest);
      if (typeof nodeCount === 'string') {
        console.error(`${nodeCount}\n${usage()}`);
        return 2;
      }
      await kafkaUp({ ...options, nodeCount });
      return 0;
    }
    case 'down': {
      const unknown = rest.filter((arg) => arg !== '--wipe');
      if (unknown.length > 0) {
        console.error(`unknown argument: ${unknown.join(' ')}\n${usage()}`);
        return 2;
      }
      await kafkaDown(options, rest.includes('--wipe'));
      return 0;
    }
    case 'jars':
      await ensureJars();
      console.log(`Kafka ${kafkaRelease().version} jars are in ${jarsDir(kafkaRelease())}`);
      return 0;
    case 'status':
      return (await kafkaStatus(options)) ? 0 : 1;
    case 'tool': {
      const [tool, ...args] = rest;
      if (tool === undefined || tool === '--help' || tool === '-h') {
        console.error(usage());
        return tool === undefined ? 2 : 0;
      }
      const state = readState(options.port);
      const docker = state?.mode === 'docker' && !options.brokers;
      return runTool(tool, args, { docker, port: options.port, nodes: state?.nodes?.length ?? 1 });
    }
    default:
      console.error(usage());
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
