/**
 * AWS Lambda's error-handling controls for Kafka event sources (MSK and self-managed), as AWS documents
 * them ("Configuring error handling controls for Kafka event sources", "Capturing discarded batches"):
 *
 * - MaximumRetryAttempts: -1 (infinite, the default) or 0..10000; the first invocation is not counted.
 *   With infinite retries and an on-failure destination, Lambda applies at most 10 retries.
 * - MaximumRecordAgeInSeconds: -1 (infinite, the default) or 60..604800.
 * - BisectBatchOnFunctionError: split a failing batch in two and retry each half.
 * - FunctionResponseTypes [ReportBatchItemFailures]: the function names the records that failed.
 * - DestinationConfig.OnFailure: a Kafka topic (`kafka://topic`, same cluster, not the source topic), an SQS
 *   queue, an SNS topic or an S3 bucket.
 *
 * These settings are shared by lib/config.ts (the consume function) and the offline plugin (serverless.yml).
 */
import { TOPIC_NAME } from '../config';

export type FailureDestination = { kind: 'kafka'; topic: string } | { kind: 'sqs' | 'sns' | 's3'; arn: string };

export interface ErrorHandling {
  /** -1 = infinite (AWS default); 0..10000; the first attempt not counted. */
  maximumRetryAttempts: number;
  /** -1 = infinite (AWS default); 60..604800. */
  maximumRecordAgeInSeconds: number;
  /** Default false. */
  bisectBatchOnFunctionError: boolean;
  /** FunctionResponseTypes: [ReportBatchItemFailures]. */
  reportBatchItemFailures: boolean;
  onFailure: FailureDestination | undefined;
}

export const AWS_DEFAULT_ERROR_HANDLING: ErrorHandling = Object.freeze({
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  onFailure: undefined,
});

export const MAX_RETRY_ATTEMPTS = 10_000;
export const MIN_RECORD_AGE_SECONDS = 60;
export const MAX_RECORD_AGE_SECONDS = 604_800;
/** Retries AWS applies when MaximumRetryAttempts is infinite and an on-failure destination is set. */
export const INFINITE_RETRIES_WITH_DESTINATION = 10;

const KAFKA_PREFIX = 'kafka://';
/** arn:<partition>:<service>:<region>:<account>:<resource>; S3 bucket ARNs have neither region nor account. */
const QUEUE_OR_TOPIC_ARN = /^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/;
const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `kafka://topic` or an SQS/SNS/S3 ARN; throws a clear Error naming what is wrong. */
export function parseFailureDestination(value: string): FailureDestination {
  const text = value.trim();
  if (text.startsWith(KAFKA_PREFIX)) {
    const topic = text.slice(KAFKA_PREFIX.length);
    if (topic === '') throw new Error(`'${value}' names no topic: expected kafka://<topic>`);
    if (!TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
      throw new Error(`'${topic}' in '${value}' is not a valid Kafka topic name (letters, digits, '.', '_', '-', at most 249)`);
    }
    return { kind: 'kafka', topic };
  }
  const queueOrTopic = QUEUE_OR_TOPIC_ARN.exec(text);
  if (queueOrTopic !== null) return { kind: queueOrTopic[1] === 'sqs' ? 'sqs' : 'sns', arn: text };
  if (BUCKET_ARN.test(text)) return { kind: 's3', arn: text };
  if (text.startsWith('arn:')) {
    throw new Error(
      `'${value}' is not an SQS queue, SNS topic or S3 bucket ARN ` +
        '(arn:aws:sqs:<region>:<account>:<queue>, arn:aws:sns:<region>:<account>:<topic>, arn:aws:s3:::<bucket>)',
    );
  }
  throw new Error(`'${value}' is neither kafka://<topic> nor an SQS, SNS or S3 ARN`);
}

/** The destination written back the way AWS spells it (DestinationConfig.OnFailure.Destination). */
export function formatFailureDestination(destination: FailureDestination): string {
  return destination.kind === 'kafka' ? `${KAFKA_PREFIX}${destination.topic}` : destination.arn;
}

/** Range checks shared by lib/config.ts and the plugin; returns an error message or undefined. */
export function checkErrorHandling(
  settings: ErrorHandling,
  sourceTopic: string,
): { field: keyof ErrorHandling; message: string } | undefined {
  const retries = settings.maximumRetryAttempts;
  if (!Number.isInteger(retries) || (retries !== -1 && (retries < 0 || retries > MAX_RETRY_ATTEMPTS))) {
    return {
      field: 'maximumRetryAttempts',
      message: `expected -1 (infinite) or a whole number from 0 to ${MAX_RETRY_ATTEMPTS}, got ${retries}`,
    };
  }
  const age = settings.maximumRecordAgeInSeconds;
  if (!Number.isInteger(age) || (age !== -1 && (age < MIN_RECORD_AGE_SECONDS || age > MAX_RECORD_AGE_SECONDS))) {
    return {
      field: 'maximumRecordAgeInSeconds',
      message: `expected -1 (infinite) or a whole number of seconds from ${MIN_RECORD_AGE_SECONDS} to ${MAX_RECORD_AGE_SECONDS}, got ${age}`,
    };
  }
  const destination = settings.onFailure;
  if (destination?.kind === 'kafka' && destination.topic === sourceTopic) {
    // AWS refuses this configuration to prevent a loop.
    return { field: 'onFailure', message: `kafka://${sourceTopic} is the source topic; the on-failure topic must be another one` };
  }
  return undefined;
}

/**
 * Retries after the first attempt before records go to the destination (or, without one, are retried on):
 * Infinity for -1 without a destination; 10 for -1 with a destination, as AWS applies.
 */
export function retryLimit(settings: ErrorHandling): number {
  if (settings.maximumRetryAttempts !== -1) return settings.maximumRetryAttempts;
  return settings.onFailure === undefined ? Number.POSITIVE_INFINITY : INFINITE_RETRIES_WITH_DESTINATION;
}
