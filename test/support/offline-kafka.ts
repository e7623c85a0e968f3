/** Helpers for the offline-kafka plugin tests: service files, `serverless package`, offline's JSON log lines, a TCP proxy. */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName, withAdmin } from './kafka';
import { waitFor } from './wait';
import { REPO_ROOT, jsonLines, startProcess } from './processes';

export { jsonLines, type LogLine } from './processes';

/**
 * osls only takes `--config` files from the service folder (the working directory), so a service file of
 * test/fixtures/offline-kafka is copied to the repository root under a git-ignored name.
 */
export function serviceFile(fixture: string): { config: string; remove: () => void } {
  const config = `.offline-kafka-test-${uniqueName(fixture)}.yml`;
  copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'offline-kafka', `${fixture}.yml`), join(REPO_ROOT, config));
  return { config, remove: () => rmSync(join(REPO_ROOT, config), { force: true }) };
}

const NO_AWS_CREDENTIALS = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '' };

export interface Packaged {
  exit: number | string;
  output: string;
  /** Where the package went (its CloudFormation template among it); the caller removes it. */
  folder: string;
}

/** Package runs of this test file, one after another (see packageService). */
let packaging: Promise<unknown> = Promise.resolve();

/**
 * `serverless package` of a test/fixtures/offline-kafka service with no AWS credentials, into a folder of its
 * own, bundling in an esbuild work folder of its own; killed after `timeoutMs`. Calls queue up: osls writes
 * and removes `.serverless/` in the service folder (the repository root) whatever `--package` says, so two
 * packages at once lose each other's zip ("Could not calculate hash … ENOENT", "ENOTEMPTY").
 */
export function packageService(fixture: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Packaged> {
  return queuePackage(() => packageOnce(serviceFile(fixture), fixture, env, timeoutMs));
}

/** As packageService, for the project's own serverless.yml (what `serverless deploy` would upload). */
export function packageShippedService(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Packaged> {
  return queuePackage(() => packageOnce({ config: 'serverless.yml', remove: () => undefined }, 'shipped', env, timeoutMs));
}

function queuePackage(start: () => Promise<Packaged>): Promise<Packaged> {
  const run = packaging.then(start);
  packaging = run.catch(() => undefined);
  return run;
}

async function packageOnce(
  service: { config: string; remove: () => void },
  name: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Packaged> {
  const folder = mkdtempSync(join(tmpdir(), `offline-kafka-${name}-`));
  const workFolder = join('.esbuild', uniqueName(name));
  try {
    const child = startProcess('npx', ['serverless', 'package', '--config', service.config, '--package', folder], {
      FORCE_COLOR: '0',
      ESBUILD_WORK_FOLDER: workFolder,
      ...NO_AWS_CREDENTIALS,
      ...env,
    });
    const timer = setTimeout(() => void child.stop('SIGKILL'), timeoutMs);
    const exit = await child.exited;
    clearTimeout(timer);
    return { exit, output: child.output(), folder };
  } finally {
    service.remove();
    rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
  }
}

export interface FixtureRecord {
  function: string;
  eventSource: string;
  eventSourceArn?: string;
  bootstrapServers: string;
  recordsKey: string;
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, number[]>[];
}

/** The records the fixture handlers received on a topic, from the file they append to before returning. */
export function receivedRecords(stateDir: string, topic: string): FixtureRecord[] {
  const file = join(stateDir, `records-${topic}.jsonl`);
  return existsSync(file) ? fixtureRecords(readFileSync(file, 'utf8'), topic) : [];
}

/** The records the fixture handlers logged (`"fixture record"`), optionally of one topic. */
export function fixtureRecords(output: string, topic?: string): FixtureRecord[] {
  return jsonLines(output)
    .filter((line) => line.message === 'fixture record' && (topic === undefined || line.topic === topic))
    .map((line) => line as unknown as FixtureRecord);
}

/** A TCP proxy on `port` to `target` (host:port): a bootstrap address that can be down, then up. */
export async function startTcpProxy(port: number, target: string): Promise<{ close: () => Promise<void> }> {
  const [host = 'localhost', targetPort = '9092'] = target.split(':');
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host, port: Number(targetPort) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Creates topics and waits until each partition's leader serves it. kafkajs's `waitForLeaders` waits for
 * the metadata only; a broker under load may take seconds more to open the partitions' logs, and a write
 * meanwhile fails as "not the leader". Listing each topic's offsets asks every partition's leader.
 */
export async function createServedTopics(specs: { topic: string; numPartitions: number }[], timeoutMs = 60_000): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: specs.map((spec) => ({ ...spec, replicationFactor: 1 })), waitForLeaders: true });
    for (const { topic } of specs) {
      await waitFor(
        `the leaders of ${topic} to serve it`,
        () =>
          admin.fetchTopicOffsets(topic).then(
            () => true,
            () => false,
          ),
        timeoutMs,
        250,
      );
    }
  });
}
