/**
 * POST /produce with "valueSubject" / "keySubject" through the real `serverless offline start`, against
 * the real registry and broker: the value (key) written in Confluent's wire format with the subject's
 * latest schema, read back by a real consumer and decoded by libraries that are not ours; refusals write
 * nothing (end offsets do not move).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import avro from 'avsc';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, endOffsets, readRawRecords, uniqueName } from './support/kafka';
import { type Offline, startOffline } from './support/offline';
import { REPO_ROOT } from './support/processes';
import {
  PAYMENT_AVRO,
  PAYMENT_JSON_SCHEMA,
  PAYMENT_PROTO,
  registerSchema,
  testRegistryUrl,
  uniqueSubject,
} from './support/schema-registry';

const topic = uniqueName('produce-schema');
const refused = uniqueName('produce-schema-refused');
const readmeTopic = uniqueName('produce-schema-readme');
let offline: Offline;

async function post(body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const response = await fetch(`${offline.baseUrl}/produce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } };
}

function schemaIdOf(bytes: Buffer | null): number {
  expect(bytes?.[0]).toBe(0);
  return bytes?.readUInt32BE(1) ?? -1;
}

beforeAll(async () => {
  await createTopic(topic, 1);
  await createTopic(refused, 3);
  await createTopic(readmeTopic, 3);
  offline = await startOffline({ env: { PRODUCE_TOPICS: [topic, refused, readmeTopic].join(',') } });
});

afterAll(async () => {
  await offline?.stop();
});

describe('POST /produce with a schema registry subject', () => {
  it('writes Avro, Protobuf and JSON Schema values in the wire format, keyed by an Avro key', async () => {
    const avroSubject = uniqueSubject('pay-avro');
    const keySubject = `${uniqueName('pay-key')}-key`;
    const protoSubject = uniqueSubject('pay-proto');
    const jsonSubject = uniqueSubject('pay-json');
    const avroId = await registerSchema(avroSubject, 'AVRO', PAYMENT_AVRO);
    const keyId = await registerSchema(keySubject, 'AVRO', JSON.stringify({ type: 'string' }));
    const protoId = await registerSchema(protoSubject, 'PROTOBUF', PAYMENT_PROTO);
    const jsonId = await registerSchema(jsonSubject, 'JSON', PAYMENT_JSON_SCHEMA);

    const avroAnswer = await post({ topic, valueSubject: avroSubject, keySubject, key: 'user1', value: { user: 'user1', amount: 42 } });
    expect(avroAnswer).toEqual({ status: 200, body: { topic, results: [{ key: 'user1', partition: 0, offset: '0' }] } });
    const protoAnswer = await post({
      topic,
      valueSubject: protoSubject,
      messages: [{ value: { user: 'user2', amount: '9007199254740993', lines: [{ sku: 'a-1', qty: 2 }] } }],
    });
    expect(protoAnswer.status, JSON.stringify(protoAnswer.body)).toBe(200);
    expect((await post({ topic, valueSubject: jsonSubject, value: { user: 'user3', amount: 7 } })).status).toBe(200);

    const [avroRecord, protoRecord, jsonRecord] = await readRawRecords(topic, 3);
    const Payment = avro.Type.forSchema(JSON.parse(PAYMENT_AVRO) as avro.Schema);
    expect(schemaIdOf(avroRecord?.value ?? null)).toBe(avroId);
    expect(Payment.fromBuffer(avroRecord?.value?.subarray(5) ?? Buffer.alloc(0))).toEqual({ user: 'user1', amount: 42, note: null });
    expect(schemaIdOf(avroRecord?.key ?? null)).toBe(keyId);
    expect(avro.Type.forSchema('string').fromBuffer(avroRecord?.key?.subarray(5) ?? Buffer.alloc(0))).toBe('user1');

    expect(schemaIdOf(protoRecord?.value ?? null)).toBe(protoId);
    expect(protoRecord?.value?.[5]).toBe(0); // message indexes [0], written as one 0 byte
    const ProtoPayment = protobuf.parse(PAYMENT_PROTO, { keepCase: true }).root.lookupType('tutorial.Payment');
    const decoded = ProtoPayment.toObject(ProtoPayment.decode(protoRecord?.value?.subarray(6) ?? Buffer.alloc(0)), { longs: String });
    expect(decoded).toEqual({ user: 'user2', amount: '9007199254740993', lines: [{ sku: 'a-1', qty: 2 }] });

    expect(schemaIdOf(jsonRecord?.value ?? null)).toBe(jsonId);
    expect(JSON.parse(jsonRecord?.value?.subarray(5).toString() ?? '')).toEqual({ user: 'user3', amount: 7 });
  });

  it('refuses an unknown subject (404) and a value that does not match (400), and writes nothing', async () => {
    const subject = uniqueSubject('pay-refused');
    await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const before = await endOffsets(refused);

    const unknown = await post({ topic: refused, valueSubject: uniqueSubject('no-such'), value: { user: 'user1', amount: 1 } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe('SCHEMA_NOT_FOUND');

    const mismatch = await post({
      topic: refused,
      valueSubject: subject,
      messages: [{ value: { user: 'user1', amount: 1 } }, { value: { user: 'user2', amount: 'lots' } }],
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    expect(mismatch.body.error?.message).toContain('messages[1].value.amount');

    const badSubject = await post({ topic: refused, valueSubject: '', value: 'x' });
    expect(badSubject.status).toBe(400);
    expect(badSubject.body.error?.code).toBe('INVALID_REQUEST');

    expect(await endOffsets(refused)).toEqual(before);
  });

  it("runs the README's curls word for word (but the URLs, the topic and the subject) and writes the Avro record they show", async () => {
    const readme = readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('### Writing records with a schema'),
      readme.indexOf('\n## ', readme.indexOf('## Schema registries')),
    );
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const subject = uniqueSubject('readme');
    const localize = (text: string) =>
      text
        .replaceAll('http://127.0.0.1:8081/apis/ccompat/v7', testRegistryUrl())
        .replaceAll('http://localhost:3000', offline.baseUrl)
        .replaceAll('payment-done-value', subject)
        .replaceAll('"payment-done"', `"${readmeTopic}"`);
    // Commands are the lines up to each printed answer (`# …`); continuation lines joined by the shell.
    const parts = localize(block).split(/^# (.*)$/m);
    const run = promisify(execFile);
    const register = await run('bash', ['-c', parts[0] ?? '']);
    expect(register.stdout).toMatch(/^\{"id":\d+\}$/);
    expect(parts[1]).toBe('{"id":1}');
    const produce = await run('bash', ['-c', parts[2] ?? '']);
    expect(produce.stdout).toBe(parts[3]);

    const [record] = await readRawRecords(readmeTopic, 1);
    expect(record?.key?.toString()).toBe('user1');
    expect(schemaIdOf(record?.value ?? null)).toBe(JSON.parse(register.stdout).id);
    const Payment = avro.Type.forSchema({
      type: 'record',
      name: 'Payment',
      fields: [
        { name: 'user', type: 'string' },
        { name: 'amount', type: 'int' },
      ],
    });
    expect(Payment.fromBuffer(record?.value?.subarray(5) ?? Buffer.alloc(0))).toEqual({ user: 'user1', amount: 42 });
  });
});
