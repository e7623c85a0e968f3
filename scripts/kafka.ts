/**
 * npm run kafka:up | kafka:down [-- --wipe] | kafka:status | kafka -- <tool> [args…]
 * See scripts/local-kafka/index.ts for how the mode is chosen.
 */
import { kafkaDown, kafkaStatus, kafkaUp, optionsFromEnv, readState } from './local-kafka/index';
import { ensureJars } from './local-kafka/jars';
import { JARS_DIR } from './local-kafka/paths';
import { knownTools, runTool } from './local-kafka/tools';

const USAGE = `usage:
  npm run kafka:up                 start Kafka 3.7.1 (or find it running) and create the tutorial's topics
  npm run kafka:down [-- --wipe]   stop what kafka:up started; --wipe also deletes its data
  npm run kafka:status             what runs where
  npm run kafka:jars               fetch Kafka's jars with Maven (kafka:up does it when needed)
  npm run kafka -- <tool> [args]   run one of Kafka's own tools: ${knownTools().join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = optionsFromEnv();
  switch (command) {
    case 'up':
      await kafkaUp(options);
      return 0;
    case 'down': {
      const unknown = rest.filter((arg) => arg !== '--wipe');
      if (unknown.length > 0) {
        console.error(`unknown argument: ${unknown.join(' ')}\n${USAGE}`);
        return 2;
      }
      await kafkaDown(options, rest.includes('--wipe'));
      return 0;
    }
    case 'jars':
      await ensureJars();
      console.log(`Kafka jars are in ${JARS_DIR}`);
      return 0;
    case 'status':
      return (await kafkaStatus(options)) ? 0 : 1;
    case 'tool': {
      const [tool, ...args] = rest;
      if (tool === undefined || tool === '--help' || tool === '-h') {
        console.error(USAGE);
        return tool === undefined ? 2 : 0;
      }
      const docker = readState(options.port)?.mode === 'docker' && !options.brokers;
      return runTool(tool, args, { docker, port: options.port });
    }
    default:
      console.error(USAGE);
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
