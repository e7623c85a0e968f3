/**
 * Invoking a function through serverless-offline's own Lambda runner (`serverless-offline/lambda`), so
 * the handler path, the esbuild bundle (`custom.serverless-offline.location`), the environment, worker
 * threads and the function's `timeout` apply exactly as for its `http` events.
 */
import type Lambda from 'serverless-offline/lambda';
import type { KafkaEvent } from '../../../lib/consumer/lambda-event';

/**
 * The options serverless-offline itself would run with: its defaults for what the runner reads, then
 * `custom.serverless-offline` (where serverless-esbuild puts `location`), then the CLI flags. A companion
 * plugin is only handed the CLI flags, so it merges the rest itself.
 */
export function runnerOptions(custom: Record<string, unknown> | undefined, cliOptions: Record<string, unknown>): Record<string, unknown> {
  const fromService = custom?.['serverless-offline'];
  return {
    localEnvironment: false,
    noTimeout: false,
    reloadHandler: false,
    terminateIdleLambdaTime: 60,
    useDocker: false,
    useInProcess: false,
    dockerHost: 'localhost',
    dockerHostServicePath: null,
    dockerNetwork: null,
    dockerReadOnly: true,
    layersDir: null,
    localLayers: {},
    host: 'localhost',
    ...(typeof fromService === 'object' && fromService !== null ? fromService : {}),
    ...cliOptions,
  };
}

/** serverless-offline's timeout error has no name of its own: it is recognised by class name or message. */
export function isLambdaTimeout(error: unknown): boolean {
  return error instanceof Error && (error.constructor.name === 'LambdaTimeoutError' || /\[504\] - Lambda timeout/.test(error.message));
}

type OfflineLambda = typeof Lambda;

interface Generation {
  lambda: Lambda;
  inFlight: number;
  /** Set once a newer generation replaced this one: cleans it up when its last invocation settles. */
  retired: boolean;
}

export class OfflineRunner {
  readonly #create: () => Lambda;
  #current: Generation;
  readonly #retiring = new Set<Promise<void>>();

  private constructor(create: () => Lambda) {
    this.#create = create;
    this.#current = { lambda: create(), inFlight: 0, retired: false };
  }

  static async create(
    serverless: { service: { getFunction(key: string): unknown } },
    options: Record<string, unknown>,
    functionKeys: string[],
  ): Promise<OfflineRunner> {
    // serverless-offline is ESM only: a dynamic import from this CommonJS bundle.
    const { default: LambdaClass }: { default: OfflineLambda } = await import('serverless-offline/lambda');
    return new OfflineRunner(() => {
      const lambda = new LambdaClass(serverless, options);
      lambda.create(functionKeys.map((functionKey) => ({ functionKey, functionDefinition: serverless.service.getFunction(functionKey) })));
      return lambda;
    });
  }

  /**
   * Runs the function once with the event. Resolves with its result; rejects with its error, or with
   * serverless-offline's LambdaTimeoutError when it runs past its `timeout`.
   */
  invoke(functionKey: string, event: KafkaEvent): Promise<unknown> {
    const generation = this.#current;
    // get → setEvent → runHandler with no await in between: the pool hands out an IDLE instance and marks
    // it BUSY only in runHandler, so an await here would let two members share one instance.
    const instance = generation.lambda.get(functionKey);
    instance.setEvent(event);
    generation.inFlight += 1;
    return instance.runHandler().finally(() => {
      generation.inFlight -= 1;
      if (generation.retired && generation.inFlight === 0) this.#retire(generation);
    });
  }

  /**
   * serverless-esbuild rebuilt the handlers (offline:functionsUpdated): later invocations load the new
   * code in fresh workers; the old workers are terminated once the invocations they run have settled
   * (serverless-offline terminates its own at once, so an http request in flight ends in a 504).
   */
  reload(): void {
    const old = this.#current;
    this.#current = { lambda: this.#create(), inFlight: 0, retired: false };
    old.retired = true;
    if (old.inFlight === 0) this.#retire(old);
  }

  #retire(generation: Generation): void {
    const cleaning = generation.lambda.cleanup().catch(() => undefined);
    this.#retiring.add(cleaning);
    void cleaning.then(() => this.#retiring.delete(cleaning));
  }

  async cleanup(): Promise<void> {
    await Promise.all([this.#current.lambda.cleanup(), ...this.#retiring]);
  }
}
