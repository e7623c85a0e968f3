/**
 * `serverless package`: osls compiles each `msk` / `kafka` event into an AWS::Lambda::EventSourceMapping
 * but knows none of AWS's Kafka error-handling controls (and no destination for `msk`). After osls has
 * compiled the events, this writes them into each mapping with the names of AWS's resource reference
 * (MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, FunctionResponseTypes,
 * DestinationConfig.OnFailure.Destination; osls writes ProvisionedPollerConfig itself), and gives the
 * function's role what the destination needs (AWS's "Capturing discarded batches" page): sqs:SendMessage,
 * sns:Publish, s3:PutObject + s3:ListBucket, and for a Kafka topic on MSK kafka-cluster:WriteData (with the
 * Connect and DescribeTopic it requires). A self-managed cluster is not authorised through IAM.
 */
import { formatFailureDestination, type ErrorHandling, type FailureDestination } from '../../../lib/consumer/delivery-policy';
import { isRecord } from '../../../lib/validation';
import { InvalidKafkaEventError, kafkaEvents, readErrorHandling, type KafkaEventEntry, type ServiceView } from './event-config';
import { readSchemaRegistryConfig, schemaRegistryCloudFormation } from './schema-registry-config';

type CfnValue = unknown;
interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
}
export interface CompiledTemplate {
  Resources: Record<string, CfnResource>;
}
interface PolicyStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: CfnValue[];
}

/** Where osls keeps the default execution role's inline policy statements, if the service uses that role. */
function roleStatements(template: CompiledTemplate): unknown[] | undefined {
  const properties = template.Resources.IamRoleLambdaExecution?.Properties;
  const policies = properties?.Policies;
  const first: unknown = Array.isArray(policies) ? policies[0] : undefined;
  if (!isRecord(first) || !isRecord(first.PolicyDocument)) return undefined;
  const statements = first.PolicyDocument.Statement;
  return Array.isArray(statements) ? statements : undefined;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The mapping osls compiled for this event: same function, topic and cluster (ARN or bootstrap servers). */
function findMapping(template: CompiledTemplate, functionLogicalId: string, entry: KafkaEventEntry, event: Record<string, unknown>) {
  return Object.values(template.Resources).find((resource) => {
    const properties = resource.Properties;
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || properties === undefined) return false;
    if (!JSON.stringify(properties.FunctionName).includes(`"${functionLogicalId}"`)) return false;
    if (!same(properties.Topics, [event.topic])) return false;
    if (entry.eventType === 'msk') return same(properties.EventSourceArn, event.arn);
    const source = properties.SelfManagedEventSource;
    return isRecord(source) && isRecord(source.Endpoints) && same(source.Endpoints.KafkaBootstrapServers, event.bootstrapServers);
  });
}

/** An MSK topic's ARN from its cluster's: arn:…:cluster/<name>/<uuid> → arn:…:topic/<name>/<uuid>/<topic>. */
function mskTopicArn(clusterArn: unknown, topic: string): CfnValue {
  if (typeof clusterArn === 'string') return `${clusterArn.replace(':cluster/', ':topic/')}/${topic}`;
  // A Ref or Fn::ImportValue only resolves at deploy time: split it there.
  const parts = { 'Fn::Split': [':cluster/', clusterArn] };
  return { 'Fn::Join': ['', [{ 'Fn::Select': [0, parts] }, ':topic/', { 'Fn::Select': [1, parts] }, '/', topic]] };
}

/** What the execution role needs to send discarded records to the destination. */
export function destinationStatements(destination: FailureDestination, entry: KafkaEventEntry, clusterArn: unknown): PolicyStatement[] {
  switch (destination.kind) {
    case 'sqs':
      return [{ Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [destination.arn] }];
    case 'sns':
      return [{ Effect: 'Allow', Action: ['sns:Publish'], Resource: [destination.arn] }];
    case 's3':
      return [
        { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [destination.arn] },
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [`${destination.arn}/*`] },
      ];
    case 'kafka':
      if (entry.eventType !== 'msk') return [];
      return [
        { Effect: 'Allow', Action: ['kafka-cluster:Connect'], Resource: [clusterArn] },
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
          Resource: [mskTopicArn(clusterArn, destination.topic)],
        },
      ];
  }
}

