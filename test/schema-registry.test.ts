/**
 * lib/schema-registry against the real registry the test setup starts: Confluent's wire format for Avro,
 * Protobuf (message indexes written and read as Confluent's serializers do) and JSON Schema, and what
 * happens with an unknown subject, an unknown schema id, bytes without the header, and a registry that is down.
 */
import protobuf from 'protobufjs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { SchemaMismatchError, SchemaNotFoundError, SchemaRegistryUnavailableError } from '../lib/errors';
import { protobufCodec } from '../lib/schema-registry/codecs';
import { createSchemaRegistryClient } from '../lib/schema-registry/registry-client';
import { createSchemaSerde } from '../lib/schema-registry/schema-serde';
import { decodeMessageIndexes, encodeMessageIndexes, frame } from '../lib/schema-registry/wire-format';
import { freePort } from './support/free-port';
import { PAYMENT_AVRO, PAYMENT_JSON_SCHEMA, PAYMENT_PROTO, registerSchema, testSerde, uniqueSubject } from './support/schema-registry';

function header(schemaId: number): number[] {
  return [0, (schemaId >>> 24) & 0xff, (schemaId >>> 16) & 0xff, (schemaId >>> 8) & 0xff, schemaId & 0xff];
}

describe('Confluent wire format with the registry', () => {
  it('writes Avro as magic byte, 4-byte schema id and Avro binary, and reads it back', async () => {
    const subject = uniqueSubject('avro');
    const id = await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const codec = testSerde();

    const encoded = await codec.encodeForSubject(subject, { user: 'user1', amount: 42, note: null }, 'record.value');

    const avroBody = avro.Type.forSchema(JSON.parse(PAYMENT_AVRO) as avro.Schema).toBuffer({ user: 'user1', amount: 42, note: null });
    expect([...encoded.bytes]).toEqual([...header(id), ...avroBody]);
    expect(encoded).toMatchObject({ schemaId: id, schemaType: 'AVRO' });
    expect(await codec.decode(encoded.bytes)).toEqual({
      kind: 'decoded',
      schemaId: id,
      schemaType: 'AVRO',
      json: { user: 'user1', amount: 42, note: null },
      body: avroBody,
    });
  });

  it('refuses an Avro value that does not match, naming the field', async () => {
    const subject = uniqueSubject('avro-bad');
    await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const attempt = testSerde().encodeForSubject(subject, { user: 'user1', amount: 'forty-two' }, 'record.value');
    await expect(attempt).rejects.toBeInstanceOf(SchemaMismatchError);
    await expect(attempt).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH', field: 'record.value.amount' });
  });

  it('writes the first Protobuf message with the [0] shortcut, a single 0 byte', async () => {
    const subject = uniqueSubject('proto');
    const id = await registerSchema(subject, 'PROTOBUF', PAYMENT_PROTO);
    const codec = testSerde();

    const value = { user: 'user1', amount: '9007199254740993', lines: [{ sku: 'a-1', qty: 2 }] };
    const encoded = await codec.encodeForSubject(subject, value, 'record.value');

    const Payment = protobuf.parse(PAYMENT_PROTO, { keepCase: true }).root.lookupType('tutorial.Payment');
    const message = Buffer.from(Payment.encode(Payment.fromObject(value)).finish());
    expect([...encoded.bytes]).toEqual([...header(id), 0, ...message]);
    const decoded = await codec.decode(encoded.bytes);
    expect(decoded).toMatchObject({ kind: 'decoded', schemaId: id, schemaType: 'PROTOBUF', json: value });
  });

  it('reads Protobuf messages other than the first by their message indexes', async () => {
    const subject = uniqueSubject('proto-idx');
    const id = await registerSchema(subject, 'PROTOBUF', PAYMENT_PROTO);
    const root = protobuf.parse(PAYMENT_PROTO, { keepCase: true }).root;
    const Refund = root.lookupType('tutorial.Refund');
    const Line = root.lookupType('tutorial.Payment.Line');
    const refund = Buffer.from(Refund.encode(Refund.fromObject({ user: 'user2', status: 'DONE' })).finish());
    const line = Buffer.from(Line.encode(Line.fromObject({ sku: 'b-2', qty: 7 })).finish());

    // Confluent's serializer: count, then each index, all zig-zag varints. [1] → 2 2; [0, 0] → 4 0 0.
    const refundBytes = Buffer.from([...header(id), 2, 2, ...refund]);
    const lineBytes = Buffer.from([...header(id), 4, 0, 0, ...line]);
    const codec = testSerde();
    expect(await codec.decode(refundBytes)).toMatchObject({ kind: 'decoded', json: { user: 'user2', status: 'DONE' } });
    expect(await codec.decode(lineBytes)).toMatchObject({ kind: 'decoded', json: { sku: 'b-2', qty: 7 } });

    // And written the same way when a message other than the first is chosen.
    const written = protobufCodec(PAYMENT_PROTO).encode({ user: 'user2', status: 'DONE' }, { messageName: 'Refund' });
    expect([...written]).toEqual([2, 2, ...refund]);
  });

  it('encodes and decodes message-index arrays as zig-zag varints', () => {
    expect([...encodeMessageIndexes([0])]).toEqual([0]);
    expect([...encodeMessageIndexes([1])]).toEqual([2, 2]);
    expect([...encodeMessageIndexes([0, 1])]).toEqual([4, 0, 2]);
    expect([...encodeMessageIndexes([70])]).toEqual([2, 0x8c, 0x01]);
    expect(decodeMessageIndexes(Buffer.from([0, 0x0a]))).toEqual({ indexes: [0], messageOffset: 1 });
    expect(decodeMessageIndexes(Buffer.from([2, 0x8c, 0x01, 0x0a]))).toEqual({ indexes: [70], messageOffset: 3 });
    expect(() => decodeMessageIndexes(Buffer.from([4, 0x80]))).toThrow(RangeError);
  });

  it('writes JSON Schema values as their JSON text and refuses one that does not match', async () => {
    const subject = uniqueSubject('json');
    const id = await registerSchema(subject, 'JSON', PAYMENT_JSON_SCHEMA);
    const codec = testSerde();

    const encoded = await codec.encodeForSubject(subject, { user: 'user1', amount: 5 }, 'record.value');
    expect([...encoded.bytes]).toEqual([...header(id), ...Buffer.from('{"user":"user1","amount":5}')]);
    expect(await codec.decode(encoded.bytes)).toMatchObject({ kind: 'decoded', schemaType: 'JSON', json: { user: 'user1', amount: 5 } });

    const attempt = codec.encodeForSubject(subject, { user: 'user1', amount: -1 }, 'record.value');
    await expect(attempt).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH', field: 'record.value.amount' });
    // A record that violates the schema is undecodable for a consumer too.
    const violating = frame(id, Buffer.from('{"user":"user1"}'));
    expect(await codec.decode(violating)).toMatchObject({ kind: 'undecodable', schemaId: id });
  });

  it('sorts unreadable records: no header, unknown schema id, bytes that are not the schema', async () => {
    const subject = uniqueSubject('avro-sort');
    const id = await registerSchema(subject, 'AVRO', PAYMENT_AVRO);
    const codec = testSerde();
    expect(await codec.decode(Buffer.from('{"user":"user1"}'))).toEqual({ kind: 'not-wire-format' });
    expect(await codec.decode(frame(2_000_000_000, Buffer.from([2, 0x61])))).toMatchObject({
      kind: 'schema-not-found',
      schemaId: 2_000_000_000,
    });
    expect(await codec.decode(frame(id, Buffer.from([0x0a, 0x61])))).toMatchObject({
      kind: 'undecodable',
      schemaId: id,
      schemaType: 'AVRO',
    });
  });

  it('answers an unknown subject with SchemaNotFoundError', async () => {
    const attempt = testSerde().encodeForSubject(uniqueSubject('missing'), { user: 'x' }, 'record.value');
    await expect(attempt).rejects.toBeInstanceOf(SchemaNotFoundError);
  });

  it('fails fast with SchemaRegistryUnavailableError when nothing listens', async () => {
    const port = await freePort();
    const down = createSchemaSerde(createSchemaRegistryClient({ url: `http://127.0.0.1:${port}/apis/ccompat/v7`, timeoutMs: 1_000 }));
    await expect(down.encodeForSubject('payment-done-value', {}, 'record.value')).rejects.toBeInstanceOf(SchemaRegistryUnavailableError);
    await expect(down.decode(frame(1, Buffer.from([0])))).rejects.toBeInstanceOf(SchemaRegistryUnavailableError);
  });
});
