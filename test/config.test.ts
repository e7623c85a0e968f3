import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { ConfigError } from '../lib/errors';

const caFile = join(mkdtempSync(join(tmpdir(), 'ca-')), 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it("gives the consume function AWS's error-handling defaults, and reads each control from its AWS-named variable", () => {
    expect(loadConfig({}).consume.errorHandling).toEqual({
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
      bisectBatchOnFunctionError: false,
      reportBatchItemFailures: false,
      onFailure: undefined,
    });
    const consume = loadConfig({
      CONSUME_MAXIMUM_RETRY_ATTEMPTS: '3',
      CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS: '3600',
      CONSUME_BISECT_BATCH_ON_FUNCTION_ERROR: 'true',
      CONSUME_FUNCTION_RESPONSE_TYPES: 'ReportBatchItemFailures',
      CONSUME_ON_FAILURE_DESTINATION: 'kafka://payment-done-failed',
    }).consume;
    expect(consume.errorHandling).toEqual({
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: 3600,
      bisectBatchOnFunctionError: true,
      reportBatchItemFailures: true,
      onFailure: { kind: 'kafka', topic: 'payment-done-failed' },
    });
    expect(consume.destinationsDir).toBe('.offline-destinations');
  });

  it('gives the tutorial defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['localhost:9092']);
    expect(config.defaultTopic).toBe('payment-done');
    expect(config.defaultGroupId).toBe('my-app3');
    expect(config.produce.allowedTopics).toEqual(['payment-done', 'quickstart-events']);
    expect(config.kafka.sasl).toBeUndefined();
    expect(config.kafka.ssl).toBe(false);
  });

  it('reads brokers, port, SASL and SSL for a real cluster', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'b-1.example:9096, b-2.example:9096',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: 'secret',
    });
    expect(config.kafka.brokers).toEqual(['b-1.example:9096', 'b-2.example:9096']);
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'alice', password: 'secret' });
    expect(loadConfig({ KAFKA_PORT: '19092' }).kafka.brokers).toEqual(['localhost:19092']);
  });

  it('reads KAFKA_SSL_CA_FILE, a readable file, for a cluster whose certificates a private CA signed', () => {
    const config = loadConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile });
    expect(config.kafka.sslCaFile).toBe(caFile);
    expect(loadConfig({ KAFKA_SSL: 'true' }).kafka.sslCaFile).toBeUndefined();
  });

  it.each([
    [{ KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS', 'host:port'],
    [{ KAFKA_PORT: 'ninety' }, 'KAFKA_PORT', 'whole number'],
    [{ KAFKA_REQUEST_TIMEOUT_MS: '10' }, 'KAFKA_REQUEST_TIMEOUT_MS', 'from 100'],
    [{ KAFKA_SSL: 'maybe' }, 'KAFKA_SSL', 'true or false'],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM', 'plain, scram-sha-256, scram-sha-512'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'x' }, 'KAFKA_SASL_USERNAME', 'required'],
    [{ KAFKA_TOPIC: 'has space' }, 'KAFKA_TOPIC', 'not a valid Kafka topic name'],
    [{ PRODUCE_TOPICS: 'payment-done,bad/topic' }, 'PRODUCE_TOPICS', "'bad/topic'"],
    [{ KAFKA_SESSION_TIMEOUT_MS: '3000' }, 'KAFKA_SESSION_TIMEOUT_MS', 'from 6000'],
    [{ KAFKA_HEARTBEAT_INTERVAL_MS: '20000' }, 'KAFKA_HEARTBEAT_INTERVAL_MS', 'lower than KAFKA_SESSION_TIMEOUT_MS'],
    [{ CONSUME_ON_FAILURE: 'dead-letter' }, 'CONSUME_ON_FAILURE', 'no longer read: use CONSUME_ON_FAILURE_DESTINATION'],
    [{ CONSUME_MAX_ATTEMPTS: '3' }, 'CONSUME_MAX_ATTEMPTS', 'use CONSUME_MAXIMUM_RETRY_ATTEMPTS'],
    [{ CONSUME_DEAD_LETTER_TOPIC: 'x.dlq' }, 'CONSUME_DEAD_LETTER_TOPIC', 'CONSUME_ON_FAILURE_DESTINATION=kafka://'],
    [{ CONSUME_MAXIMUM_RETRY_ATTEMPTS: '-2' }, 'CONSUME_MAXIMUM_RETRY_ATTEMPTS', 'from -1 to 10000'],
    [{ CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS: '30' }, 'CONSUME_MAXIMUM_RECORD_AGE_IN_SECONDS', 'from 60 to 604800, got 30'],
    [{ CONSUME_FUNCTION_RESPONSE_TYPES: 'BatchItemFailures' }, 'CONSUME_FUNCTION_RESPONSE_TYPES', 'ReportBatchItemFailures'],
    [{ CONSUME_ON_FAILURE_DESTINATION: 'orders.dlq' }, 'CONSUME_ON_FAILURE_DESTINATION', 'neither kafka://<topic> nor an SQS'],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/no/such/ca.pem' }, 'KAFKA_SSL_CA_FILE', "cannot read '/no/such/ca.pem' (no such file)"],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: tmpdir() }, 'KAFKA_SSL_CA_FILE', 'is not a file'],
    [{ KAFKA_SSL_CA_FILE: caFile }, 'KAFKA_SSL_CA_FILE', 'KAFKA_SSL is not true'],
  ])('rejects %j naming %s', (env, variable, words) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(words);
    expect(error.code).toBe('INVALID_CONFIG');
  });

  it('points at the local schema registry unless SCHEMA_REGISTRY_URL names another', () => {
    expect(loadConfig({}).schemaRegistry).toMatchObject({ url: 'http://127.0.0.1:8081/apis/ccompat/v7', external: false, port: 8081 });
    expect(loadConfig({ SCHEMA_REGISTRY_PORT: '26081' }).schemaRegistry.url).toBe('http://127.0.0.1:26081/apis/ccompat/v7');
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'https://registry.example:8081/' }).schemaRegistry).toMatchObject({
      url: 'https://registry.example:8081',
      external: true,
    });
  });

  it('refuses a SCHEMA_REGISTRY_URL that is not an http(s) URL or carries credentials', () => {
    expect(configError({ SCHEMA_REGISTRY_URL: 'registry:8081' }).variable).toBe('SCHEMA_REGISTRY_URL');
    expect(configError({ SCHEMA_REGISTRY_URL: 'ftp://registry.example' }).variable).toBe('SCHEMA_REGISTRY_URL');
    expect(configError({ SCHEMA_REGISTRY_URL: 'https://alice:secret@registry.example' }).message).not.toContain('secret');
  });
});
