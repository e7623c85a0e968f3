/**
 * npm run registry:up | registry:down | registry:status
 * A local Confluent-compatible schema registry (scripts/local-registry), or a check of the one in
 * SCHEMA_REGISTRY_URL when that is set.
 */
import { loadConfig } from '../lib/config';
import { registryAnswers, registryDown, registryUp, runningRegistryPid } from './local-registry/registry';
import { errorMessage } from '../lib/errors';

const USAGE = `usage:
  npm run registry:up       start the local schema registry (or find it running) and print its base URL
  npm run registry:down     stop it (its schemas are kept in memory only)
  npm run registry:status   what runs where`;

async function main(command: string | undefined): Promise<number> {
  const { schemaRegistry } = loadConfig();
  const { port } = schemaRegistry;
  const external = schemaRegistry.external ? schemaRegistry.url : undefined;
  switch (command) {
    case 'up':
      if (external) {
        console.log(`SCHEMA_REGISTRY_URL is set: checking ${external}/subjects…`);
        if (!(await registryAnswers(external))) throw new Error(`the schema registry at ${external} does not answer GET /subjects`);
        console.log(`ready: schema registry base URL ${external}`);
        return 0;
      }
      await registryUp(port);
      return 0;
    case 'down':
      if (external) console.log(`SCHEMA_REGISTRY_URL is set (${external}): that registry is not ours to stop`);
      await registryDown(port);
      return 0;
    case 'status': {
      const url = schemaRegistry.url;
      const pid = runningRegistryPid(port);
      const answers = await registryAnswers(url);
      if (external) console.log(`external schema registry (SCHEMA_REGISTRY_URL): ${url}`);
      else if (pid !== undefined) console.log(`local schema registry: pid ${pid}, port ${port}`);
      else console.log(`no schema registry started by registry:up on port ${port}`);
      console.log(`${url}: ${answers ? 'answers' : 'does not answer'}`);
      return answers ? 0 : 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`error: ${errorMessage(error)}`);
    process.exitCode = 1;
  },
);
