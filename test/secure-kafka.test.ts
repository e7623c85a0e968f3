/**
 * `npm run kafka:up -- --secure` on free ports beside the suite's broker: a SASL_SSL (SCRAM-SHA-512) listener
 * with a CA made on the spot, and the client settings in a file. Everything a user does with it runs as the
 * user runs it, with that file loaded: `npm start` (kafka:up in existing-cluster mode, POST /produce, the
 * shipped Kafka-triggered function), Kafka's own tools through `npm run kafka --`, `npm run consume`,
 * `npm run inspect-group`. A wrong password fails fast and says so; no secret reaches any log.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceDir } from '../scripts/local-kafka/paths';
import { secureEnvFile } from '../scripts/local-kafka/secure';
import { freePort, freePortPair } from './support/free-port';
import { uniqueName } from './support/kafka';
import { type Finished, jsonLines, REPO_ROOT, type RunningProcess, runCommand, startProcess } from './support/processes';
import { waitFor } from './support/wait';

const CLIENT_SETTINGS = [
  'KAFKA_BROKERS',
  'KAFKA_SSL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
];

/** The variables of a `NAME=value` file (comments and blank lines left out). */
function readEnvFile(file: string): Record<string, string> {
  const entries = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
  return Object.fromEntries(entries);
}

/** Every file under a folder whose name says it is a log. */
function logFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return logFiles(path);
    return /\.log$|\.out$/.test(entry.name) ? [path] : [];
  });
}

