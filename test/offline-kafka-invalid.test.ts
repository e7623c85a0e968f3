/**
 * An invalid `msk` / `kafka` event stops `serverless offline start` before anything listens, with an
 * error naming the function and the field: osls's schema catches some, the offline-kafka plugin the rest
 * (also when the schema check is relaxed), and a topic that does not exist is asked of the real broker.
 * The starts run side by side; each exits within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/free-port';
import { uniqueName } from './support/kafka';
import { runCommand } from './support/processes';
import { serviceFile } from './support/offline-kafka';

interface Attempt {
  exit: number | string;
  output: string;
}

async function attemptStart(fixture: string, env: NodeJS.ProcessEnv): Promise<Attempt> {
  const service = serviceFile(fixture);
  try {
    const { code, stdout, stderr } = await runCommand(
      'npx',
      [
        'serverless',
        'offline',
        'start',
        '--config',
        service.config,
        '--httpPort',
        String(await freePort()),
        '--lambdaPort',
        String(await freePort()),
      ],
      { env: { FORCE_COLOR: '0', ...env }, timeoutMs: 60_000 },
    );
    return { exit: code, output: stdout + stderr };
  } finally {
    service.remove();
  }
}

describe('offline start with an invalid Kafka event', () => {
  const missingTopic = uniqueName('ok-missing');
  const cases = [
    'batchSize',
    'startingPosition',
    'atTimestamp',
    'filterPatterns',
    'retries',
    'recordAge',
    'destinationIsSource',
    'noPollers',
  ] as const;
  const attempts = new Map<string, Promise<Attempt>>();

  beforeAll(() => {
    attempts.set('schema', attemptStart('invalid-schema', {}));
    for (const name of cases) {
      attempts.set(name, attemptStart('invalid-event', { INVALID_CASE: name, TOPIC: 'payment-done', MISSING_TOPIC: missingTopic }));
    }
    attempts.set(
      'missingTopic',
      attemptStart('invalid-event', {
        INVALID_CASE: 'missingTopic',
        VALIDATION_MODE: 'error',
        TOPIC: 'payment-done',
        MISSING_TOPIC: missingTopic,
      }),
    );
  });

  afterAll(async () => {
    await Promise.allSettled(attempts.values());
  });

  async function failure(name: string): Promise<string> {
    const attempt = await attempts.get(name);
    expect(attempt?.exit).not.toBe(0);
    expect(attempt?.output).not.toContain('Server ready');
    return attempt?.output ?? '';
  }

  it('stops on batchSize 0 and an unknown startingPosition, naming each function and field (osls schema)', async () => {
    const output = await failure('schema');
    expect(output).toContain("'functions.zeroBatch.events.0.msk.batchSize': must be >= 1");
    expect(output).toContain("'functions.earliest.events.0.kafka.startingPosition': must be equal to one of the allowed values");
  });

  it('stops on a maximumRecordAgeInSeconds under 60, naming the function and field (osls schema, with the added fields)', async () => {
    // osls words an anyOf failure (-1, or 60..604800) as "unsupported integer format".
    expect(await failure('schema')).toContain(
      "'functions.youngRecords.events.0.msk.maximumRecordAgeInSeconds': unsupported integer format",
    );
  });

  it('stops on maximumRetryAttempts over 10000 when the schema check only warns', async () => {
    expect(await failure('retries')).toContain(
      'functions.invalid.events[0].msk.maximumRetryAttempts: expected -1 (infinite) or a whole number from 0 to 10000, got 10001',
    );
  });

  it('stops on maximumRecordAgeInSeconds under 60 when the schema check only warns', async () => {
    expect(await failure('recordAge')).toContain(
      'functions.invalid.events[0].msk.maximumRecordAgeInSeconds: ' + 'expected -1 (infinite) or whole seconds from 60 to 604800, got 30',
    );
  });

  it('stops on the source topic as on-failure destination, which AWS refuses', async () => {
    expect(await failure('destinationIsSource')).toContain(
      'functions.invalid.events[0].msk.onFailureDestination: kafka://payment-done is the source topic',
    );
  });

  it('stops on an error-handling control without provisionedPollerConfig, as AWS offers them only in provisioned mode', async () => {
    expect(await failure('noPollers')).toContain(
      'functions.invalid.events[0].msk.functionResponseType: AWS offers the Kafka error-handling controls only in provisioned mode',
    );
  });

  it('stops on batchSize 0 when the schema check only warns (the plugin checks it too)', async () => {
    expect(await failure('batchSize')).toContain(
      "invalid Kafka event for function 'invalid': " +
        'functions.invalid.events[0].msk.batchSize: expected a whole number from 1 to 10000, got 0',
    );
  });

  it('stops on an unknown startingPosition when the schema check only warns', async () => {
    expect(await failure('startingPosition')).toContain(
      'functions.invalid.events[0].msk.startingPosition: expected TRIM_HORIZON, LATEST or AT_TIMESTAMP, got "EARLIEST"',
    );
  });

  it('stops on AT_TIMESTAMP without startingPositionTimestamp', async () => {
    expect(await failure('atTimestamp')).toContain(
      'functions.invalid.events[0].msk.startingPositionTimestamp: required with startingPosition AT_TIMESTAMP',
    );
  });

  it('stops on a filter pattern Lambda would not accept, naming the spot in the pattern', async () => {
    expect(await failure('filterPatterns')).toContain(
      'functions.invalid.events[0].msk.filterPatterns[0].value.amount[0].greater: unknown operator',
    );
  });

  it('stops on a topic that does not exist on the broker', async () => {
    expect(await failure('missingTopic')).toContain(
      `invalid Kafka event for function 'invalid': functions.invalid.events[0].msk.topic: topic '${missingTopic}' does not exist`,
    );
  });
});
