/**
 * One codec per schema type the registry holds: it checks a JSON value against the schema and writes the
 * body of the wire format, and reads a body back. Built once per schema id (see schema-codecs.ts).
 *   AVRO     avsc; the body is Avro binary.
 *   PROTOBUF protobufjs; the body is the message indexes, then the Protobuf message.
 *   JSON     ajv (JSON Schema draft-07, Confluent's default); the body is the JSON text.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import avro from 'avsc';
import protobuf from 'protobufjs';
import { decodeMessageIndexes, encodeMessageIndexes } from './wire-format';
import { errorMessage } from '../errors';

export type SchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';

/** The value does not match the schema; `path` says where (e.g. `amount`, `items[2].sku`). */
export class SchemaMismatch extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path === '' ? message : `${path}: ${message}`);
    this.name = 'SchemaMismatch';
  }
}

/** The body cannot be read with the schema (truncated, not this schema's bytes, no such message index). */
export class UndecodableBody extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'UndecodableBody';
  }
}

export interface Decoded {
  /** The value as JSON would carry it (AWS's `JSON` record format delivers this). */
  json: unknown;
  /** Protobuf only: the message indexes the body started with. */
  messageIndexes?: number[];
}

export interface Codec {
  readonly schemaType: SchemaType;
  /** Checks the value (throws SchemaMismatch) and returns the wire-format body. */
  encode(value: unknown, options?: { messageName?: string }): Buffer;
  /** Reads a wire-format body (throws UndecodableBody, or SchemaMismatch for a JSON Schema violation). */
  decode(body: Buffer): Decoded;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- Avro ----

/** Avro values as JSON: bytes and fixed as Avro's JSON encoding does (one character per byte), unions unwrapped. */
function avroToJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (Array.isArray(value)) return value.map(avroToJson);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([field, child]) => [field, avroToJson(child)]));
  }
  return value;
}

export function avroCodec(schema: string): Codec {
  const type = avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
  return {
    schemaType: 'AVRO',
    encode(value) {
      let mismatch: SchemaMismatch | undefined;
      // A JSON value has no Buffer: bytes and fixed arrive in Avro's JSON encoding and are coerced.
      let candidate: unknown = value;
      try {
        candidate = type.clone(value, { coerceBuffers: true });
      } catch {
        // Not even cloneable into the schema: isValid below says where.
      }
      const valid = type.isValid(candidate, {
        errorHook: (path, _value, expected) => {
          mismatch ??= new SchemaMismatch(path.join('.'), `expected Avro ${String(expected.typeName ?? expected)}`);
        },
      });
      if (!valid) throw mismatch ?? new SchemaMismatch('', 'the value does not match the Avro schema');
      return type.toBuffer(candidate);
    },
    decode(body) {
      try {
        return { json: avroToJson(type.fromBuffer(body)) };
      } catch (error) {
        throw new UndecodableBody(`not Avro of this schema: ${errorMessage(error)}`, { cause: error });
      }
    },
  };
}

// ---- Protobuf ----

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

function checkProtoScalar(type: string, value: unknown, path: string): void {
  const fail = (expected: string) => {
    throw new SchemaMismatch(path, `expected ${expected} (Protobuf ${type})`);
  };
  if (type === 'string' && typeof value !== 'string') fail('a string');
  if (type === 'bool' && typeof value !== 'boolean') fail('true or false');
  if ((type === 'double' || type === 'float') && typeof value !== 'number') fail('a number');
  if (type === 'bytes' && (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) fail('a base64 string');
  if (INT32.has(type) && !(Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31)) fail('a 32-bit integer');
  if (UINT32.has(type) && !(Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32))
    fail('an unsigned 32-bit integer');
  if (INT64.has(type) && !(Number.isSafeInteger(value) || (typeof value === 'string' && /^-?\d{1,20}$/.test(value)))) {
    fail('an integer (a decimal string beyond ±2^53)');
  }
}

function checkProtoValue(field: protobuf.Field, value: unknown, path: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    checkProtoMessage(resolved, value, path);
  } else if (resolved instanceof protobuf.Enum) {
    const known = typeof value === 'string' ? value in resolved.values : Object.values(resolved.values).includes(value as number);
    if (!known) throw new SchemaMismatch(path, `expected one of ${Object.keys(resolved.values).join(', ')} (enum ${resolved.name})`);
  } else {
    checkProtoScalar(field.type, value, path);
  }
}

