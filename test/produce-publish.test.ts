/** lib/produce against the real broker: what a real consumer reads back, and offsets that do not move. */
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../lib/config';
import { BrokerUnavailableError, KafkaFunctionsError } from '../lib/errors';
import { createKafka } from '../lib/kafka/client';
import { createDefaultPartitioner, createVipUsersPartitioner, partitionForKey, VIP_PARTITION } from '../lib/produce/partitioners';
import type { ProduceRecord, ProduceRequest } from '../lib/produce/produce-request';
import { closePublishDependencies, createPublishDependencies, publish, type PublishDependencies } from '../lib/produce/publish';
import { freePortPair } from './support/free-port';
import { waitFor } from './support/wait';
import { createTopic, endOffsets, readRecords, testBrokers, uniqueName, withAdmin } from './support/kafka';

function record(fields: Partial<ProduceRecord> & { value: string }): ProduceRecord {
  return { key: null, parsedValue: fields.value, headers: {}, partition: undefined, ...fields };
}

function dependenciesFor(
  brokers: string[],
  options: Partial<Pick<PublishDependencies, 'partitioner' | 'timeoutMs'>> = {},
  env: NodeJS.ProcessEnv = {},
): PublishDependencies {
  const config = loadConfig({ KAFKA_BROKERS: brokers.join(','), KAFKA_CONNECTION_TIMEOUT_MS: '1000', KAFKA_RETRIES: '1', ...env });
  return createPublishDependencies(createKafka(config.kafka), { partitioner: createDefaultPartitioner(), timeoutMs: 5_000, ...options });
}

