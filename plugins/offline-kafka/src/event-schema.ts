/**
 * The `msk` / `kafka` event settings this plugin adds to osls's own schemas (which have
 * `additionalProperties: false`), declared through the CLI's schema extension so osls validates them like
 * its own fields, with no warning. One place for every added field: a new one (schemaRegistryConfig…)
 * joins the lists below. osls defines `onFailureDestination` for `kafka` already, so only `msk` gets it.
 */

import { SCHEMA_REGISTRY_CONFIG_PROPERTY } from './schema-registry-config';

type JsonSchema = Record<string, unknown>;

/** AWS's Kafka error-handling controls, spelled as osls spells them for `stream` events. */
const ERROR_HANDLING_PROPERTIES: Record<string, JsonSchema> = {
  maximumRetryAttempts: { type: 'integer', minimum: -1, maximum: 10_000 },
  maximumRecordAgeInSeconds: { anyOf: [{ const: -1 }, { type: 'integer', minimum: 60, maximum: 604_800 }] },
  bisectBatchOnFunctionError: { type: 'boolean' },
  functionResponseType: { enum: ['ReportBatchItemFailures'] },
};

/** Properties added to each event type (none may repeat one osls already defines: that is a collision). */
export const ADDED_EVENT_PROPERTIES: Record<'msk' | 'kafka', Record<string, JsonSchema>> = {
  msk: { ...ERROR_HANDLING_PROPERTIES, onFailureDestination: { type: 'string' }, schemaRegistryConfig: SCHEMA_REGISTRY_CONFIG_PROPERTY },
  kafka: { ...ERROR_HANDLING_PROPERTIES, schemaRegistryConfig: SCHEMA_REGISTRY_CONFIG_PROPERTY },
};

export interface ConfigSchemaHandler {
  defineFunctionEventProperties(provider: string, event: string, schema: { properties: Record<string, JsonSchema> }): void;
}

/** Declares the added properties; a CLI without the schema handler (older, or a test double) is left alone. */
export function defineKafkaEventProperties(handler: ConfigSchemaHandler | undefined): void {
  if (handler === undefined) return;
  for (const [event, properties] of Object.entries(ADDED_EVENT_PROPERTIES)) {
    handler.defineFunctionEventProperties('aws', event, { properties });
  }
}
