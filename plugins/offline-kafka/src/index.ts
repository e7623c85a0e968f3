/**
 * offline-kafka: runs the `msk` and `kafka` events of serverless.yml under `serverless offline start`,
 * as AWS Lambda's event-source mappings run them: real consumer-group members poll the topic and invoke
 * the function through serverless-offline's runner with the event AWS sends.
 *
 * List it BEFORE serverless-offline in `plugins:`. Hooks of one lifecycle event run in plugin order, and
 * serverless-offline's own hooks block (ready waits for Ctrl-C) or end the process (end calls exit), so:
 *   offline:start:init  (before offline's)  validate every event; a bad one stops the start, naming it;
 *   offline:start:ready (before offline's)  HTTP is up: start the mappings in the background;
 *   offline:start:end   (before offline's)  Ctrl-C/SIGTERM: members finish their batch, commit, leave.
 *
 * It also declares the event settings it adds to osls's `msk`/`kafka` schemas (event-schema.ts), and on
 * `serverless package` checks them before bundling and writes them into the compiled template
 * (cloudformation.ts).
 */
import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../../../lib/config';
import { createKafka } from '../../../lib/kafka/client';
import { logger as sharedLogger } from '../../../lib/logger';
import { chooseLogFormat } from '../../../lib/log-format';
import { errorMessage } from '../../../lib/errors';
import { InvalidKafkaEventError, readMappings, readPluginSettings, type MappingSpec, type ServiceView } from './event-config';
import { createSchemaRegistryClient } from '../../../lib/schema-registry/registry-client';
import { createSchemaSerde, type SchemaSerde } from '../../../lib/schema-registry/schema-serde';
import { checkKafkaEvents, compileErrorHandling, compileSchemaRegistry, type CompiledTemplate } from './cloudformation';
import { defineKafkaEventProperties, type ConfigSchemaHandler } from './event-schema';
import { EventSourceMapping } from './event-source-mapping';
import { OfflineRunner, runnerOptions } from './offline-runner';
import { quietPagePolling } from './quiet-polling';

interface Serverless {
  service: ServiceView & { provider: { compiledCloudFormationTemplate?: CompiledTemplate } };
  classes?: { Error?: new (message: string, code?: string) => Error };
  configSchemaHandler?: ConfigSchemaHandler;
  getProvider?: (name: 'aws') => { naming: { getLambdaLogicalId(functionKey: string): string } } | undefined;
}

/** How long Ctrl-C waits for members to finish their batch and leave before offline exits anyway. */
const STOP_TIMEOUT_MS = 10_000;
/** How long the start-up topic check may take; a broker that does not answer by then is checked later. */
const TOPIC_CHECK_TIMEOUT_MS = 3_000;

const log = sharedLogger.createChild({ persistentKeys: { component: 'offline-kafka' } });

export default class OfflineKafkaPlugin {
  readonly hooks: Record<string, () => Promise<void>>;
  readonly #serverless: Serverless;
  readonly #cliOptions: Record<string, unknown>;
  #config: Config | undefined;
  #specs: MappingSpec[] = [];
  #mappings: EventSourceMapping[] = [];
  #runner: OfflineRunner | undefined;
  #stopped: Promise<void> | undefined;

  constructor(serverless: Serverless, cliOptions: Record<string, unknown> = {}) {
    this.#serverless = serverless;
    this.#cliOptions = cliOptions;
    defineKafkaEventProperties(serverless.configSchemaHandler);
    this.hooks = {
      // Before offline's init, and before serverless-esbuild's watchers start when listed before it.
      'before:offline:start:init': () => this.#init(),
      'offline:start:ready': () => this.#ready(),
      'offline:start:end': () => this.#end(),
      // serverless-esbuild rebuilt after a source change: run the new code, as serverless-offline does.
      'offline:functionsUpdated:cleanup': async () => this.#reload(),
      // `serverless offline` (no `start`): serverless-offline runs everything inside one hook and exits on
      // its own; the mappings start, but leaving the group on Ctrl-C is only best effort there.
      'before:offline:start': () => this.#init(),
      'offline:start': () => this.#startWithoutLifecycle(),
      // `serverless package` / `deploy`: refuse bad settings before bundling, then complete the template.
      'before:package:createDeploymentArtifacts': async () => this.#checkForPackage(),
      'after:package:compileEvents': async () => this.#compileForPackage(),
    };
  }

