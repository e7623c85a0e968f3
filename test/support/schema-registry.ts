/** Test helpers against the real schema registry (test/registry-setup.ts): registering the test's own subjects. */
import { inject } from 'vitest';
import { createSchemaRegistryClient } from '../../lib/schema-registry/registry-client';
import { createSchemaSerde } from '../../lib/schema-registry/schema-serde';
import { uniqueName } from './kafka';

export function testRegistryUrl(): string {
  return inject('schemaRegistryUrl');
}

/** The project's encoder/decoder on the test run's registry (its own client, so its own schema cache). */
export function testSerde(): ReturnType<typeof createSchemaSerde> {
  return createSchemaSerde(createSchemaRegistryClient({ url: testRegistryUrl(), timeoutMs: 3_000 }));
}

/** Registers a schema under the subject (Confluent's API) and returns its global id. */
export async function registerSchema(
  subject: string,
  schemaType: 'AVRO' | 'PROTOBUF' | 'JSON',
  schema: string,
  url: string = testRegistryUrl(),
): Promise<number> {
  const response = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schemaType, schema }),
  });
  const body = (await response.json()) as { id?: number };
  if (!response.ok || typeof body.id !== 'number')
    throw new Error(`registering ${subject} failed: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** `${prefix}-<random>-value`: every test owns its subjects. */
export function uniqueSubject(prefix: string): string {
  return `${uniqueName(prefix)}-value`;
}

/** The tutorial's payment as an Avro record. */
export const PAYMENT_AVRO = JSON.stringify({
  type: 'record',
  name: 'Payment',
  namespace: 'tutorial',
  fields: [
    { name: 'user', type: 'string' },
    { name: 'amount', type: 'int' },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
});

/** Two top-level messages and a nested one, so message indexes other than [0] occur. */
export const PAYMENT_PROTO = `syntax = "proto3";
package tutorial;
message Payment {
  string user = 1;
  int64 amount = 2;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 3;
}
message Refund {
  string user = 1;
  Status status = 2;
}
enum Status { PENDING = 0; DONE = 1; }
`;

export const PAYMENT_JSON_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { user: { type: 'string' }, amount: { type: 'integer', minimum: 0 } },
  required: ['user', 'amount'],
  additionalProperties: false,
});
