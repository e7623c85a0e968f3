/**
 * custom.offlineKafka.schemaRegistries: where an event's schemaRegistryURI (a Glue registry's ARN or a
 * Confluent registry's URL) resolves locally, as custom.offlineKafka.brokers does for an msk ARN; a bad entry
 * is refused with an error naming it. (The mapping reaching a real registry is proven under serverless offline
 * by offline-kafka-schema.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { readMappings, type ServiceView } from '../plugins/offline-kafka/src/event-config';

const GLUE_ARN = 'arn:aws:glue:us-east-1:123456789012:registry/payments';
const CONFLUENT_URL = 'https://registry.payments.example:8081';

function service(custom: Record<string, unknown>, uris: string[]): ServiceView {
  const functions = Object.fromEntries(
    uris.map((uri, index) => [
      `fn${index}`,
      {
        handler: 'functions/record-handler.handler',
        events: [
          {
            msk: {
              arn: 'arn:aws:kafka:us-east-1:123456789012:cluster/payments/abc',
              topic: `payments-${index}`,
              provisionedPollerConfig: { minimumPollers: 1 },
              schemaRegistryConfig: {
                schemaRegistryURI: uri,
                eventRecordFormat: 'JSON',
                schemaValidationConfigs: [{ attribute: 'VALUE' }],
              },
            },
          },
        ],
      },
    ]),
  );
  return {
    service: 'registries',
    provider: { stage: 'dev' },
    custom,
    getAllFunctions: () => Object.keys(functions),
    getFunction: (key) => functions[key] ?? {},
  };
}

const config = loadConfig({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:4181/apis/ccompat/v7' });

describe('custom.offlineKafka.schemaRegistries', () => {
  it('resolves a mapped Glue ARN or Confluent URL to its registry, and any other URI to SCHEMA_REGISTRY_URL', () => {
    // Prepare
    const custom = {
      offlineKafka: {
        schemaRegistries: { [GLUE_ARN]: 'http://127.0.0.1:4182/apis/ccompat/v7/', [CONFLUENT_URL]: 'http://localhost:4183' },
      },
    };

    // Act
    const specs = readMappings(service(custom, [GLUE_ARN, CONFLUENT_URL, 'https://other.example']), config);

    // Assess: trailing slashes trimmed; the URI AWS would call is kept for `serverless package`.
    expect(specs.map((spec) => [spec.schemaRegistry?.schemaRegistryURI, spec.schemaRegistry?.localUrl])).toEqual([
      [GLUE_ARN, 'http://127.0.0.1:4182/apis/ccompat/v7'],
      [CONFLUENT_URL, 'http://localhost:4183'],
      ['https://other.example', 'http://127.0.0.1:4181/apis/ccompat/v7'],
    ]);
  });

  it.each([
    [{ [GLUE_ARN]: 'registry:8081' }, `custom.offlineKafka.schemaRegistries.${GLUE_ARN}: expected an http(s) URL, got 'registry:8081'`],
    [{ [GLUE_ARN]: 'ftp://127.0.0.1/x' }, `custom.offlineKafka.schemaRegistries.${GLUE_ARN}: expected an http(s) URL`],
    [{ [CONFLUENT_URL]: 'http://user:secret@127.0.0.1:4181' }, 'credentials in the URL are not supported'],
    [{ [CONFLUENT_URL]: 8081 }, `custom.offlineKafka.schemaRegistries.${CONFLUENT_URL}: expected the base URL of a Confluent-compatible`],
    ['http://127.0.0.1:4181', 'custom.offlineKafka.schemaRegistries: expected a map of schemaRegistryURI → registry base URL'],
  ])('refuses %j, naming the entry', (schemaRegistries, message) => {
    const custom = { offlineKafka: { schemaRegistries } };
    expect(() => readMappings(service(custom, [GLUE_ARN]), config)).toThrow(message);
  });

  it('keeps a secret out of its error message', () => {
    const custom = { offlineKafka: { schemaRegistries: { [GLUE_ARN]: 'https://user:hunter2@registry.example' } } };
    const refusal = (() => {
      try {
        readMappings(service(custom, [GLUE_ARN]), config);
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
      return 'not refused';
    })();
    expect(refusal).toContain('credentials in the URL are not supported');
    expect(refusal).not.toContain('hunter2');
  });
});