  /** A serverless error stops the command with a plain message (no stack trace). */
  #fail(error: unknown): never {
    // serverless-esbuild's file watchers (started in its before:offline:start:init when it is listed
    // first) keep the process alive after osls has printed the error: make sure the start really stops.
    setTimeout(() => process.exit(1), 3_000).unref();
    const ServerlessError = this.#serverless.classes?.Error;
    const message =
      error instanceof InvalidKafkaEventError && error.functionKey !== undefined
        ? `offline-kafka: invalid Kafka event for function '${error.functionKey}': ${error.message}`
        : `offline-kafka: ${errorMessage(error)}`;
    if (ServerlessError !== undefined) throw new ServerlessError(message, 'OFFLINE_KAFKA_INVALID_EVENT');
    throw new Error(message);
  }

  #checkForPackage(): void {
    try {
      checkKafkaEvents(this.#serverless.service);
    } catch (error) {
      this.#fail(error);
    }
  }

  #compileForPackage(): void {
    const template = this.#serverless.service.provider.compiledCloudFormationTemplate;
    const naming = this.#serverless.getProvider?.('aws')?.naming;
    if (template === undefined || naming === undefined) return;
    try {
      compileErrorHandling(this.#serverless.service, template, (functionKey) => naming.getLambdaLogicalId(functionKey));
      compileSchemaRegistry(this.#serverless.service, template, (functionKey) => naming.getLambdaLogicalId(functionKey));
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * serverless-offline runs handlers in worker threads whose stdout is never a terminal: hand them this
   * process's log format (pretty on a terminal), unless LOG_FORMAT already says which.
   */
  #handLogFormatDown(config: Config): void {
    const provider = this.#serverless.service.provider;
    const environment = provider.environment ?? {};
    const given = environment.LOG_FORMAT;
    if (typeof given === 'string' && given.trim() !== '') return;
    provider.environment = { ...environment, LOG_FORMAT: chooseLogFormat(config.logFormat, process.stdout.isTTY === true) };
  }

  /**
   * KAFKA_SASL_PASSWORD is left out of serverless.yml so that `serverless package`/`deploy` never write it into
   * the functions' configuration in the template. serverless-offline's handler workers get only the service's
   * environment, not this process's: under `offline start` the password is added to it here, in memory.
   */
  #handSecretsDown(): void {
    const password = process.env.KAFKA_SASL_PASSWORD;
    if (password === undefined || password === '') return;
    const provider = this.#serverless.service.provider;
    provider.environment = { ...(provider.environment ?? {}), KAFKA_SASL_PASSWORD: password };
  }

  #quiet = false;

  /** The live page's once-a-second polling stays out of the terminal (see quiet-polling.ts). */
  #quietPagePolling(): void {
    if (this.#quiet) return;
    this.#quiet = true;
    quietPagePolling(process.stdout);
    quietPagePolling(process.stderr);
  }

  async #init(): Promise<void> {
    try {
      this.#config = loadConfig(process.env);
      this.#handLogFormatDown(this.#config);
      this.#handSecretsDown();
      this.#quietPagePolling();
      this.#specs = readMappings(this.#serverless.service, this.#config);
    } catch (error) {
      this.#fail(error);
    }
    const settings = readPluginSettings(this.#serverless.service.custom);
    if (!settings.enabled && this.#specs.length > 0) {
      // Said once, so that a start with OFFLINE_KAFKA_ENABLED=false is not mistaken for mappings that hang.
      log.info('event source mappings off (custom.offlineKafka.enabled is false, e.g. OFFLINE_KAFKA_ENABLED=false)', {
        mappings: this.#specs.length,
      });
    }
    for (const spec of this.#specs.filter((candidate) => !candidate.enabled)) {
      log.info('event source mapping disabled', { mapping: spec.id, function: spec.functionKey, topic: spec.topic });
    }
    if (settings.checkTopics) await this.#checkTopics(this.#specs.filter((spec) => spec.enabled));
  }

  /** A topic that does not exist is an invalid event; a broker that does not answer is not (it may come up later). */
  async #checkTopics(specs: MappingSpec[]): Promise<void> {
    const config = this.#config;
    if (config === undefined) return;
    const byBrokers = new Map<string, MappingSpec[]>();
    for (const spec of specs) {
      const key = spec.brokers.join(',');
      byBrokers.set(key, [...(byBrokers.get(key) ?? []), spec]);
    }
    for (const [brokers, group] of byBrokers) {
      const kafka = createKafka({ ...config.kafka, brokers: brokers.split(','), connectionTimeoutMs: 1_000, retries: 0 }, log);
      const admin = kafka.admin();
      let topics: string[];
      try {
        const listing = (async () => {
          await admin.connect();
          return admin.listTopics();
        })();
        const timeout = new Promise<never>((_, reject) => {
          setTimeout(() => reject(new Error(`no answer within ${TOPIC_CHECK_TIMEOUT_MS} ms`)), TOPIC_CHECK_TIMEOUT_MS).unref();
        });
        topics = await Promise.race([listing, timeout]);
      } catch (error) {
        log.warn('broker not reachable: topics not checked, the mappings will retry', { brokers, error: errorMessage(error) });
        continue;
      } finally {
        void admin.disconnect().catch(() => undefined);
      }
      const missing = group.find((spec) => !topics.includes(spec.topic));
      if (missing !== undefined) {
        this.#fail(
          new InvalidKafkaEventError(`${missing.path}.topic`, `topic '${missing.topic}' does not exist on ${brokers}`, missing.functionKey),
        );
      }
      // AWS requires a kafka:// on-failure topic to exist in the source's cluster.
      for (const spec of group) {
        const destination = spec.errorHandling.onFailure;
        if (destination?.kind === 'kafka' && !topics.includes(destination.topic)) {
          this.#fail(
            new InvalidKafkaEventError(
              `${spec.path}.onFailureDestination`,
              `topic '${destination.topic}' does not exist on ${brokers}; the on-failure topic must exist in the same cluster`,
              spec.functionKey,
            ),
          );
        }
      }
    }
  }

  async #ready(): Promise<void> {
    const config = this.#config;
    const enabled = this.#specs.filter((spec) => spec.enabled);
    if (config === undefined || enabled.length === 0) return;
    const functionKeys = [...new Set(enabled.map((spec) => spec.functionKey))];
    const options = runnerOptions(this.#serverless.service.custom, this.#cliOptions);
    const runner = await OfflineRunner.create(this.#serverless, options, functionKeys);
    this.#runner = runner;
    const kafkaByBrokers = new Map<string, Kafka>();
    // One registry client per local registry the mappings' schemaRegistryURIs resolve to (shared schema cache).
    const serdes = new Map<string, SchemaSerde>();
    const serdeFor = (url: string): SchemaSerde => {
      let serde = serdes.get(url);
      if (serde === undefined) {
        serde = createSchemaSerde(createSchemaRegistryClient({ ...config.schemaRegistry, url }));
        serdes.set(url, serde);
      }
      return serde;
    };
    for (const spec of enabled) {
      const key = spec.brokers.join(',');
      let kafka = kafkaByBrokers.get(key);
      if (kafka === undefined) {
        kafka = createKafka({ ...config.kafka, brokers: spec.brokers }, log);
        kafkaByBrokers.set(key, kafka);
      }
      const schemaSerde = spec.schemaRegistry === undefined ? undefined : serdeFor(spec.schemaRegistry.localUrl);
      const mapping = new EventSourceMapping({
        spec,
        kafka,
        logger: log,
        consume: config.consume,
        invoke: (functionKey, event) => runner.invoke(functionKey, event),
        ...(schemaSerde === undefined ? {} : { schemaSerde }),
      });
      this.#mappings.push(mapping);
      mapping.start();
    }
  }

  #reload(): void {
    if (this.#runner === undefined) return;
    this.#runner.reload();
    log.info('functions rebuilt: the next invocations run the new code', { mappings: this.#mappings.map((mapping) => mapping.spec.id) });
  }

  /** Stops every mapping (finish, commit, leave) within STOP_TIMEOUT_MS, then frees the runner's workers. */
  #end(): Promise<void> {
    this.#stopped ??= this.#stopAll();
    return this.#stopped;
  }

  async #stopAll(): Promise<void> {
    if (this.#mappings.length === 0) return;
    log.info('stopping event source mappings', { mappings: this.#mappings.map((mapping) => mapping.spec.id) });
    const stopping = Promise.all(
      this.#mappings.map(async (mapping) => {
        const summaries = await mapping.stop();
        log.info('event source mapping stopped', {
          mapping: mapping.spec.id,
          groupId: mapping.spec.groupId,
          recordsProcessed: summaries.reduce((sum, summary) => sum + summary.recordsProcessed, 0),
          batches: summaries.reduce((sum, summary) => sum + summary.batches, 0),
          retries: summaries.reduce((sum, summary) => sum + summary.retries, 0),
          sentToDestination: summaries.reduce((sum, summary) => sum + summary.sentToDestination, 0),
          discarded: summaries.reduce((sum, summary) => sum + summary.discarded, 0),
        });
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([stopping.then(() => 'stopped' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      log.warn('event source mappings did not stop in time; the broker drops their members after the session timeout', {
        timeoutMs: STOP_TIMEOUT_MS,
      });
    }
    await this.#runner?.cleanup().catch((error: unknown) => log.warn('lambda runner cleanup failed', { error: errorMessage(error) }));
  }

  async #startWithoutLifecycle(): Promise<void> {
    await this.#ready();
    const onSignal = (signal: NodeJS.Signals) => {
      // A signal that came before serverless-offline listened for it: nobody else will end the process.
      const alone = process.listenerCount(signal) === 0;
      void this.#end().then(() => {
        if (alone) process.exit(0);
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
}
