/**
 * Kafka-triggered, with `schemaRegistryConfig: { eventRecordFormat: JSON, … }`: the event source validated
 * and decoded each value (Avro, Protobuf or JSON Schema alike) and hands it over as JSON text, so reading
 * it needs no schema: Powertools' kafkaConsumer with SchemaType.JSON parses it.
 */
import { SchemaType, kafkaConsumer } from '@aws-lambda-powertools/kafka';
import { logger } from '../../lib/logger';
import type { Payment } from './payment-schema';

export const handler = kafkaConsumer<string, Payment>(
  async (event) => {
    for (const record of event.records) {
      const { user, amount } = record.value;
      logger.info('payment received', {
        format: 'JSON',
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        user,
        amount,
        schemaId: record.valueSchemaMetadata?.schemaId,
        dataFormat: record.valueSchemaMetadata?.dataFormat,
      });
    }
  },
  { value: { type: SchemaType.JSON } },
);
