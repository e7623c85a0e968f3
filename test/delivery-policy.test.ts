import { describe, expect, it } from 'vitest';
import {
  AWS_DEFAULT_ERROR_HANDLING,
  checkErrorHandling,
  type ErrorHandling,
  formatFailureDestination,
  parseFailureDestination,
  retryLimit,
} from '../lib/consumer/delivery-policy';

const settings = (overrides: Partial<ErrorHandling>): ErrorHandling => ({ ...AWS_DEFAULT_ERROR_HANDLING, ...overrides });

describe('error-handling settings', () => {
  it("has AWS's defaults: infinite retries, infinite record age, no bisect, no partial responses, no destination", () => {
    expect(AWS_DEFAULT_ERROR_HANDLING).toEqual({
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
      bisectBatchOnFunctionError: false,
      reportBatchItemFailures: false,
      onFailure: undefined,
    });
    expect(checkErrorHandling(AWS_DEFAULT_ERROR_HANDLING, 'orders')).toBeUndefined();
  });

  it('parses kafka:// topics and SQS, SNS and S3 ARNs, and writes them back unchanged', () => {
    const cases: [string, ReturnType<typeof parseFailureDestination>][] = [
      ['kafka://orders-failed', { kind: 'kafka', topic: 'orders-failed' }],
      ['arn:aws:sqs:eu-west-1:123456789012:orders-dlq', { kind: 'sqs', arn: 'arn:aws:sqs:eu-west-1:123456789012:orders-dlq' }],
      ['arn:aws:sns:us-east-1:123456789012:alerts.fifo', { kind: 'sns', arn: 'arn:aws:sns:us-east-1:123456789012:alerts.fifo' }],
      ['arn:aws:s3:::failed-batches', { kind: 's3', arn: 'arn:aws:s3:::failed-batches' }],
      ['arn:aws-cn:sqs:cn-north-1:123456789012:q', { kind: 'sqs', arn: 'arn:aws-cn:sqs:cn-north-1:123456789012:q' }],
    ];
    for (const [text, expected] of cases) {
      const parsed = parseFailureDestination(text);
      expect(parsed).toEqual(expected);
      expect(formatFailureDestination(parsed)).toBe(text);
    }
  });

  it.each([
    ['kafka://', 'names no topic'],
    ['kafka://bad/topic', "'bad/topic' in 'kafka://bad/topic' is not a valid Kafka topic name"],
    ['arn:aws:lambda:us-east-1:123456789012:function:f', 'is not an SQS queue, SNS topic or S3 bucket ARN'],
    ['arn:aws:sqs:us-east-1:1234:q', 'is not an SQS queue, SNS topic or S3 bucket ARN'],
    ['orders-failed', 'is neither kafka://<topic> nor an SQS, SNS or S3 ARN'],
  ])('refuses the destination %j: %s', (text, words) => {
    expect(() => parseFailureDestination(text)).toThrow(words);
  });

  it.each([
    [{ maximumRetryAttempts: -2 }, 'maximumRetryAttempts', 'from 0 to 10000, got -2'],
    [{ maximumRetryAttempts: 10_001 }, 'maximumRetryAttempts', 'got 10001'],
    [{ maximumRetryAttempts: 1.5 }, 'maximumRetryAttempts', 'got 1.5'],
    [{ maximumRecordAgeInSeconds: 59 }, 'maximumRecordAgeInSeconds', 'from 60 to 604800, got 59'],
    [{ maximumRecordAgeInSeconds: 0 }, 'maximumRecordAgeInSeconds', 'got 0'],
    [{ maximumRecordAgeInSeconds: 604_801 }, 'maximumRecordAgeInSeconds', 'got 604801'],
    [{ onFailure: { kind: 'kafka', topic: 'orders' } }, 'onFailure', 'kafka://orders is the source topic'],
  ] as const)('refuses %j naming %s', (overrides, field, words) => {
    const problem = checkErrorHandling(settings(overrides), 'orders');
    expect(problem?.field).toBe(field);
    expect(problem?.message).toContain(words);
  });

  it('accepts the ends of every range', () => {
    for (const maximumRetryAttempts of [-1, 0, 10_000]) {
      for (const maximumRecordAgeInSeconds of [-1, 60, 604_800]) {
        expect(checkErrorHandling(settings({ maximumRetryAttempts, maximumRecordAgeInSeconds }), 'orders')).toBeUndefined();
      }
    }
    expect(checkErrorHandling(settings({ onFailure: { kind: 'kafka', topic: 'orders-failed' } }), 'orders')).toBeUndefined();
  });

  it('counts retries as AWS does: infinite without a destination, 10 when infinite meets a destination', () => {
    expect(retryLimit(AWS_DEFAULT_ERROR_HANDLING)).toBe(Number.POSITIVE_INFINITY);
    expect(retryLimit(settings({ onFailure: { kind: 'kafka', topic: 'failed' } }))).toBe(10);
    expect(retryLimit(settings({ maximumRetryAttempts: 0, onFailure: { kind: 'kafka', topic: 'failed' } }))).toBe(0);
    expect(retryLimit(settings({ maximumRetryAttempts: 25, onFailure: { kind: 's3', arn: 'arn:aws:s3:::b' } }))).toBe(25);
  });
});
