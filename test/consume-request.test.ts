/** The consume invocation's input and settings: validated before any member starts. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { ValidationError } from '../lib/errors';
import { describeSummary, eventSourceFor, parseConsumeRequest } from '../lib/consumer/consume-session';

const config = loadConfig({ KAFKA_BROKERS: 'b1:9092,b2:9092' });

describe('consume: the invocation input', () => {
  it('an empty input means the tutorial group and topic, from the beginning, for the configured duration', () => {
    expect(parseConsumeRequest(undefined, config, 60)).toEqual({
      groupId: 'my-app3',
      topic: 'payment-done',
      durationSeconds: 60,
      maxRecords: undefined,
      fromBeginning: true,
    });
  });

  it('every field of the input is taken as given', () => {
    const input = { groupId: 'g', topic: 't', durationSeconds: 1.5, maxRecords: 7, fromBeginning: false };
    expect(parseConsumeRequest(input, config, 60)).toEqual(input);
  });

  it.each([
    [{ groupId: 'has space' }, 'groupId'],
    [{ topic: 'bad/topic' }, 'topic'],
    [{ durationSeconds: 0 }, 'durationSeconds'],
    [{ maxRecords: 2.5 }, 'maxRecords'],
    [{ fromBeginning: 'yes' }, 'fromBeginning'],
    [{ groupid: 'typo' }, 'groupid'],
  ])('a bad input %j is refused naming the field %s', (input, field) => {
    const attempt = () => parseConsumeRequest(input, config, 60);
    expect(attempt).toThrow(ValidationError);
    try {
      attempt();
    } catch (error) {
      expect(error instanceof ValidationError ? error.field : undefined).toBe(field);
    }
  });

  it('batches claim to come from self-managed Kafka, or from MSK when CONSUME_EVENT_SOURCE_ARN names a cluster', () => {
    expect(eventSourceFor(config)).toEqual({ kind: 'SelfManagedKafka', bootstrapServers: ['b1:9092', 'b2:9092'] });
    const arn = 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1';
    expect(eventSourceFor(loadConfig({ KAFKA_BROKERS: 'b1:9092', CONSUME_EVENT_SOURCE_ARN: arn }))).toEqual({
      kind: 'aws:kafka',
      eventSourceArn: arn,
      bootstrapServers: ['b1:9092'],
    });
    expect(() => loadConfig({ CONSUME_EVENT_SOURCE_ARN: 'not-an-arn' })).toThrow(/CONSUME_EVENT_SOURCE_ARN/);
  });

  it('the summary line says who consumed what and why it stopped', () => {
    expect(
      describeSummary({
        memberId: 'm-1',
        groupId: 'my-app3',
        topic: 'payment-done',
        recordsProcessed: 12,
        batches: 2,
        retries: 1,
        sentToDestination: 0,
        discarded: 0,
        filtered: 0,
        partitions: [0, 2],
        end: { kind: 'stopped' },
        stoppedBecause: 'stopped',
      }),
    ).toBe('member m-1 of group my-app3 processed 12 records of payment-done in 2 batches (partitions 0, 2; 1 retry); stopped: stopped');
  });

  it('the summary line says 1 record, 1 batch and 2 retries in good English', () => {
    expect(
      describeSummary({
        memberId: 'm-1',
        groupId: 'my-app3',
        topic: 'payment-done',
        recordsProcessed: 1,
        batches: 1,
        retries: 2,
        sentToDestination: 0,
        discarded: 0,
        filtered: 0,
        partitions: [1],
        end: { kind: 'stopped' },
        stoppedBecause: 'stopped',
      }),
    ).toBe('member m-1 of group my-app3 processed 1 record of payment-done in 1 batch (partitions 1; 2 retries); stopped: stopped');
  });
});
