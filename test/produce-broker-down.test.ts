/**
 * POST /produce while Kafka is down, then up: serverless offline starts pointing at a port where nothing
 * listens, answers 503 quickly and keeps serving; when a broker starts on that port, the same offline
 * process publishes again without a restart.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaUp, optionsFromEnv } from '../scripts/local-kafka/index';
import { stopJvmBroker } from '../scripts/local-kafka/jvm-broker';
import { stateFile } from '../scripts/local-kafka/paths';
import { partitionForKey } from '../lib/produce/partitioners';
import { freePortPair } from './support/free-port';
import { readRecords } from './support/kafka';
import type { Offline } from './support/offline';
import { startOffline } from './support/offline';
import { waitFor } from './support/wait';

const TIMEOUT_MS = 5_000;

let port: number;
let offline: Offline;
let brokerStarted = false;

async function postUser1(): Promise<{ status: number; body: unknown; retryAfter: string | null; elapsedMs: number }> {
  const started = Date.now();
  const response = await fetch(`${offline.baseUrl}/produce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'payment-done', key: 'user1', value: 'hi there' }),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(
      `POST /produce answered ${response.status} with a body that is not JSON: '${text}'\n${offline.process.output().slice(-3000)}`,
    );
  }
  return { status: response.status, body, retryAfter: response.headers.get('retry-after'), elapsedMs: Date.now() - started };
}

beforeAll(async () => {
  port = await freePortPair();
  offline = await startOffline({ env: { KAFKA_BROKERS: `localhost:${port}`, PRODUCE_TIMEOUT_MS: String(TIMEOUT_MS) } });
});

afterAll(async () => {
  await offline?.stop();
  if (brokerStarted) {
    await stopJvmBroker(port, { wipe: true });
    rmSync(stateFile(port), { force: true });
  }
});

describe('POST /produce when the broker cannot be reached', () => {
  it('answers 503 BROKER_UNAVAILABLE within PRODUCE_TIMEOUT_MS, with a retry hint and no internals', async () => {
    const answer = await postUser1();
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'BROKER_UNAVAILABLE', message: 'Kafka is not reachable right now; try again shortly' } });
    expect(answer.retryAfter).toBe('5');
    expect(answer.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
  });

  it('keeps serving: the next requests get their 503 quickly and a bad request still gets its 400', async () => {
    for (let i = 0; i < 3; i += 1) {
      const answer = await postUser1();
      expect(answer.status).toBe(503);
      expect(answer.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
    }
    const bad = await fetch(`${offline.baseUrl}/produce`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(bad.status).toBe(400);
    expect(offline.process.child.exitCode).toBeNull();
  });

  it('publishes again by itself once a broker is up on that port, without restarting offline', async () => {
    // A second Kafka of our own on the port the handler was pointed at; kafka:up creates payment-done.
    brokerStarted = true;
    await kafkaUp(optionsFromEnv({ KAFKA_PORT: String(port), KAFKA_MODE: 'jvm' }, () => undefined));

    let last: Awaited<ReturnType<typeof postUser1>> | undefined;
    const answer = await waitFor(
      () => `a 200 from POST /produce; last answer: ${JSON.stringify(last)}`,
      async () => {
        last = await postUser1();
        return last.status === 200 && last;
      },
      60_000,
      250,
    );
    const partition = partitionForKey(Buffer.from('user1'), 3);
    expect(answer).toMatchObject({ status: 200, body: { topic: 'payment-done', results: [{ key: 'user1', partition }] } });
    expect(offline.process.output().match(/"message":"kafka producer connected"/g) ?? []).toHaveLength(1);
    const [read] = await readRecords('payment-done', 1, 30_000, [`localhost:${port}`]);
    expect(read).toMatchObject({ key: 'user1', value: 'hi there', partition });
  });
});