/** Rejects unknown fields and values of the wrong type, as Protobuf's JSON parser does (protobufjs's fromObject would coerce). */
function checkProtoMessage(type: protobuf.Type, value: unknown, path: string): void {
  if (!isPlainObject(value)) throw new SchemaMismatch(path, `expected an object (message ${type.name})`);
  for (const [name, child] of Object.entries(value)) {
    const where = path === '' ? name : `${path}.${name}`;
    const field = type.fields[name] ?? type.fieldsArray.find((candidate) => candidate.name === name);
    if (field === undefined) throw new SchemaMismatch(where, `message ${type.name} has no such field`);
    if (child === null) continue;
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(child)) throw new SchemaMismatch(where, 'expected an object (a map)');
      for (const [key, entry] of Object.entries(child)) checkProtoValue(field, entry, `${where}.${key}`);
    } else if (field.repeated) {
      if (!Array.isArray(child)) throw new SchemaMismatch(where, 'expected an array (a repeated field)');
      child.forEach((entry: unknown, index) => {
        checkProtoValue(field, entry, `${where}[${index}]`);
      });
    } else {
      checkProtoValue(field, child, where);
    }
  }
}

/** The message types of a .proto file in declaration order, with their index paths (nested ones too). */
function messagePaths(namespace: protobuf.NamespaceBase, prefix: number[] = []): { path: number[]; type: protobuf.Type }[] {
  const found: { path: number[]; type: protobuf.Type }[] = [];
  namespace.nestedArray
    .filter((nested): nested is protobuf.Type => nested instanceof protobuf.Type)
    .forEach((type, index) => {
      const path = [...prefix, index];
      found.push({ path, type }, ...messagePaths(type, path));
    });
  return found;
}

export function protobufCodec(schema: string): Codec {
  // keepCase: fields keep their .proto names (a JSON value uses them; the JSON rendering below too).
  const parsed = protobuf.parse(schema, { keepCase: true });
  parsed.root.resolveAll();
  const file = parsed.package === undefined ? parsed.root : parsed.root.lookup(parsed.package);
  if (!(file instanceof protobuf.Namespace) && !(file instanceof protobuf.Root))
    throw new Error('the .proto file has no package namespace');
  const messages = messagePaths(file);
  const first = messages[0];
  if (first === undefined) throw new Error('the .proto schema declares no message');
  const byPath = new Map(messages.map((entry) => [entry.path.join('.'), entry.type]));
  return {
    schemaType: 'PROTOBUF',
    encode(value, options = {}) {
      // Confluent's serializer writes the file's first message unless told otherwise.
      const chosen =
        options.messageName === undefined ? first : messages.find((entry) => entry.type.fullName.endsWith(`.${options.messageName}`));
      if (chosen === undefined) throw new SchemaMismatch('', `the schema has no message ${options.messageName}`);
      checkProtoMessage(chosen.type, value, '');
      const message = chosen.type.fromObject(value as Record<string, unknown>);
      return Buffer.concat([encodeMessageIndexes(chosen.path), Buffer.from(chosen.type.encode(message).finish())]);
    },
    decode(body) {
      let indexes: number[];
      let messageOffset: number;
      try {
        ({ indexes, messageOffset } = decodeMessageIndexes(body));
      } catch (error) {
        throw new UndecodableBody(`bad Protobuf message indexes: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      const type = byPath.get(indexes.join('.'));
      if (type === undefined) throw new UndecodableBody(`the schema has no message at index [${indexes.join(', ')}]`);
      try {
        const message = type.decode(body.subarray(messageOffset));
        // Protobuf's JSON mapping: 64-bit integers and bytes (base64) as strings, enums by name.
        return { json: type.toObject(message, { longs: String, enums: String, bytes: String }), messageIndexes: indexes };
      } catch (error) {
        throw new UndecodableBody(`not a Protobuf ${type.name}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
    },
  };
}

// ---- JSON Schema ----

const ajv = new Ajv({ strict: false, allErrors: false });

function checkJson(validate: ValidateFunction, value: unknown): void {
  if (validate(value)) return;
  const [first] = validate.errors ?? [];
  const path = (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  throw new SchemaMismatch(path, first?.message ?? 'does not match the JSON Schema');
}

export function jsonSchemaCodec(schema: string): Codec {
  const validate = ajv.compile(JSON.parse(schema) as object);
  return {
    schemaType: 'JSON',
    encode(value) {
      checkJson(validate, value);
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
    decode(body) {
      let value: unknown;
      try {
        value = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new UndecodableBody('not JSON text', { cause: error });
      }
      checkJson(validate, value);
      return { json: value };
    },
  };
}

export function createCodec(schemaType: SchemaType, schema: string): Codec {
  switch (schemaType) {
    case 'AVRO':
      return avroCodec(schema);
    case 'PROTOBUF':
      return protobufCodec(schema);
    case 'JSON':
      return jsonSchemaCodec(schema);
  }
}
