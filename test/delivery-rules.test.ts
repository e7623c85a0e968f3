/**
 * The delivery policy (lib/consumer/delivery-policy.ts) without a broker: each of AWS's error-handling rules
 * on records built in memory, with a function that fails as told, a recording destination and no real waits.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  AWS_DEFAULT_ERROR_HANDLING,
  deliverBatch,
  type DeliveryContext,
  type ErrorHandling,
  type FailedRecords,
  readInvocationResponse,
} from '../lib/consumer/delivery-policy';
import { buildKafkaEvent, eventRecords, type KafkaEvent, type PartitionBatch } from '../lib/consumer/lambda-event';

const NOW = 1_700_000_000_000;
const quiet = new Logger({ logLevel: 'SILENT' });

function messages(count: number, { from = 0, timestamp = NOW } = {}): KafkaMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: Buffer.from(`key-${from + index}`),
    value: Buffer.from(`value-${from + index}`),
    offset: String(from + index),
    timestamp: String(timestamp),
    attributes: 0,
    headers: {},
  }));
}

function batch(partition: number, list: KafkaMessage[], topic = 'orders'): PartitionBatch {
  return { topic, partition, messages: list };
}

interface Harness {
  ctx: DeliveryContext;
  /** Offsets of each invocation, as "<partition>@<offset>". */
  invocations: string[][];
  commits: Map<number, string>;
  sent: FailedRecords[];
  waits: number[];
  stop: () => void;
}

function harness(settings: Partial<ErrorHandling>, fn: (event: KafkaEvent, call: number) => unknown, withDestination = true): Harness {
  const invocations: string[][] = [];
  const commits = new Map<number, string>();
  const sent: FailedRecords[] = [];
  const waits: number[] = [];
  let stopping = false;
  const errorHandling: ErrorHandling = {
    ...AWS_DEFAULT_ERROR_HANDLING,
    ...(withDestination ? { onFailure: { kind: 'kafka', topic: 'orders-failed' } } : {}),
    ...settings,
  };
  const ctx: DeliveryContext = {
    settings: errorHandling,
    retryBackoffMs: 100,
    toEvent: (batches) => buildKafkaEvent({ kind: 'SelfManagedKafka', bootstrapServers: ['b:9092'] }, batches),
    invoke: async (event) => {
      invocations.push(eventRecords(event).map(({ partition, offset }) => `${partition}@${offset}`));
      return fn(event, invocations.length);
    },
    sendToDestination: errorHandling.onFailure === undefined ? undefined : async (failed) => void sent.push(failed),
    commit: (_topic, partition, next) => {
      const previous = commits.get(partition);
      if (previous !== undefined && BigInt(next) < BigInt(previous)) throw new Error(`commit went back on ${partition}`);
      commits.set(partition, next);
    },
    wait: async (ms) => void waits.push(ms),
    stopping: () => stopping,
    now: () => NOW,
    logger: quiet,
    stats: { invocations: 0, failedInvocations: 0, retries: 0, sentToDestination: 0, discarded: 0 },
  };
  return { ctx, invocations, commits, sent, waits, stop: () => (stopping = true) };
}

async function settle(h: Harness, batches: PartitionBatch[]) {
  const delivery = deliverBatch(batches, h.ctx);
  await delivery.invoked;
  return Object.fromEntries(await Promise.all([...delivery.outcomes].map(async ([key, outcome]) => [key, (await outcome).kind])));
}

const offsetsOf = (failed: FailedRecords | undefined) => failed?.batches.flatMap((b) => b.messages.map((m) => Number(m.offset)));
const poison = (event: KafkaEvent, offset: number) => eventRecords(event).some((record) => record.offset === offset);