/** The CloudFormation properties for the controls the event sets (AWS's defaults apply to the others). */
export function errorHandlingProperties(event: Record<string, unknown>, settings: ErrorHandling): Record<string, CfnValue> {
  const properties: Record<string, CfnValue> = {};
  const isSet = (field: string) => event[field] !== undefined && event[field] !== null;
  if (isSet('maximumRetryAttempts')) properties.MaximumRetryAttempts = settings.maximumRetryAttempts;
  if (isSet('maximumRecordAgeInSeconds')) properties.MaximumRecordAgeInSeconds = settings.maximumRecordAgeInSeconds;
  if (isSet('bisectBatchOnFunctionError')) properties.BisectBatchOnFunctionError = settings.bisectBatchOnFunctionError;
  if (settings.reportBatchItemFailures) properties.FunctionResponseTypes = ['ReportBatchItemFailures'];
  if (settings.onFailure !== undefined) {
    properties.DestinationConfig = { OnFailure: { Destination: formatFailureDestination(settings.onFailure) } };
  }
  return properties;
}

/** Validates every Kafka event's error-handling controls (before packaging spends time bundling). */
export function checkKafkaEvents(service: ServiceView): void {
  for (const entry of kafkaEvents(service)) {
    if (!isRecord(entry.event)) throw new InvalidKafkaEventError(entry.path, 'expected an object', entry.functionKey);
    readErrorHandling(entry.event, entry.path, entry.functionKey, String(entry.event.topic));
    readSchemaRegistryConfig(entry.event, entry.path, entry.functionKey);
  }
}

/**
 * Writes each event's schemaRegistryConfig into its mapping as AWS's SchemaRegistryConfig, inside
 * AmazonManagedKafkaEventSourceConfig (msk) or SelfManagedKafkaEventSourceConfig (kafka), beside the
 * ConsumerGroupId osls may have written there.
 */
export function compileSchemaRegistry(
  service: ServiceView,
  template: CompiledTemplate,
  lambdaLogicalId: (functionKey: string) => string,
): void {
  for (const entry of kafkaEvents(service)) {
    const { event, path, functionKey } = entry;
    if (!isRecord(event)) throw new InvalidKafkaEventError(path, 'expected an object', functionKey);
    const config = readSchemaRegistryConfig(event, path, functionKey);
    if (config === undefined) continue;
    const mapping = findMapping(template, lambdaLogicalId(functionKey), entry, event);
    if (mapping?.Properties === undefined) {
      throw new InvalidKafkaEventError(path, 'osls compiled no AWS::Lambda::EventSourceMapping for this event', functionKey);
    }
    const key = entry.eventType === 'msk' ? 'AmazonManagedKafkaEventSourceConfig' : 'SelfManagedKafkaEventSourceConfig';
    const existing = mapping.Properties[key];
    mapping.Properties[key] = { ...(isRecord(existing) ? existing : {}), SchemaRegistryConfig: schemaRegistryCloudFormation(config) };
  }
}

/** Writes the controls and the destination's IAM statements into the template osls compiled. */
export function compileErrorHandling(
  service: ServiceView,
  template: CompiledTemplate,
  lambdaLogicalId: (functionKey: string) => string,
): void {
  const statements = roleStatements(template);
  for (const entry of kafkaEvents(service)) {
    const { event, path, functionKey } = entry;
    if (!isRecord(event)) throw new InvalidKafkaEventError(path, 'expected an object', functionKey);
    const settings = readErrorHandling(event, path, functionKey, String(event.topic));
    const additions = errorHandlingProperties(event, settings);
    if (Object.keys(additions).length === 0) continue;
    const mapping = findMapping(template, lambdaLogicalId(functionKey), entry, event);
    if (mapping?.Properties === undefined) {
      throw new InvalidKafkaEventError(path, 'osls compiled no AWS::Lambda::EventSourceMapping for this event', functionKey);
    }
    Object.assign(mapping.Properties, additions);
    if (settings.onFailure === undefined || statements === undefined) continue;
    for (const statement of destinationStatements(settings.onFailure, entry, event.arn)) {
      if (!statements.some((existing) => same(existing, statement))) statements.push(statement);
    }
  }
}
