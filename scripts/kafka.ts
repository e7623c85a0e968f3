/**
 * npm run kafka:up | kafka:down [-- --wipe] | kafka:status | kafka -- <tool> [args…]
 * See scripts/local-kafka/index.ts for how the mode is chosen.
 */
import { relative } from 'node:path';
import { kafkaDown, kafkaStatus, kafkaUp, type LocalKafkaOptions, NODE_COUNTS, optionsFromEnv, readState } from './local-kafka/index';
import { ensureJars } from './local-kafka/jars';
import { REPO_ROOT } from './local-kafka/paths';
import { isSecureInstance, prepareSecureBroker, redact, secureEnvFile, writeSecureEnv } from './local-kafka/secure';
import { knownTools, runTool } from './local-kafka/tools';
import { jarsDir, kafkaRelease } from './local-kafka/versions';
import { errorMessage } from '../lib/errors';

const usage = () => `usage:
  npm run kafka:up                 start Kafka (KAFKA_VERSION, default 3.7.1; or find it running) and create the tutorial's topics
  npm run kafka:up -- --brokers 3  … a cluster of three brokers on KAFKA_PORT, +1, +2 (controllers on +3, +4, +5)
  npm run kafka:up -- --secure     … one broker with a SASL_SSL (SCRAM-SHA-512) listener; client settings in .kafka/secure.env
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

const shortPath = (path: string) => relative(REPO_ROOT, path) || '.';

/**
 * kafka:up --secure: one JVM broker on KAFKA_PORT with a SASL_SSL listener. The checks kafka:up makes (metadata,
 * the tutorial's topics) connect the way any client of it must, with the settings it then writes to secure.env.
 */
async function secureKafkaUp(options: LocalKafkaOptions): Promise<void> {
  const { port, say } = options;
  const prepared = await prepareSecureBroker(port, say);
  Object.assign(process.env, prepared.clientEnv);
  try {
    await kafkaUp({ ...options, brokers: undefined, forcedMode: 'jvm', nodeCount: 1, security: prepared.security });
  } catch (error) {
    throw new Error(redact(errorMessage(error), prepared.security.secrets));
  }
  const file = writeSecureEnv(port, prepared.clientEnv);
  say(
    `SASL_SSL (SCRAM-SHA-512) at localhost:${port}, user ${prepared.clientEnv.KAFKA_SASL_USERNAME}; client settings in ${shortPath(file)}:`,
  );
  say(`  set -a; . ${shortPath(file)}; set +a; npm start`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = optionsFromEnv();
  switch (command) {
    case 'up': {
      const secure = rest.includes('--secure');
      const nodeCount = brokersArgument(rest.filter((arg) => arg !== '--secure'));
      if (typeof nodeCount === 'string' || (secure && nodeCount !== undefined && nodeCount !== 1)) {
        console.error(`${typeof nodeCount === 'string' ? nodeCount : '--secure starts one broker (no --brokers)'}\n${usage()}`);
        return 2;
      }
      if (secure) {
        await secureKafkaUp(options);
        return 0;
      }
      if (options.brokers === undefined && isSecureInstance(options.port)) {
        throw new Error(
          `the broker kafka:up runs on port ${options.port} is the secured one (kafka:up -- --secure): load its client settings with ` +
            `\`set -a; . ${shortPath(secureEnvFile(options.port))}; set +a\`, or run \`npm run kafka:up -- --secure\``,
        );
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
    console.error(`error: ${errorMessage(error)}`);
    process.exitCode = 1;
  },
);
