/**
 * POST /produce with "valueSubject" / "keySubject": every value (key) is checked against the subject's
 * latest schema and written in Confluent's wire format, so the tutorial's curl can write Avro, Protobuf or
 * JSON Schema records. All records are encoded before anything is sent: one that does not fit refuses the
 * whole request (400 SCHEMA_MISMATCH), an unknown subject is 404 SCHEMA_NOT_FOUND, and nothing is written.
 */
import type { SchemaSerde } from '../schema-registry/schema-serde';
import type { ProduceRequest } from './produce-request';

export async function encodeWithSchemas(request: ProduceRequest, serde: SchemaSerde): Promise<ProduceRequest> {
  const { valueSubject, keySubject } = request;
  if (valueSubject === undefined && keySubject === undefined) return request;
  const valueEncoder = valueSubject === undefined ? undefined : await serde.encoderFor(valueSubject);
  const keyEncoder = keySubject === undefined ? undefined : await serde.encoderFor(keySubject);
  const single = request.records.length === 1;
  const records = request.records.map((record, index) => {
    const where = single ? 'record' : `messages[${index}]`;
    const hasKey = record.parsedKey !== undefined && record.parsedKey !== null;
    return {
      ...record,
      value: valueEncoder === undefined ? record.value : valueEncoder.encode(record.parsedValue, `${where}.value`),
      // A record without a key stays keyless: there is nothing to encode.
      keyBytes: keyEncoder === undefined || !hasKey ? record.keyBytes : keyEncoder.encode(record.parsedKey, `${where}.key`),
    };
  });
  return { ...request, records };
}
