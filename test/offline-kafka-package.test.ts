/**
 * `serverless package` (no AWS credentials) of msk and kafka events with AWS's Kafka error-handling
 * controls (test/fixtures/offline-kafka/package.yml): the compiled AWS::Lambda::EventSourceMapping of each
 * carries them under the names of AWS's resource reference, the execution role gets what each destination
 * needs, and a value AWS would refuse stops the package, naming the function, the event and the field.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Packaged, packageService } from './support/offline-kafka';

const CLUSTER = 'arn:aws:kafka:us-east-1:123456789012:cluster/payments/abcd1234-0123-abcd-5678-1234abcd5678-1';

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

function packageFixture(env: NodeJS.ProcessEnv): Promise<Packaged> {
  return packageService('package', env, 120_000);
}

describe('serverless package with Kafka error-handling controls', () => {
  const runs = new Map<string, Promise<Packaged>>();

  beforeAll(() => {
    runs.set('valid', packageFixture({}));
    runs.set('retriesSchema', packageFixture({ REFUNDS_RETRIES: '10001' }));
    runs.set('retriesPlugin', packageFixture({ REFUNDS_RETRIES: '10001', VALIDATION_MODE: 'warn' }));
    runs.set('noPollers', packageFixture({ REFUNDS_EVENT: 'onDemand' }));
  });

  afterAll(async () => {
    for (const run of runs.values()) rmSync((await run).folder, { recursive: true, force: true });
  });

  async function template(): Promise<Template> {
    const run = await runs.get('valid');
    expect(run?.exit, run?.output).toBe(0);
    return JSON.parse(readFileSync(join(run?.folder ?? '', 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  }

  function mapping(resources: Template['Resources'], functionLogicalId: string, topic: string): Record<string, unknown> {
    const found = Object.values(resources).find(
      ({ Type, Properties }) =>
        Type === 'AWS::Lambda::EventSourceMapping' &&
        JSON.stringify(Properties.FunctionName).includes(functionLogicalId) &&
        JSON.stringify(Properties.Topics) === JSON.stringify([topic]),
    );
    expect(found, `${functionLogicalId} on ${topic}`).toBeDefined();
    return found?.Properties ?? {};
  }

  it('is validated by osls with no warning about the added fields', async () => {
    const run = await runs.get('valid');
    expect(run?.exit, run?.output).toBe(0);
    expect(run?.output).not.toMatch(/unrecognized property|must NOT have additional properties|Configuration warning/i);
  });

  it('writes every control and the Kafka destination into the msk mapping, beside its provisioned pollers', async () => {
    const { Resources } = await template();
    expect(mapping(Resources, 'OnMskLambdaFunction', 'payments')).toEqual({
      EventSourceArn: CLUSTER,
      FunctionName: { 'Fn::GetAtt': ['OnMskLambdaFunction', 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      Topics: ['payments'],
      BatchSize: 50,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 3600,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: 'kafka://payments-failed' } },
    });
    expect(mapping(Resources, 'OnMskLambdaFunction', 'refunds')).toMatchObject({
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:123456789012:refunds-failed' } },
    });
  });

  it('writes every control into the kafka mapping, AWS defaults included when written out', async () => {
    const { Resources } = await template();
    expect(mapping(Resources, 'OnKafkaLambdaFunction', 'payments')).toMatchObject({
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b-1.payments.example:9096'] } },
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 4 },
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: -1,
      BisectBatchOnFunctionError: false,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: 'arn:aws:s3:::payments-failed-batches' } },
    });
    const refunds = mapping(Resources, 'OnKafkaLambdaFunction', 'refunds');
    expect(refunds.DestinationConfig).toEqual({ OnFailure: { Destination: 'arn:aws:sns:us-east-1:123456789012:refunds-failed' } });
    // Nothing set, nothing written: AWS's defaults apply.
    for (const property of ['MaximumRetryAttempts', 'MaximumRecordAgeInSeconds', 'BisectBatchOnFunctionError', 'FunctionResponseTypes']) {
      expect(refunds).not.toHaveProperty(property);
    }
  });

  it("gives the function's role what each destination needs", async () => {
    const { Resources } = await template();
    const policies = Resources.IamRoleLambdaExecution?.Properties.Policies as { PolicyDocument: { Statement: unknown[] } }[];
    const statements = policies[0]?.PolicyDocument.Statement ?? [];
    expect(statements).toEqual(
      expect.arrayContaining([
        { Effect: 'Allow', Action: ['kafka-cluster:Connect'], Resource: [CLUSTER] },
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
          Resource: [`${CLUSTER.replace(':cluster/', ':topic/')}/payments-failed`],
        },
        { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: ['arn:aws:sqs:us-east-1:123456789012:refunds-failed'] },
        { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::payments-failed-batches'] },
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: ['arn:aws:s3:::payments-failed-batches/*'] },
        { Effect: 'Allow', Action: ['sns:Publish'], Resource: ['arn:aws:sns:us-east-1:123456789012:refunds-failed'] },
      ]),
    );
  });

  it('stops on maximumRetryAttempts above 10000, naming the event and field (osls schema)', async () => {
    const run = await runs.get('retriesSchema');
    expect(run?.exit).not.toBe(0);
    expect(run?.output).toContain("'functions.onMsk.events.1.msk.maximumRetryAttempts': must be <= 10000");
  });

  it('stops on maximumRetryAttempts above 10000 when the schema check only warns (the plugin checks it too)', async () => {
    const run = await runs.get('retriesPlugin');
    expect(run?.exit).not.toBe(0);
    expect(run?.output).toContain(
      "invalid Kafka event for function 'onMsk': functions.onMsk.events[1].msk.maximumRetryAttempts: " +
        'expected -1 (infinite) or a whole number from 0 to 10000, got 10001',
    );
  });

  it('refuses error-handling controls without provisionedPollerConfig, as AWS offers them only in provisioned mode', async () => {
    const run = await runs.get('noPollers');
    expect(run?.exit).not.toBe(0);
    expect(run?.output).toContain(
      'functions.onMsk.events[1].msk.maximumRetryAttempts: AWS offers the Kafka error-handling controls only in provisioned mode',
    );
  });
});
