/**
 * `schemaRegistryConfig` on `msk` and `kafka` events: AWS's SchemaRegistryConfig (CloudFormation
 * AWS::Lambda::EventSourceMapping SchemaRegistryConfig, inside AmazonManagedKafkaEventSourceConfig or
 * SelfManagedKafkaEventSourceConfig), with AWS's names in camel case:
 *
 *   schemaRegistryConfig:
 *     schemaRegistryURI: https://registry.example:8081     # a Confluent registry's URL, or a Glue registry's ARN
 *     eventRecordFormat: SOURCE                            # JSON | SOURCE
 *     schemaValidationConfigs: [{ attribute: VALUE }]      # KEY and/or VALUE
 *     accessConfigs: [{ type: BASIC_AUTH, uri: arn:aws:secretsmanager:… }]   # at most 2
 *
 * AWS offers it only in provisioned mode, so the event must have provisionedPollerConfig. `serverless
 * package` writes it into the event-source mapping; `offline start` validates and decodes records with it
 * against the registry `custom.offlineKafka.schemaRegistries` maps the URI to, else SCHEMA_REGISTRY_URL, else
 * the local one: the URI itself is never called (a Glue ARN cannot be), and access configs are not used.
 */
import type { EventRecordFormat, SchemaAttribute } from '../../../lib/schema-registry/record-transform';
import { isRecord } from '../../../lib/validation';
import { InvalidKafkaEventError } from './event-config';

export interface SchemaRegistryEventConfig {
  schemaRegistryURI: string;
  eventRecordFormat: EventRecordFormat;
  attributes: SchemaAttribute[];
  accessConfigs: { type: AccessConfigType; uri: string }[];
}

const ACCESS_CONFIG_TYPES = ['BASIC_AUTH', 'CLIENT_CERTIFICATE_TLS_AUTH', 'SERVER_ROOT_CA_CERTIFICATE', 'OAUTHBEARER_AUTH'] as const;
type AccessConfigType = (typeof ACCESS_CONFIG_TYPES)[number];

// AWS's patterns (Lambda API KafkaSchemaRegistryConfig.SchemaRegistryURI, KafkaSchemaRegistryAccessConfig.URI).
const REGISTRY_URI = /^[a-zA-Z0-9\-/*:_+=.@]{1,10000}$/;
const SECRET_ARN = /^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$/;

/** The JSON schema osls validates the event field with (declared through its schema extension). */
export const SCHEMA_REGISTRY_CONFIG_PROPERTY = {
  type: 'object',
  properties: {
    schemaRegistryURI: { type: 'string', minLength: 1, maxLength: 10_000 },
    eventRecordFormat: { enum: ['JSON', 'SOURCE'] },
    schemaValidationConfigs: {
      type: 'array',
      minItems: 1,
      maxItems: 2,
      items: {
        type: 'object',
        properties: { attribute: { enum: ['KEY', 'VALUE'] } },
        required: ['attribute'],
        additionalProperties: false,
      },
    },
    accessConfigs: {
      type: 'array',
      maxItems: 2,
      items: {
        type: 'object',
        properties: { type: { enum: [...ACCESS_CONFIG_TYPES] }, uri: { type: 'string' } },
        required: ['type', 'uri'],
        additionalProperties: false,
      },
    },
  },
  required: ['schemaRegistryURI', 'eventRecordFormat', 'schemaValidationConfigs'],
  additionalProperties: false,
};

const FIELDS = ['schemaRegistryURI', 'eventRecordFormat', 'schemaValidationConfigs', 'accessConfigs'];

/** The event's schemaRegistryConfig, validated; undefined when the event has none. Errors name the field. */
export function readSchemaRegistryConfig(
  event: Record<string, unknown>,
  path: string,
  functionKey: string,
): SchemaRegistryEventConfig | undefined {
  const raw = event.schemaRegistryConfig;
  if (raw === undefined || raw === null) return undefined;
  const where = `${path}.schemaRegistryConfig`;
  const fail = (field: string, message: string): never => {
    throw new InvalidKafkaEventError(field === '' ? where : `${where}.${field}`, message, functionKey);
  };
  if (!isRecord(raw)) return fail('', 'expected an object with schemaRegistryURI, eventRecordFormat and schemaValidationConfigs');
  const extra = Object.keys(raw).find((key) => !FIELDS.includes(key));
  if (extra !== undefined) fail(extra, 'unknown field');
  if (!isRecord(event.provisionedPollerConfig)) {
    fail('', 'AWS offers schema registries only in provisioned mode: add provisionedPollerConfig (minimumPollers, maximumPollers)');
  }

  const uri = raw.schemaRegistryURI;
  if (typeof uri !== 'string' || !REGISTRY_URI.test(uri)) {
    fail('schemaRegistryURI', `expected a Confluent registry's URL or a Glue registry's ARN, got ${JSON.stringify(uri)}`);
  }
  const format = raw.eventRecordFormat;
  if (format !== 'JSON' && format !== 'SOURCE') fail('eventRecordFormat', `expected JSON or SOURCE, got ${JSON.stringify(format)}`);

  const validations = raw.schemaValidationConfigs;
  if (!Array.isArray(validations) || validations.length === 0)
    fail('schemaValidationConfigs', 'expected a list of { attribute: KEY | VALUE }');
  const attributes: SchemaAttribute[] = [];
  (validations as unknown[]).forEach((item, index) => {
    const attribute = isRecord(item) ? item.attribute : undefined;
    if (attribute !== 'KEY' && attribute !== 'VALUE') fail(`schemaValidationConfigs[${index}].attribute`, 'expected KEY or VALUE');
    if (attributes.includes(attribute as SchemaAttribute))
      fail(`schemaValidationConfigs[${index}].attribute`, `${attribute} is listed twice`);
    attributes.push(attribute as SchemaAttribute);
  });

  const access = raw.accessConfigs ?? [];
  if (!Array.isArray(access) || access.length > 2) fail('accessConfigs', 'expected at most 2 { type, uri } objects');
  const accessConfigs = (access as unknown[]).map((item, index) => {
    const type = isRecord(item) ? item.type : undefined;
    const secret = isRecord(item) ? item.uri : undefined;
    if (!ACCESS_CONFIG_TYPES.includes(type as AccessConfigType)) {
      fail(`accessConfigs[${index}].type`, `expected one of ${ACCESS_CONFIG_TYPES.join(', ')}`);
    }
    if (typeof secret !== 'string' || !SECRET_ARN.test(secret))
      fail(`accessConfigs[${index}].uri`, 'expected a Secrets Manager secret ARN');
    return { type: type as AccessConfigType, uri: secret as string };
  });
  return { schemaRegistryURI: uri as string, eventRecordFormat: format as EventRecordFormat, attributes, accessConfigs };
}

/** The CloudFormation SchemaRegistryConfig for the mapping's Kafka event-source config. */
export function schemaRegistryCloudFormation(config: SchemaRegistryEventConfig): Record<string, unknown> {
  return {
    SchemaRegistryURI: config.schemaRegistryURI,
    EventRecordFormat: config.eventRecordFormat,
    SchemaValidationConfigs: config.attributes.map((attribute) => ({ Attribute: attribute })),
    ...(config.accessConfigs.length === 0
      ? {}
      : { AccessConfigs: config.accessConfigs.map(({ type, uri }) => ({ Type: type, URI: uri })) }),
  };
}
