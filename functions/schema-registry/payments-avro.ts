/**
 * Kafka-triggered, with `schemaRegistryConfig: { eventRecordFormat: SOURCE, schemaValidationConfigs:
 * [{ attribute: VALUE }] }`: the event source validated each value against the registry and hands over
 * the Avro bytes without the schema header; Powertools' kafkaConsumer decodes them with the schema.
 */
import { SchemaType, kafkaConsumer } from '@aws-lambda-powertools/kafka';
import { logger } from '../../lib/logger';
import { PAYMENT_AVRO_SCHEMA, type Payment } from './payment-schema';

export const handler = kafkaConsumer<string, Payment>(
  async (event) => {
    for (const record of event.records) {
      const { user, amount } = record.value;
      logger.info('payment received', {
        format: 'SOURCE',
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
  { value: { type: SchemaType.AVRO, schema: PAYMENT_AVRO_SCHEMA } },
);