describe('npm run kafka:up -- --secure', () => {
  let port: number;
  /** The client settings as kafka:up wrote them, over an environment with no other Kafka settings. */
  let secureEnv: NodeJS.ProcessEnv;
  const outputs: string[] = [];
  const topic = uniqueName('secure');
  const group = uniqueName('secure-consume');
  const handlerGroup = uniqueName('secure-handler');
  let start: RunningProcess | undefined;
  let baseUrl: string;

  const run = async (command: string, args: string[], env: NodeJS.ProcessEnv = secureEnv, timeoutMs = 120_000): Promise<Finished> => {
    const result = await runCommand(command, args, { env, timeoutMs });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const kafkaTool = (tool: string, args: string[]) =>
    run('npm', ['run', '-s', 'kafka', '--', tool, '--bootstrap-server', `localhost:${port}`, ...args]);

  beforeAll(async () => {
    port = await freePortPair();
    const up = await run(
      'npm',
      ['run', '-s', 'kafka:up', '--', '--secure'],
      { KAFKA_PORT: String(port), KAFKA_BROKERS: undefined, KAFKA_MODE: undefined, KAFKA_CONTROLLER_PORT: undefined },
      300_000,
    );
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain(`SASL_SSL (SCRAM-SHA-512) at localhost:${port}`);
    secureEnv = { KAFKA_PORT: undefined, KAFKA_MODE: undefined, ...readEnvFile(secureEnvFile(port)) };
  }, 320_000);

  afterAll(async () => {
    await start?.stop('SIGINT');
    if (start !== undefined) outputs.push(start.output());
    await runCommand('npm', ['run', '-s', 'kafka:down', '--', '--wipe'], {
      env: { KAFKA_PORT: String(port), KAFKA_BROKERS: undefined, KAFKA_MODE: undefined },
      timeoutMs: 60_000,
    });
    rmSync(secureEnvFile(port), { force: true });
  });

  it('writes the six client settings to a file only its owner may read, and the listener refuses a plaintext client', async () => {
    expect(Object.keys(readEnvFile(secureEnvFile(port))).sort()).toEqual([...CLIENT_SETTINGS].sort());
    expect(statSync(secureEnvFile(port)).mode & 0o777).toBe(0o600);
    expect(secureEnv).toMatchObject({ KAFKA_BROKERS: `localhost:${port}`, KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512' });
    expect(statSync(secureEnv.KAFKA_SSL_CA_FILE ?? '').isFile()).toBe(true);

    const plaintext = new Kafka({
      brokers: [`localhost:${port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      requestTimeout: 3_000,
      retry: { retries: 0 },
    }).admin();
    await expect(plaintext.connect().then(() => plaintext.describeCluster())).rejects.toThrow();
    await plaintext.disconnect();
  });

  it("creates a topic and reads it with Kafka's own tools over SASL_SSL, the settings coming from the environment", async () => {
    const created = await kafkaTool('kafka-topics', ['--create', '--topic', topic, '--partitions', '3']);
    expect(created.code, created.stderr).toBe(0);
    const described = await kafkaTool('kafka-topics', ['--describe', '--topic', topic]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/PartitionCount:\s*3/);
  });

  it('serves POST /produce under npm start (kafka:up as an existing cluster); the shipped Kafka-triggered function gets it', async () => {
    const httpPort = await freePort();
    baseUrl = `http://localhost:${httpPort}`;
    const workFolder = join('.esbuild', uniqueName('secure-offline'));
    start = startProcess('npm', ['start', '--', '--httpPort', String(httpPort), '--lambdaPort', String(await freePort())], {
      ...secureEnv,
      FORCE_COLOR: '0',
      RECORD_HANDLER_TOPIC: topic,
      RECORD_HANDLER_GROUP_ID: handlerGroup,
      PRODUCE_TOPICS: topic,
      ESBUILD_WORK_FOLDER: workFolder,
      ESBUILD_WATCH_PATTERN: '.offline-kafka-no-watch/**/*.ts',
    });
    const running = start;
    await running.waitForOutput(/Server ready:/, 180_000);
    expect(running.output()).toContain(`mode: existing cluster (KAFKA_BROKERS=localhost:${port})`);
    await waitFor(
      'the record handler to join its group',
      () => jsonLines(running.output()).some((line) => line.message === 'group joined' && line.groupId === handlerGroup),
      60_000,
    );

    const response = await fetch(`${baseUrl}/produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, key: 'user1', value: 'paid over TLS' }),
    });
    const body = (await response.json()) as { results: { partition: number; offset: string }[] };
    expect(response.status, JSON.stringify(body)).toBe(200);
    const [result] = body.results;
    expect(result).toBeDefined();

    const processed = await waitFor(
      '"record processed"',
      () => jsonLines(running.output()).find((line) => line.message === 'record processed' && line.topic === topic),
      30_000,
    );
    expect(processed).toMatchObject({ key: 'user1', value: 'paid over TLS', groupId: handlerGroup });

    const read = await kafkaTool('kafka-console-consumer', [
      '--topic',
      topic,
      '--partition',
      String(result?.partition),
      '--offset',
      String(result?.offset),
      '--max-messages',
      '1',
      '--property',
      'print.key=true',
    ]);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe('user1\tpaid over TLS\n');
    rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
  });

  it("consumes with npm run consume, and inspect-group prints what Kafka's kafka-consumer-groups prints for that group", async () => {
    const consumed = await run('npm', ['run', '-s', 'consume', '--', '--group', group, '--topic', topic, '--max-records', '1']);
    expect(consumed.code, consumed.stdout + consumed.stderr).toBe(0);
    const summary = consumed.stdout.split('\n').find((line) => line.startsWith('summary: {'));
    expect(JSON.parse(summary?.slice('summary: '.length) ?? '{}')).toMatchObject({ groupId: group, recordsProcessed: 1 });

    const [ours, kafka] = await Promise.all([
      run('npm', ['run', '-s', 'inspect-group', '--', '--group', group]),
      // The tool's own 5 s default is short for a TLS handshake on a loaded 2-core machine.
      kafkaTool('kafka-consumer-groups', ['--describe', '--group', group, '--timeout', '30000']),
    ]);
    expect(kafka.code, kafka.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    const notice = `Consumer group '${group}' has no active members.`;
    expect(kafka.stderr).toContain(notice);
    expect(ours.stderr).toBe(`\n${notice}\n`);
    expect(kafka.stdout).toMatch(new RegExp(`^${group} +${topic} +0 +1 +1 +0 +- +- +-$`, 'm'));
    expect(ours.stdout).toBe(`${kafka.stdout}\nGroup '${group}': state Empty, 0 members, assignment strategy -, total lag 0\n`);
  });

  it('fails kafka:up within seconds on a wrong password, with a message that says authentication failed', async () => {
    const started = Date.now();
    const result = await run('npm', ['run', '-s', 'kafka:up'], { ...secureEnv, KAFKA_SASL_PASSWORD: 'not-the-password' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`authentication failed at localhost:${port} as kafka-functions (SCRAM-SHA-512)`);
    // Waiting would take kafka:up's 30 s for an existing cluster: a refused login is not waited on.
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it('writes no password or other secret in any log line: command output, offline, the broker log', () => {
    const credentials = JSON.parse(readFileSync(join(instanceDir(port), 'secure', 'credentials.json'), 'utf8')) as Record<string, string>;
    const secrets = [credentials.password, credentials.brokerPassword, credentials.storePassword];
    expect(secrets.every((value) => typeof value === 'string' && value.length >= 32)).toBe(true);
    expect(secrets).toContain(secureEnv.KAFKA_SASL_PASSWORD);
    const logs = [...outputs, start?.output() ?? '', ...logFiles(instanceDir(port)).map((file) => readFileSync(file, 'utf8'))];
    expect(logFiles(instanceDir(port)).length).toBeGreaterThan(0);
    for (const log of logs) for (const value of secrets) expect(log.includes(value ?? '')).toBe(false);
  });
});
