// What test/global-setup.ts provides to tests (inject('kafkaBrokers'), …).
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    /** Base URL of a Confluent-compatible schema registry (test/registry-setup.ts). */
    schemaRegistryUrl: string;
    /** How the suite's broker was provided. */
    kafkaMode: 'external' | 'testcontainers' | 'jvm';
    /** Port of the JVM broker (jvm mode only), for tests of kafka:up itself. */
    kafkaPort: number;
  }
}
