/**
 * `serverless offline start` for the benchmarks, on free ports, in its own process group, with its own
 * esbuild work folder and no file watching (a file saved meanwhile would end its workers mid-run).
 * A service file other than serverless.yml is copied to the repository's root (osls resolves --config there).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './free-port';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export interface BenchOffline {
  baseUrl: string;
  /** Everything offline printed so far (its handlers' log lines included). */
  output: () => string;
  /** Resolves when `check` returns a value for the output so far; rejects after timeoutMs. */
  waitFor: <T>(what: string, check: (output: string) => T | undefined, timeoutMs: number) => Promise<T>;
  /** Ctrl-C (SIGINT) to the whole process group and wait for the exit (SIGKILL after 20 s). */
  stop: () => Promise<void>;
}

const SERVERLESS = resolve(REPO_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');

export interface BenchOfflineOptions {
  /** A service file instead of serverless.yml (relative to the root). */
  serviceFile?: string;
  env: NodeJS.ProcessEnv;
  args?: string[];
  /** Node options for offline and its worker threads (they inherit them), e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
}

export async function startBenchOffline(options: BenchOfflineOptions): Promise<BenchOffline> {
  const id = randomBytes(4).toString('hex');
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  const workFolder = join('.esbuild', `bench-${id}`);
  const config = options.serviceFile === undefined ? undefined : `.bench-${id}.yml`;
  if (options.serviceFile !== undefined && config !== undefined)
    copyFileSync(resolve(REPO_ROOT, options.serviceFile), join(REPO_ROOT, config));
  const removeFiles = () => {
    rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
    if (config !== undefined) rmSync(join(REPO_ROOT, config), { force: true });
  };
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      SERVERLESS,
      'offline',
      'start',
      ...(config === undefined ? [] : ['--config', config]),
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      ...(options.args ?? []),
    ],
    {
      cwd: REPO_ROOT,
      detached: true,
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        OFFLINE_KAFKA_ENABLED: 'false',
        ESBUILD_WORK_FOLDER: workFolder,
        ESBUILD_WATCH_PATTERN: '.esbuild/no-watch/**',
        ...options.env,
      },
    },
  );
  let output = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters) wake();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<void>((resolveExit) =>
    child.once('exit', () => {
      exited = true;
      for (const wake of waiters) wake();
      resolveExit();
    }),
  );
  const waitFor = <T>(what: string, check: (text: string) => T | undefined, timeoutMs: number) =>
    new Promise<T>((resolveWait, reject) => {
      const finish = (error?: Error, value?: T) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (error !== undefined) reject(error);
        else resolveWait(value as T);
      };
      const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms:\n${output.slice(-3000)}`)), timeoutMs);
      const wake = () => {
        const value = check(output);
        if (value !== undefined) finish(undefined, value);
        else if (exited) finish(new Error(`offline exited before ${what}:\n${output.slice(-3000)}`));
      };
      waiters.add(wake);
      wake();
    });
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      const killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 20_000);
      signalGroup(child.pid, 'SIGINT');
      await exit;
      clearTimeout(killer);
    }
    removeFiles();
  };
  try {
    await waitFor('"Server ready"', (text) => (text.includes('Server ready:') ? true : undefined), 120_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl: `http://127.0.0.1:${httpPort}`, output: () => output, waitFor, stop };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Every JSON object line of a process's output (Powertools logs as data). */
export function jsonLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) return [];
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return typeof parsed === 'object' && parsed !== null ? [parsed as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
