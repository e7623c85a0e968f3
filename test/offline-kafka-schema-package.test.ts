/**
 * `serverless package` (no AWS credentials) of msk and kafka events with `schemaRegistryConfig`
 * (test/fixtures/offline-kafka/schema-package.yml): the compiled AWS::Lambda::EventSourceMapping carries
 * AWS's SchemaRegistryConfig in its Kafka event-source config, and a setting AWS would refuse stops the
 * package naming the field, through osls's schema check and through the plugin's own.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Packaged, packageService } from './support/offline-kafka';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function packageFixture(env: NodeJS.ProcessEnv): Promise<Packaged> {
  return packageService('schema-package', env, 150_000);
}

describe('serverless package with schemaRegistryConfig', () => {
  const runs = new Map<string, Promise<Packaged>>();

  beforeAll(() => {
    // One after another: each package bundles with esbuild, and the machine has two cores.
    const valid = packageFixture({});
    const onDemand = valid.then(() => packageFixture({ SCHEMA_EVENT: 'onDemand', VALIDATION_MODE: 'warn' }));
    const badFormat = onDemand.then(() => packageFixture({ SCHEMA_FORMAT: 'XML' }));
    runs.set('valid', valid);
    runs.set('onDemand', onDemand);
    runs.set('badFormat', badFormat);
  });

  afterAll(async () => {
    for (const run of runs.values()) rmSync((await run).folder, { recursive: true, force: true });
  });

  async function mappings(): Promise<Record<string, unknown>[]> {
    const run = await runs.get('valid');
    expect(run?.exit, run?.output).toBe(0);
    const template = JSON.parse(readFileSync(join(run?.folder ?? '', 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Resources;
    };
    return Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::EventSourceMapping')
      .map((resource) => resource.Properties);
  }

  it('writes SchemaRegistryConfig with AWS names into the msk and the kafka mapping', async () => {
    const [msk, kafka] = [...(await mappings())].sort((a, b) =>
      a.EventSourceArn === undefined ? 1 : b.EventSourceArn === undefined ? -1 : 0,
    );
    expect(msk?.AmazonManagedKafkaEventSourceConfig).toEqual({
      ConsumerGroupId: 'payments-avro',
      SchemaRegistryConfig: {
        SchemaRegistryURI: 'https://registry.payments.example:8081',
        EventRecordFormat: 'SOURCE',
        SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
        AccessConfigs: [{ Type: 'BASIC_AUTH', URI: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-credentials' }],
      },
    });
    expect(msk?.ProvisionedPollerConfig).toEqual({ MinimumPollers: 1, MaximumPollers: 2 });
    expect((kafka?.SelfManagedKafkaEventSourceConfig as Record<string, unknown>)?.SchemaRegistryConfig).toEqual({
      SchemaRegistryURI: 'https://registry.payments.example:8081',
      EventRecordFormat: 'JSON',
      SchemaValidationConfigs: [{ Attribute: 'KEY' }, { Attribute: 'VALUE' }],
    });
  });

  it('refuses schemaRegistryConfig without provisionedPollerConfig, as AWS does, naming the field', async () => {
    const run = await runs.get('onDemand');
    expect(run?.exit).not.toBe(0);
    expect(run?.output).toContain("function 'onMsk'");
    expect(run?.output).toContain('functions.onMsk.events[0].msk.schemaRegistryConfig');
    expect(run?.output).toContain('provisioned mode');
  });

  it('refuses an eventRecordFormat that is not JSON or SOURCE through osls schema check', async () => {
    const run = await runs.get('badFormat');
    expect(run?.exit).not.toBe(0);
    expect(run?.output).toContain('eventRecordFormat');
  });
});