async function rejection(promise: Promise<unknown>): Promise<KafkaFunctionsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KafkaFunctionsError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('publishing through lib/produce', () => {
  let dependencies: PublishDependencies;

  beforeAll(() => {
    dependencies = dependenciesFor(testBrokers());
  });
  afterAll(async () => {
    await closePublishDependencies(dependencies);
  });

  it('writes a keyed record that a real consumer reads back with its value, headers and the murmur2 partition', async () => {
    const topic = await createTopic(uniqueName('produce-one'), 3);
    const result = await publish(
      { topic, records: [record({ key: 'user1', value: '{"amount":42}', headers: { source: 'checkout' } })] },
      dependencies,
    );
    const expectedPartition = partitionForKey(Buffer.from('user1'), 3);
    expect(result).toEqual({ topic, results: [{ key: 'user1', partition: expectedPartition, offset: '0' }] });
    const [read] = await readRecords(topic, 1);
    expect(read).toEqual({
      partition: expectedPartition,
      offset: '0',
      key: 'user1',
      value: '{"amount":42}',
      headers: { source: 'checkout' },
    });
  });

  it("answers a batch in request order with each record's own partition and offset", async () => {
    const topic = await createTopic(uniqueName('produce-batch'), 3);
    const keys = ['user1', 'user2', 'user1', 'user3', 'user2', 'user1'];
    const request: ProduceRequest = { topic, records: keys.map((key, i) => record({ key, value: `event ${i}` })) };
    const { results } = await publish(request, dependencies);

    expect(results.map(({ key }) => key)).toEqual(keys);
    for (const result of results) expect(result.partition).toBe(partitionForKey(Buffer.from(result.key ?? ''), 3));
    const read = await readRecords(topic, keys.length);
    for (const [i, result] of results.entries()) {
      const found = read.find((r) => r.partition === result.partition && r.offset === result.offset);
      expect(found?.value).toBe(`event ${i}`);
    }
    // The same key always lands on the same partition, and in the order it was sent.
    const user1 = read.filter((r) => r.key === 'user1');
    expect(new Set(user1.map((r) => r.partition)).size).toBe(1);
    expect(user1.map((r) => r.value)).toEqual(['event 0', 'event 2', 'event 5']);
  });

  it('spreads records without a key evenly over all partitions and honours an explicit partition', async () => {
    const topic = await createTopic(uniqueName('produce-spread'), 3);
    const keyless = await publish({ topic, records: Array.from({ length: 6 }, (_, i) => record({ value: `k${i}` })) }, dependencies);
    const counts = [0, 1, 2].map((partition) => keyless.results.filter((r) => r.partition === partition).length);
    expect(counts).toEqual([2, 2, 2]);

    const pinned = await publish(
      { topic, records: [record({ key: 'user1', value: 'pinned', partition: 2 }), record({ value: 'also', partition: 0 })] },
      dependencies,
    );
    expect(pinned.results.map((r) => r.partition)).toEqual([2, 0]);
    const read = await readRecords(topic, 8);
    expect(read.find((r) => r.value === 'pinned')?.partition).toBe(2);
    expect(read.find((r) => r.value === 'also')?.partition).toBe(0);
  });

  it('sends VIP users to their own partition with the vip-users strategy and nobody else there', async () => {
    const topic = await createTopic(uniqueName('produce-vip'), 4);
    const vip = dependenciesFor(testBrokers(), { partitioner: createVipUsersPartitioner() });
    try {
      const records = Array.from({ length: 40 }, (_, i) => {
        const value = { user: `user${i}`, tier: i % 5 === 0 ? 'vip' : 'basic' };
        return record({ key: `user${i}`, value: JSON.stringify(value), parsedValue: value });
      });
      const { results } = await publish({ topic, records }, vip);
      const read = await readRecords(topic, 40);
      for (const [i, result] of results.entries()) {
        const landed = read.find((r) => r.partition === result.partition && r.offset === result.offset);
        expect(landed?.key).toBe(`user${i}`);
        if (i % 5 === 0) expect(landed?.partition).toBe(VIP_PARTITION);
        else expect(landed?.partition).not.toBe(VIP_PARTITION);
      }
    } finally {
      await closePublishDependencies(vip);
    }
  });

  it("splits a batch that would exceed the topic's max.message.bytes into several sends and writes all of it in order", async () => {
    const topic = uniqueName('produce-split');
    await withAdmin((admin) =>
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }],
        waitForLeaders: true,
      }),
    );
    const records = Array.from({ length: 10 }, (_, i) => record({ key: 'same', value: `${i}`.padEnd(1_000, '.') }));
    const { results } = await publish({ topic, records }, dependencies);
    expect(results.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const read = await readRecords(topic, 10);
    expect(read.map((r) => r.value?.slice(0, 1))).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('refuses a partition the topic does not have, and a record over its size limit, and writes nothing', async () => {
    const topic = uniqueName('produce-refuse');
    await withAdmin((admin) =>
      admin.createTopics({
        topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
        waitForLeaders: true,
      }),
    );
    const before = await endOffsets(topic);

    const badPartition = await rejection(
      publish({ topic, records: [record({ value: 'ok' }), record({ value: 'x', partition: 3 })] }, dependencies),
    );
    expect(badPartition.code).toBe('INVALID_REQUEST');
    expect(badPartition.message).toContain('messages[1].partition 3 does not exist');

    const tooLarge = await rejection(
      publish({ topic, records: [record({ value: 'ok' }), record({ value: 'x'.repeat(3_000) })] }, dependencies),
    );
    expect(tooLarge.code).toBe('RECORD_TOO_LARGE');

    expect(await endOffsets(topic)).toEqual(before);
  });

  it('answers TOPIC_NOT_FOUND for a topic that does not exist and does not create it', async () => {
    const topic = uniqueName('produce-missing');
    const error = await rejection(publish({ topic, records: [record({ value: 'x' })] }, dependencies));
    expect(error.code).toBe('TOPIC_NOT_FOUND');
    expect(await withAdmin((admin) => admin.listTopics())).not.toContain(topic);
  });

  it('writes nothing after answering BROKER_UNAVAILABLE at its deadline, even when Kafka answers late', async () => {
    // Prepare: a topic lookup that answers only after the request was answered at its 300 ms deadline
    // (a broker that is slow to come back).
    const topic = await createTopic(uniqueName('produce-late'), 1);
    const late = dependenciesFor(testBrokers(), { timeoutMs: 300 });
    const lookup = late.topics.get.bind(late.topics);
    let releaseLookup: () => void = () => undefined;
    const released = new Promise<void>((resolveReleased) => {
      releaseLookup = resolveReleased;
    });
    let lookupAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolveAnswered) => {
      lookupAnswered = resolveAnswered;
    });
    late.topics.get = async (name: string) => {
      const info = await lookup(name);
      await released;
      lookupAnswered();
      return info;
    };
    const producerGet = late.producer.get.bind(late.producer);
    let producerAsked = 0;
    late.producer.get = () => {
      producerAsked += 1;
      return producerGet();
    };

    try {
      // Act
      const error = await rejection(publish({ topic, records: [record({ value: 'must not be written' })] }, late));
      releaseLookup();
      await answered;
      await new Promise((resolveTurn) => setImmediate(resolveTurn));

      // Assess
      expect(error.code).toBe('BROKER_UNAVAILABLE');
      expect(producerAsked).toBe(0);
      expect(await endOffsets(topic)).toEqual(new Map([[0, '0']]));
    } finally {
      await closePublishDependencies(late);
    }
  });

  it('keeps writing to an existing topic after a topic the same producer wrote to was deleted', async () => {
    // Prepare: a warm producer that has written to a topic which is then deleted.
    const own = dependenciesFor(testBrokers());
    const gone = await createTopic(uniqueName('produce-deleted'), 1);
    const other = await createTopic(uniqueName('produce-after-delete'), 1);
    try {
      await publish({ topic: gone, records: [record({ value: 'before the delete' })] }, own);
      await withAdmin((admin) => admin.deleteTopics({ topics: [gone] }));
      await waitFor(`${gone} gone from the metadata`, async () => !(await withAdmin((admin) => admin.listTopics())).includes(gone));

      // Act
      const first = await publish({ topic: other, records: [record({ value: 'after the delete' })] }, own);
      const second = await publish({ topic: other, records: [record({ value: 'and again' })] }, own);

      // Assess: both answered where they landed, and a real consumer reads both.
      expect(first.results).toEqual([{ key: null, partition: 0, offset: '0' }]);
      expect(second.results).toEqual([{ key: null, partition: 0, offset: '1' }]);
      expect((await readRecords(other, 2)).map((read) => read.value)).toEqual(['after the delete', 'and again']);
    } finally {
      await closePublishDependencies(own);
    }
  });

  it('reuses one connected producer across publishes', async () => {
    const topic = await createTopic(uniqueName('produce-reuse'), 1);
    const first = await dependencies.producer.get();
    await publish({ topic, records: [record({ value: 'a' })] }, dependencies);
    await publish({ topic, records: [record({ value: 'b' })] }, dependencies);
    expect(await dependencies.producer.get()).toBe(first);
  });
});

