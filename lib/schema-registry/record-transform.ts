/**
 * What AWS's event-source mapping does with a schema registry configured (SchemaRegistryConfig), record by
 * record, before the function is invoked (AWS page "Using schema registries with Kafka event sources in
 * Lambda"): each attribute named in SchemaValidationConfigs (KEY, VALUE) is validated against the schema
 * its wire-format header names, fetched by id from the registry. A record whose schema is not found fails
 * with reason SCHEMA_NOT_FOUND, one that cannot be deserialized with DESERIALIZATION_ERROR: AWS sends those
 * to the on-failure destination with that reason code, or drops them without one, and invokes the function
 * with the others. Filter criteria are then matched against the deserialized record.
 *
 * What the function then receives for a validated attribute:
 *   JSON    the decoded record as JSON text (base64, like every Kafka value in the event);
 *   SOURCE  the original bytes without the 5-byte header (Protobuf keeps its message indexes: Powertools'
 *           Protobuf deserializer reads and skips them when the schema id is a Confluent one);
 * and `keySchemaMetadata` / `valueSchemaMetadata`: `{ "dataFormat": "AVRO" | "PROTOBUF" | "JSON", "schemaId": "<id>" }`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { KafkaMessage } from 'kafkajs';
import type { DeliveredMessage, PartitionBatch } from '../consumer/lambda-event';
import type { RecordValidation, SchemaFailureCondition } from '../consumer/delivery-policy';
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

/** AWS's reason codes for a record that is not delivered (the on-failure destination's condition). */
type SchemaFailureReason = SchemaFailureCondition;

type AttributeOutcome =
  | { kind: 'ok'; delivered: Buffer; json: Buffer; metadata: SchemaMetadata }
  | { kind: 'absent' }
  | { kind: 'rejected'; reason: SchemaFailureReason; detail: string };

async function transformAttribute(bytes: Buffer | null, format: EventRecordFormat, serde: SchemaSerde): Promise<AttributeOutcome> {
  // A record without a key (or a tombstone without a value) has nothing to validate.
  if (bytes === null) return { kind: 'absent' };
  const outcome = await serde.decode(bytes);
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
      const json = Buffer.from(JSON.stringify(outcome.json), 'utf8');
      return {
        kind: 'ok',
        delivered: format === 'JSON' ? json : outcome.body,
        json,
        metadata: { dataFormat: outcome.schemaType, schemaId: String(outcome.schemaId) },
      };
    }
  }
}

/** A record's key and value as the function receives them, with what the registry said of each. */
interface Converted {
  key: Buffer | null;
  value: Buffer | null;
  keySchemaMetadata?: SchemaMetadata;
  valueSchemaMetadata?: SchemaMetadata;
  /** The value's deserialized JSON, which filterPatterns are matched against. */
  filterValue?: Buffer;
}

type MessageOutcome =
  | { kind: 'delivered'; converted: Converted }
  | { kind: 'rejected'; attribute: SchemaAttribute; reason: SchemaFailureReason; detail: string };

/** One record's key and value through the step: as the function receives them, or why the record is not delivered. */
async function transformMessage(
  record: { key: Buffer | null; value: Buffer | null },
  settings: SchemaRegistrySettings,
  serde: SchemaSerde,
): Promise<MessageOutcome> {
  let converted: Converted = { key: record.key, value: record.value };
  for (const attribute of settings.attributes) {
    const outcome = await transformAttribute(attribute === 'KEY' ? record.key : record.value, settings.eventRecordFormat, serde);
    if (outcome.kind === 'rejected') return { kind: 'rejected', attribute, reason: outcome.reason, detail: outcome.detail };
    if (outcome.kind === 'absent') continue;
    converted =
      attribute === 'KEY'
        ? { ...converted, key: outcome.delivered, keySchemaMetadata: outcome.metadata }
        : { ...converted, value: outcome.delivered, valueSchemaMetadata: outcome.metadata, filterValue: outcome.json };
  }
  return { kind: 'delivered', converted };
}

function deliveredMessage(message: KafkaMessage, { key, value, ...schema }: Converted): DeliveredMessage {
  return Object.keys(schema).length === 0 ? message : { ...message, key, value, schema };
}

/**
 * The schema registry step of an event-source mapping (lib/consumer's RecordValidation): each partition's
 * records that pass, as the function receives them, and those that fail, in offset order with AWS's reason
 * code, each logged with what was wrong (never its content).
 */
export function schemaRegistryValidation(settings: SchemaRegistrySettings, serde: SchemaSerde, logger: Logger): RecordValidation {
  return async (batches: PartitionBatch[]) => {
    const passed: PartitionBatch[] = [];
    // In offset order: consecutive records refused for the same reason go to the destination together.
    const rejected: { condition: SchemaFailureReason; batches: PartitionBatch[] }[] = [];
    for (const batch of batches) {
      const kept: DeliveredMessage[] = [];
      let run: { condition: SchemaFailureReason; messages: KafkaMessage[] } | undefined;
      for (const message of batch.messages) {
        const outcome = await transformMessage(message, settings, serde);
        if (outcome.kind === 'delivered') {
          kept.push(deliveredMessage(message, outcome.converted));
          continue;
        }
        const { attribute, reason, detail } = outcome;
        logger.warn('record failed schema validation', {
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          attribute,
          reason,
          detail,
        });
        if (run?.condition === reason) run.messages.push(message);
        else {
          run = { condition: reason, messages: [message] };
          rejected.push({ condition: reason, batches: [{ ...batch, messages: run.messages }] });
        }
      }
      passed.push({ ...batch, messages: kept });
    }
    return { batches: passed, rejected };
  };
}
