/**
 * The shipped serverless.yml: its Kafka-triggered function runs under `npm start` (a record sent to
 * /produce shows up as "record processed" in the same terminal, with no other command), and the same
 * file packages with no AWS credentials into a CloudFormation template holding the event-source mapping.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/free-port';
import { createTopic, uniqueName, withAdmin } from './support/kafka';
import { REPO_ROOT, jsonLines, runCommand, startProcess, type RunningProcess } from './support/processes';
import { waitFor } from './support/wait';

const NO_AWS_CREDENTIALS = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '' };

describe('the shipped Kafka-triggered function', () => {
  it(
    'packages with no AWS credentials into an AWS::Lambda::EventSourceMapping ' +
      'with topic, batch size, window, starting position, group and error handling',
    async () => {
      const workFolder = join('.esbuild', uniqueName('package'));
      try {
        const packaged = await runCommand('npx', ['serverless', 'package'], {
          env: { FORCE_COLOR: '0', ESBUILD_WORK_FOLDER: workFolder, ...NO_AWS_CREDENTIALS },
          timeoutMs: 180_000,
        });
        expect(packaged.code, packaged.stdout + packaged.stderr).toBe(0);
      } finally {
        rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
      }
      const template = JSON.parse(readFileSync(join(REPO_ROOT, '.serverless', 'cloudformation-template-update-stack.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      };
      const mappings = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::EventSourceMapping');
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.Properties).toEqual({
        EventSourceArn: expect.stringMatching(/^arn:aws:kafka:/),
        FunctionName: { 'Fn::GetAtt': ['RecordHandlerLambdaFunction', 'Arn'] },
        Topics: ['payment-done'],
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 1,
        StartingPosition: 'TRIM_HORIZON',
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'payment-done-record-handler' },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: -1,
        ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
      });
    },
  );

  describe('under npm start', () => {
    const topic = uniqueName('ok-shipped');
    const group = uniqueName('ok-shipped-group');
    const workFolder = join('.esbuild', uniqueName('offline-kafka-shipped'));
    let start: RunningProcess;
    let baseUrl: string;

    beforeAll(async () => {
      await createTopic(topic, 3);
      const httpPort = await freePort();
      baseUrl = `http://localhost:${httpPort}`;
      start = startProcess('npm', ['start', '--', '--httpPort', String(httpPort), '--lambdaPort', String(await freePort())], {
        FORCE_COLOR: '0',
        RECORD_HANDLER_TOPIC: topic,
        RECORD_HANDLER_GROUP_ID: group,
        PRODUCE_TOPICS: topic,
        // Its own bundle folder, and no rebuild when someone edits a source meanwhile (it would swap workers).
        ESBUILD_WORK_FOLDER: workFolder,
        ESBUILD_WATCH_PATTERN: '.offline-kafka-no-watch/**/*.ts',
      });
      await start.waitForOutput(/Server ready:/, 120_000);
      await waitFor(
        'the record handler to join its group',
        () => jsonLines(start.output()).some((line) => line.message === 'group joined' && line.groupId === group),
        30_000,
      );
    });

    afterAll(async () => {
      await start?.stop('SIGINT');
      rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
    });

    it('shows a record sent to /produce as "record processed" in the offline terminal, with its own group', async () => {
      const response = await fetch(`${baseUrl}/produce`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic, key: 'user1', value: 'paid 42' }),
      });
      expect(response.status).toBe(200);
      const processed = await waitFor(
        '"record processed"',
        () => jsonLines(start.output()).find((line) => line.message === 'record processed' && line.topic === topic),
        20_000,
      );
      expect(processed).toMatchObject({ key: 'user1', value: 'paid 42', groupId: group });
      const invoked = jsonLines(start.output()).find((line) => line.message === 'function invoked' && line.function === 'recordHandler');
      expect(invoked).toMatchObject({ outcome: 'success', records: 1 });
    });

    it('leaves its group on Ctrl-C: the broker shows it Empty', async () => {
      await start.stop('SIGINT');
      await waitFor(
        '"group left"',
        () => jsonLines(start.output()).some((line) => line.message === 'group left' && line.groupId === group),
        10_000,
      );
      const { groups } = await withAdmin((admin) => admin.describeGroups([group]));
      expect(groups[0]).toMatchObject({ groupId: group, state: 'Empty', members: [] });
    });
  });
});
