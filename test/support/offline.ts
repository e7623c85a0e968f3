/**
 * The real `serverless offline start` (osls + serverless-offline + serverless-esbuild) on free ports, as
 * serverless-offline's own end-to-end tests do: start it, wait for "Server ready", call real URLs.
 *
 * Each instance is isolated: its own esbuild work folder (another instance rebuilding the shared
 * `.esbuild` cannot swap a bundle under a loading worker) and no file watching (serverless-esbuild
 * rebuilds on any .js/.ts change and serverless-offline then ends its workers, so a request in flight
 * would hang into a 504 whenever a file is saved). The shipped Kafka-triggered function's mapping is off
 * unless a test turns it on (OFFLINE_KAFKA_ENABLED), so HTTP tests do not consume payment-done.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port';
import { REPO_ROOT, startProcess, type RunningProcess } from './processes';

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
  /** Start it as the README does, `npm start -- --httpPort … --lambdaPort …` (kafka:up first), not `npx serverless offline start`. */
  npmStart?: boolean;
}

export async function startOffline(options: OfflineOptions = {}): Promise<Offline> {
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  const workFolder = join('.esbuild', `offline-${randomBytes(5).toString('hex')}`);
  const removeWorkFolder = () => rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
  const ports = ['--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort), ...(options.args ?? [])];
  const child = startProcess(
    options.npmStart === true ? 'npm' : 'npx',
    options.npmStart === true ? ['start', '--', ...ports] : ['serverless', 'offline', 'start', ...ports],
    {
      FORCE_COLOR: '0',
      OFFLINE_KAFKA_ENABLED: 'false',
      ESBUILD_WORK_FOLDER: workFolder,
      ESBUILD_WATCH_PATTERN: '.esbuild/no-watch/**',
      ...options.env,
    },
  );
  try {
    await child.waitForOutput(/Server ready:/, options.readyTimeoutMs ?? 90_000);
  } catch (error) {
    await child.stop('SIGKILL');
    removeWorkFolder();
    throw error;
  }
  return {
    baseUrl: `http://localhost:${httpPort}`,
    httpPort,
    lambdaPort,
    process: child,
    stop: async () => {
      try {
        return await child.stop('SIGINT', 20_000);
      } finally {
        removeWorkFolder();
      }
    },
  };
}