describe('publishing when the broker cannot be reached', () => {
  it('fails with BROKER_UNAVAILABLE within the timeout, again on the next call, without hanging', async () => {
    const port = await freePortPair();
    const unreachable = dependenciesFor([`localhost:${port}`], { timeoutMs: 3_000 });
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const started = Date.now();
        const error = await rejection(publish({ topic: 'payment-done', records: [record({ value: 'x' })] }, unreachable));
        expect(error).toBeInstanceOf(BrokerUnavailableError);
        expect(Date.now() - started).toBeLessThan(3_500);
      }
    } finally {
      await closePublishDependencies(unreachable);
    }
  });

  it('answers BROKER_UNAVAILABLE at the deadline when a broker accepts connections but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolveListen) => silent.listen(0, '127.0.0.1', resolveListen));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    // kafkajs's own timeouts (10 s to connect, 5 s per request) are longer than the 1.5 s deadline, so only
    // the deadline can answer.
    const hanging = dependenciesFor([`127.0.0.1:${address.port}`], { timeoutMs: 1_500 }, { KAFKA_CONNECTION_TIMEOUT_MS: '10000' });
    // The deadline runs on a fake clock: the window is exact whatever the machine's load. Date and
    // intervals stay real; the socket to the silent broker is real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const publishing = rejection(publish({ topic: 'payment-done', records: [record({ value: 'x' })] }, hanging));
      let settled = false;
      void publishing.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      await vi.advanceTimersByTimeAsync(1_499);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const error = await publishing;
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(error.message).toBe('Kafka did not answer within 1500 ms');
    } finally {
      vi.useRealTimers();
      await closePublishDependencies(hanging);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolveClose) => silent.close(resolveClose));
    }
  });
});
