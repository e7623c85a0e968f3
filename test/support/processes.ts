/** Starting the commands users run (npm scripts, serverless) as real processes and waiting on their output. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export interface RunningProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything printed so far on stdout and stderr. */
  output: () => string;
  stdout: () => string;
  /** What it printed on stderr (Powertools prints WARN and above there). */
  stderr: () => string;
  /** Resolves when the output matches, rejects after timeoutMs or when the process exits first. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends a signal and waits for the exit (SIGKILL after timeoutMs). */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | string>;
}

/**
 * Starts a command in its own process group (so a stop reaches npm's children too), with the test's
 * KAFKA_BROKERS in its environment. `env` is laid over the test's environment; a variable set to undefined
 * there is left out (spawn skips undefined values).
 */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    detached: true,
  });
  // A command that is not installed is an exit like any other, reported with its reason.
  let spawnError = '';
  child.on('error', (error) => {
    spawnError = `${error.message}\n`;
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    notify();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    notify();
  });
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => {
      resolveExit(code ?? signal ?? 'unknown');
      notify();
    });
    child.on('error', () => {
      resolveExit('spawn failed');
      notify();
    });
  });
  let exitValue: number | string | undefined;
  void exited.then((value) => {
    exitValue = value;
  });
  const output = () => stdout + stderr + spawnError;

  const waitForOutput = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolveMatch, reject) => {
      const check = () => {
        const match = output().match(pattern);
        if (match) {
          cleanup();
          resolveMatch(match);
        } else if (exitValue !== undefined) {
          cleanup();
          reject(new Error(`process exited (${exitValue}) before printing ${pattern}:\n${output().slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output().slice(-4000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) => {
    if (exitValue !== undefined) return exitValue;
    const pid = child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, signal);
      } catch {
        /* already gone */
      }
    }
    const timer = setTimeout(() => {
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, timeoutMs);
    const value = await exited;
    clearTimeout(timer);
    return value;
  };

  return { child, output, stdout: () => stdout, stderr: () => stderr, waitForOutput, exited, stop };
}

export interface Finished {
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Laid over the test's environment; undefined leaves a variable out. */
  env?: NodeJS.ProcessEnv;
  /** Written to the command's standard input, which is then closed (closed empty when not given). */
  input?: string;
  /** The command is killed (SIGKILL to its process group) after this long. */
  timeoutMs?: number;
}

/** Runs a command to its end (bounded), e.g. `npm run -s inspect-group -- --json`, and returns its exit and output. */
export async function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  const child = startProcess(command, args, options.env);
  child.child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => void child.stop('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await child.exited;
  // 'exit' can come before the last output: wait until both streams are closed.
  await Promise.all([child.child.stdout, child.child.stderr].map((stream) => (stream.closed ? undefined : once(stream, 'close'))));
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** One of Kafka's own tools, `npm run kafka -- <tool> <args>`: a client that is not ours, from the project's jars. */
export function runKafkaTool(tool: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  return runCommand('npm', ['run', '-s', 'kafka', '--', tool, ...args], options);
}

export type LogLine = Record<string, unknown> & { message?: unknown };

/** Every JSON object line of a process's output (Powertools logs as data, fixture handlers' lines). */
export function jsonLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'object' && parsed !== null) lines.push(parsed as LogLine);
    } catch {
      // not a whole JSON line
    }
  }
  return lines;
}
