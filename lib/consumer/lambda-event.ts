/**
 * AWS Lambda's Kafka event, built from records kafkajs fetched. The shape is the one Lambda hands a
 * function triggered by an `msk` (Amazon MSK) or `kafka` (self-managed Kafka) event source: records
 * grouped under "<topic>-<partition>", key and value base64, headers as a list of one-entry objects
 * whose value is the header's bytes. The event holds plain strings, numbers and arrays only, so it can
 * be posted to a worker thread (serverless-offline runs handlers there) or written as JSON unchanged.
 */
import type { KafkaMessage } from 'kafkajs';
import type { MSKEvent, MSKRecord, MSKRecordHeader, SelfManagedKafkaEvent } from 'aws-lambda';

export type EventSourceSpec =
  | { kind: 'SelfManagedKafka'; bootstrapServers: string[] }
  | { kind: 'aws:kafka'; eventSourceArn: string; bootstrapServers: string[] };

export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: DeliveredMessage[];
}

/** What a schema registry says of a key or value it validated: `{ dataFormat, schemaId }`, as AWS adds it to the record. */
export interface SchemaMetadata {
  dataFormat: string;
  schemaId: string;
}

/**
 * A fetched record after the step before the function (a schema registry's validation, record-transform.ts):
 * its key and value as the function receives them, with their schema metadata, and the value's deserialized
 * JSON, which filterPatterns are matched against (AWS filters the deserialized record).
 */
export type DeliveredMessage = KafkaMessage & {
  schema?: { keySchemaMetadata?: SchemaMetadata; valueSchemaMetadata?: SchemaMetadata; filterValue?: Buffer };
};

/** Kafka's record-batch timestamp type (kafkajs keeps it on the batch context it attaches to each message). */
const LOG_APPEND_TIME = 1;

function timestampType(message: KafkaMessage): MSKRecord['timestampType'] {
  const context: unknown = (message as { batchContext?: unknown }).batchContext;
  if (typeof context === 'object' && context !== null && 'timestampType' in context && context.timestampType === LOG_APPEND_TIME) {
    return 'LOG_APPEND_TIME';
  }
  return 'CREATE_TIME';
}

/** A header without a value (kafkajs decodes it as null) is given as no bytes. */
function headerBytes(value: Buffer | string | null): number[] {
  if (value === null) return [];
  return [...(typeof value === 'string' ? Buffer.from(value) : value)];
}

/** Lambda gives each header as its own `{name: [bytes]}` object; a repeated header appears repeatedly, in order. */
export function lambdaHeaders(message: KafkaMessage): MSKRecordHeader[] {
  const headers: MSKRecordHeader[] = [];
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    const values: (Buffer | string | null)[] = Array.isArray(value) ? value : [value];
    for (const one of values) headers.push({ [name]: headerBytes(one) });
  }
  return headers;
}

/**
 * One record as Lambda gives it. A null key or value (a tombstone) is left out of the record, as Lambda
 * does, although @types/aws-lambda declares both as always present.
 */
export function lambdaRecord(topic: string, partition: number, message: DeliveredMessage): MSKRecord {
  const schema = message.schema;
  const record = {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: timestampType(message),
    ...(message.key === null ? {} : { key: message.key.toString('base64') }),
    ...(message.value === null ? {} : { value: message.value.toString('base64') }),
    headers: lambdaHeaders(message),
    ...(schema?.keySchemaMetadata === undefined ? {} : { keySchemaMetadata: schema.keySchemaMetadata }),
    ...(schema?.valueSchemaMetadata === undefined ? {} : { valueSchemaMetadata: schema.valueSchemaMetadata }),
  };
  return record as MSKRecord;
}

/** The record filterPatterns are matched against: as delivered, with a validated value in its deserialized JSON form. */
export function filterRecord(topic: string, partition: number, message: DeliveredMessage): MSKRecord {
  const filterValue = message.schema?.filterValue;
  return lambdaRecord(topic, partition, filterValue === undefined ? message : { ...message, value: filterValue });
}

/** The `records` map of a Kafka event: "<topic>-<partition>" → records in offset order. */
export function lambdaRecords(batches: PartitionBatch[]): Record<string, MSKRecord[]> {
  const records: Record<string, MSKRecord[]> = {};
  for (const { topic, partition, messages } of batches) {
    if (messages.length === 0) continue;
    const key = `${topic}-${partition}`;
    const list = records[key] ?? [];
    for (const message of messages) list.push(lambdaRecord(topic, partition, message));
    records[key] = list;
  }
  return records;
}

/** The whole event for one invocation, for an MSK (`aws:kafka`) or a self-managed (`SelfManagedKafka`) source. */
export function buildKafkaEvent(source: EventSourceSpec, batches: PartitionBatch[]): KafkaEvent {
  const records = lambdaRecords(batches);
  const bootstrapServers = source.bootstrapServers.join(',');
  if (source.kind === 'aws:kafka') {
    return { eventSource: 'aws:kafka', eventSourceArn: source.eventSourceArn, bootstrapServers, records };
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers, records };
}

/** Every record of an event, in "<topic>-<partition>" then offset order. */
export function eventRecords(event: KafkaEvent): MSKRecord[] {
  return Object.values(event.records).flat();
}

/** Number of records in an event. */
export function countRecords(event: KafkaEvent): number {
  return Object.values(event.records).reduce((sum, list) => sum + list.length, 0);
}

/** Decodes a base64 key or value of a Lambda Kafka record (undefined when the record had none). */
export function decodeBase64(value: string | undefined): string | undefined {
  return value === undefined || value === null ? undefined : Buffer.from(value, 'base64').toString('utf8');
}