describe('delivery policy', () => {
  it('commits a batch that succeeds after one invocation, every partition after its last record', async () => {
    const h = harness({}, () => undefined);
    expect(await settle(h, [batch(0, messages(3)), batch(1, messages(2))])).toEqual({ 'orders-0': 'done', 'orders-1': 'done' });
    expect(h.invocations).toEqual([['0@0', '0@1', '0@2', '1@0', '1@1']]);
    expect(h.commits).toEqual(
      new Map([
        [0, '3'],
        [1, '2'],
      ]),
    );
    expect(h.ctx.stats).toMatchObject({ invocations: 1, retries: 0 });
  });

  it('retries a failing batch with doubling backoff, then to the destination after 1 + maximumRetryAttempts attempts', async () => {
    const h = harness({ maximumRetryAttempts: 2 }, () => {
      throw new Error('boom');
    });
    expect(await settle(h, [batch(0, messages(3))])).toEqual({ 'orders-0': 'done' });
    expect(h.invocations).toHaveLength(3);
    expect(h.waits).toEqual([100, 200]);
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ condition: 'RetriesExhausted', attempts: 3, error: 'boom' });
    expect(offsetsOf(h.sent[0])).toEqual([0, 1, 2]);
    expect(h.commits.get(0)).toBe('3');
    expect(h.ctx.stats).toMatchObject({ retries: 2, sentToDestination: 3 });
  });

  it('with infinite retries and a destination applies 10 retries, as AWS does', async () => {
    const h = harness({ maximumRetryAttempts: -1 }, () => {
      throw new Error('boom');
    });
    await settle(h, [batch(0, messages(1))]);
    expect(h.invocations).toHaveLength(11);
    expect(h.sent[0]?.attempts).toBe(11);
  });

  it('without a destination discards records whose retries are used up, and commits them', async () => {
    const h = harness(
      { maximumRetryAttempts: 0 },
      () => {
        throw new Error('boom');
      },
      false,
    );
    expect(await settle(h, [batch(0, messages(2))])).toEqual({ 'orders-0': 'done' });
    expect(h.invocations).toHaveLength(1);
    expect(h.commits.get(0)).toBe('2');
    expect(h.ctx.stats.discarded).toBe(2);
  });

  it('with infinite retries and no destination retries until the member stops, committing nothing', async () => {
    const h = harness(
      {},
      (_event, call) => {
        if (call === 25) h.stop();
        throw new Error('boom');
      },
      false,
    );
    expect(await settle(h, [batch(0, messages(2))])).toEqual({ 'orders-0': 'interrupted' });
    expect(h.invocations).toHaveLength(25);
    expect(h.waits.at(-1)).toBe(60_000);
    expect(h.commits.size).toBe(0);
  });

  it('a retrying partition blocks only itself: the others of the failed batch settle while it still retries', async () => {
    const h = harness(
      {},
      (event) => {
        if (poison(event, 5)) throw new Error('partition 0 fails');
      },
      false,
    );
    h.ctx.wait = () => new Promise((resolvePromise) => setImmediate(resolvePromise));
    const delivery = deliverBatch([batch(0, messages(1, { from: 5 })), batch(1, messages(2))], h.ctx);
    await delivery.invoked;
    // The first invocation held both partitions and failed: partition 1 is retried alone and succeeds.
    expect((await delivery.outcomes.get('orders-1'))?.kind).toBe('done');
    expect(h.commits).toEqual(new Map([[1, '2']]));
    h.stop();
    expect((await delivery.outcomes.get('orders-0'))?.kind).toBe('interrupted');
    expect(h.commits.has(0)).toBe(false);
    expect(h.invocations.slice(1).filter((offsets) => offsets.includes('1@0'))).toEqual([['1@0', '1@1']]);
  });

  it('a partial batch response commits before the lowest failed offset and retries from there', async () => {
    const h = harness({ maximumRetryAttempts: 2, reportBatchItemFailures: true }, (event) => ({
      batchItemFailures: poison(event, 3) ? [{ itemIdentifier: { partition: 'orders-0', offset: 3 } }] : [],
    }));
    expect(await settle(h, [batch(0, messages(6)), batch(1, messages(2))])).toEqual({ 'orders-0': 'done', 'orders-1': 'done' });
    expect(h.invocations).toEqual([
      ['0@0', '0@1', '0@2', '0@3', '0@4', '0@5', '1@0', '1@1'],
      ['0@3', '0@4', '0@5'],
      ['0@3', '0@4', '0@5'],
    ]);
    expect(h.sent).toHaveLength(1);
    expect(offsetsOf(h.sent[0])).toEqual([3]);
    expect(h.sent[0]?.attempts).toBe(3);
    expect(h.commits).toEqual(
      new Map([
        [0, '6'],
        [1, '2'],
      ]),
    );
  });

  it('reads partial responses as AWS documents them: empty or null is success, malformed fails the whole batch', () => {
    const invoked = [batch(0, messages(2))];
    expect(readInvocationResponse({ batchItemFailures: [] }, invoked, true)).toEqual({ kind: 'success' });
    expect(readInvocationResponse({ batchItemFailures: null }, invoked, true)).toEqual({ kind: 'success' });
    expect(readInvocationResponse(null, invoked, true)).toEqual({ kind: 'success' });
    expect(readInvocationResponse({}, invoked, true)).toEqual({ kind: 'success' });
    const one = { batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 1 } }] };
    expect(readInvocationResponse(one, invoked, true)).toEqual({ kind: 'partial', failed: new Map([['orders-0', new Set(['1'])]]) });
    // Without ReportBatchItemFailures the response is not read.
    expect(readInvocationResponse(one, invoked, false)).toEqual({ kind: 'success' });
    for (const item of [
      { itemIdentifier: 'orders-0-1' },
      { itemIdentifier: { partition: 'orders-0', offset: 7 } },
      { itemIdentifier: { partition: 'orders-9', offset: 1 } },
      { itemIdentifier: { partition: 'orders-0' } },
      { itemIdentifier: null },
      'orders-0-1',
    ]) {
      expect(readInvocationResponse({ batchItemFailures: [item] }, invoked, true).kind, JSON.stringify(item)).toBe('error');
    }
    expect(readInvocationResponse({ batchItemFailures: 'all' }, invoked, true).kind).toBe('error');
  });

  it('bisects a failing batch down to the one record that throws; only that record reaches the destination', async () => {
    const h = harness({ maximumRetryAttempts: 1, bisectBatchOnFunctionError: true }, (event) => {
      if (poison(event, 37)) throw new Error('record 37 is bad');
    });
    expect(await settle(h, [batch(0, messages(100))])).toEqual({ 'orders-0': 'done' });
    const sizes = h.invocations.map((offsets) => offsets.length);
    expect(sizes.filter((_, index) => h.invocations[index]?.includes('0@37'))).toEqual([100, 50, 25, 13, 6, 3, 1, 1]);
    expect(h.sent).toHaveLength(1);
    expect(offsetsOf(h.sent[0])).toEqual([37]);
    expect(h.commits.get(0)).toBe('100');
    // Every other record was handled by an invocation that succeeded.
    const succeeded = new Set(h.invocations.filter((offsets) => !offsets.includes('0@37')).flat());
    expect(succeeded.size).toBe(99);
  });

  it('never gives expired records to the function: they go to the destination before the invocation', async () => {
    const h = harness({ maximumRecordAgeInSeconds: 60 }, () => undefined);
    const old = messages(2, { timestamp: NOW - 61_000 });
    const fresh = messages(2, { from: 2 });
    expect(await settle(h, [batch(0, [...old, ...fresh])])).toEqual({ 'orders-0': 'done' });
    expect(h.invocations).toEqual([['0@2', '0@3']]);
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ condition: 'RecordAgeExceeded', attempts: 0, error: undefined });
    expect(offsetsOf(h.sent[0])).toEqual([0, 1]);
    expect(h.commits.get(0)).toBe('4');
  });

  it('a destination that refuses records leaves them and what follows uncommitted', async () => {
    const h = harness({ maximumRetryAttempts: 0 }, () => {
      throw new Error('boom');
    });
    h.ctx.sendToDestination = async () => {
      throw new Error('topic orders-failed does not exist');
    };
    expect(await settle(h, [batch(0, messages(2))])).toEqual({ 'orders-0': 'destination-failed' });
    expect(h.commits.size).toBe(0);
  });
});
