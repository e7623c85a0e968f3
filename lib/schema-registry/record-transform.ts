/**
 * What AWS's event-source mapping does with a schema registry configured (SchemaRegistryConfig), record by
 * record, before the function is invoked (AWS page "Using schema registries with Kafka event sources in
 * Lambda"): each attribute named in SchemaValidationConfigs (KEY, VALUE) is validated against the schema
 * its wire-format header names, fetched by id from the registry. A record whose schema is not found fails
 * with reason SCHEMA_NOT_FOUND, one that cannot be deserialized with DESERIALIZATION_ERROR: AWS sends those
 * to the on-failure destination, or drops them, and invokes the function with the others.
 *
 * What the function then receives for a validated attribute:
 *   JSON    the decoded record as JSON text (base64, like every Kafka value in the event);
 *   SOURCE  the original bytes without the 5-byte header (Protobuf keeps its message indexes: Powertools'
 *           Protobuf deserializer reads and skips them when the schema id is a Confluent one);
 * and `keySchemaMetadata` / `valueSchemaMetadata`: `{ "dataFormat": "AVRO" | "PROTOBUF" | "JSON", "schemaId": "<id>" }`.
 */
import type { MSKRecord } from 'aws-lambda';
import type { SchemaType } from './codecs';
import type { SchemaSerde } from './schema-serde';

export type EventRecordFormat = 'JSON' | 'SOURCE';
export type SchemaAttribute = 'KEY' | 'VALUE';

export interface SchemaRegistrySettings {
  eventRecordFormat: EventRecordFormat;
  /** The attributes to validate (and, with JSON, deserialize). */
  attributes: readonly SchemaAttribute[];
}

export interface SchemaMetadata {
  dataFormat: SchemaType;
  schemaId: string;
}

/** A Lambda Kafka record with the schema metadata AWS adds. */
export type SchemaRecord = MSKRecord & { keySchemaMetadata?: SchemaMetadata; valueSchemaMetadata?: SchemaMetadata };

/** AWS's reason codes for a record that is not delivered. */
export type SchemaFailureReason = 'SCHEMA_NOT_FOUND' | 'DESERIALIZATION_ERROR';

export interface RejectedRecord {
  record: MSKRecord;
  attribute: SchemaAttribute;
  reason: SchemaFailureReason;
  /** For the log: what was wrong (no record content). */
  detail: string;
}

export interface TransformedRecords {
  delivered: SchemaRecord[];
  rejected: RejectedRecord[];
}

type AttributeOutcome =
  | { kind: 'ok'; data: string; metadata: SchemaMetadata }
  | { kind: 'absent' }
  | { kind: 'rejected'; reason: SchemaFailureReason; detail: string };

async function transformAttribute(encoded: string | undefined, format: EventRecordFormat, serde: SchemaSerde): Promise<AttributeOutcome> {
  // A record without a key (or a tombstone without a value) has nothing to validate.
  if (encoded === undefined || encoded === null) return { kind: 'absent' };
  const outcome = await serde.decode(Buffer.from(encoded, 'base64'));
  switch (outcome.kind) {
    case 'not-wire-format':
      return {
        kind: 'rejected',
        reason: 'DESERIALIZATION_ERROR',
        detail: 'no magic byte and schema id (not written with a schema registry)',
      };
    case 'schema-not-found':
      return { kind: 'rejected', reason: 'SCHEMA_NOT_FOUND', detail: outcome.reason };
    case 'undecodable':
      return { kind: 'rejected', reason: 'DESERIALIZATION_ERROR', detail: outcome.reason };
    case 'decoded': {
      const bytes = format === 'JSON' ? Buffer.from(JSON.stringify(outcome.json), 'utf8') : outcome.body;
      return {
        kind: 'ok',
        data: bytes.toString('base64'),
        metadata: { dataFormat: outcome.schemaType, schemaId: String(outcome.schemaId) },
      };
    }
  }
}

/**
 * Validates and converts the records as AWS does. Throws SchemaRegistryUnavailableError when the registry
 * cannot be asked: then nothing is decided and the whole batch is tried again, as for a failed invocation.
 */
export async function transformRecords(
  records: readonly MSKRecord[],
  settings: SchemaRegistrySettings,
  serde: SchemaSerde,
): Promise<TransformedRecords> {
  const delivered: SchemaRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const record of records) {
    let result: SchemaRecord = { ...record };
    let rejection: RejectedRecord | undefined;
    for (const attribute of settings.attributes) {
      const field = attribute === 'KEY' ? 'key' : 'value';
      const outcome = await transformAttribute(record[field], settings.eventRecordFormat, serde);
      if (outcome.kind === 'rejected') {
        rejection = { record, attribute, reason: outcome.reason, detail: outcome.detail };
        break;
      }
      if (outcome.kind === 'ok') {
        result = {
          ...result,
          [field]: outcome.data,
          [attribute === 'KEY' ? 'keySchemaMetadata' : 'valueSchemaMetadata']: outcome.metadata,
        };
      }
    }
    if (rejection === undefined) delivered.push(result);
    else rejected.push(rejection);
  }
  return { delivered, rejected };
}

/** A whole Kafka event through the step: the records to invoke with (undefined when none is left) and those rejected. */
export async function transformEvent<E extends { records: Record<string, MSKRecord[]> }>(
  event: E,
  settings: SchemaRegistrySettings,
  serde: SchemaSerde,
): Promise<{ event: E | undefined; rejected: RejectedRecord[] }> {
  const records: Record<string, SchemaRecord[]> = {};
  const rejected: RejectedRecord[] = [];
  for (const [partitionKey, list] of Object.entries(event.records)) {
    const result = await transformRecords(list, settings, serde);
    rejected.push(...result.rejected);
    if (result.delivered.length > 0) records[partitionKey] = result.delivered;
  }
  return { event: Object.keys(records).length === 0 ? undefined : { ...event, records }, rejected };
}
