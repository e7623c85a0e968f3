/** The functions `npm run bench:offline` runs under serverless offline (scripts/support/bench-offline.yml). */
import type { MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';

type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/** Takes the batch and does nothing with it (measures the delivery path, not a handler). */
export const sink = async (event: KafkaEvent) => ({ processed: Object.values(event.records).reduce((sum, list) => sum + list.length, 0) });

/** Latency probe: each value is `{"sentAt": <ms>}`; logs how long it took to get here. */
export const latency = async (event: KafkaEvent) => {
  const now = Date.now();
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      const { sentAt } = JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as { sentAt: number };
      console.log(JSON.stringify({ message: 'bench latency', offset: record.offset, partition: record.partition, ms: now - sentAt }));
    }
  }
  return { processed: true };
};
