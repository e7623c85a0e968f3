/**
 * The real `serverless offline start` (osls + serverless-offline + serverless-esbuild) on free ports, as
 * serverless-offline's own end-to-end tests do: start it, wait for "Server ready", call real URLs.
 */
import { freePort } from './free-port';
import { startProcess, type RunningProcess } from './processes';

export interface Offline {
  /** e.g. http://localhost:40123 — routes are not stage-prefixed (noPrependStageInUrl). */
  baseUrl: string;
  httpPort: number;
  lambdaPort: number;
  process: RunningProcess;
  /** Ctrl-C (SIGINT) and wait for the exit. */
  stop: () => Promise<number | string>;
}

export interface OfflineOptions {
  /** Extra environment for offline and the handlers it runs (KAFKA_BROKERS is the suite's already). */
  env?: NodeJS.ProcessEnv;
  /** Extra CLI arguments, e.g. ['--config', 'test/fixtures/other.yml']. */
  args?: string[];
  readyTimeoutMs?: number;
}

export async function startOffline(options: OfflineOptions = {}): Promise<Offline> {
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  const child = startProcess(
    'npx',
    ['serverless', 'offline', 'start', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort), ...(options.args ?? [])],
    { FORCE_COLOR: '0', ...options.env },
  );
  try {
    await child.waitForOutput(/Server ready:/, options.readyTimeoutMs ?? 90_000);
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
  return {
    baseUrl: `http://localhost:${httpPort}`,
    httpPort,
    lambdaPort,
    process: child,
    stop: () => child.stop('SIGINT', 20_000),
  };
}
