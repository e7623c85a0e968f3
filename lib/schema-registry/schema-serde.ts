/**
 * Writing and reading records in Confluent's wire format with a registry's schemas: one unit that owns the
 * registry client and the codecs built from it (one per schema id, kept for the process: an id's schema
 * never changes). Reading returns a typed outcome, because what a consumer does next depends on which way
 * a record failed (AWS sorts them into SCHEMA_NOT_FOUND and DESERIALIZATION_ERROR).
 */
import { getConfig } from '../config';
import { SchemaMismatchError, SchemaNotFoundError, errorMessage } from '../errors';
import { type Codec, SchemaMismatch, type SchemaType, UndecodableBody, createCodec } from './codecs';
import { type SchemaRegistryClient, createSchemaRegistryClient } from './registry-client';
import { frame, unframe } from './wire-format';

export interface EncodedValue {
  bytes: Buffer;
  schemaId: number;
  schemaType: SchemaType;
}

export type DecodeOutcome =
  | {
      kind: 'decoded';
      schemaId: number;
      schemaType: SchemaType;
      /** The value as JSON would carry it. */
      json: unknown;
      /** The bytes after the 5-byte header (for Protobuf still starting with the message indexes). */
      body: Buffer;
    }
  /** No magic byte and schema id: not written by a registry-aware serializer. */
  | { kind: 'not-wire-format' }
  | { kind: 'schema-not-found'; schemaId: number; reason: string }
  | { kind: 'undecodable'; schemaId: number; schemaType: SchemaType; reason: string };

/** A subject's latest schema, ready to write many values (one registry lookup for a whole batch). */
export interface SubjectEncoder {
  subject: string;
  schemaId: number;
  schemaType: SchemaType;
  /** The value in the wire format; throws SchemaMismatchError whose field is `where` plus the path inside. */
  encode(value: unknown, where: string): Buffer;
}

export interface SchemaSerde {
  readonly registry: SchemaRegistryClient;
  /** The subject's latest schema. Throws SchemaNotFoundError (no such subject) or SchemaRegistryUnavailableError. */
  encoderFor(subject: string): Promise<SubjectEncoder>;
  /**
   * The value checked against the subject's latest schema and written in the wire format. Throws
   * SchemaNotFoundError (no such subject), SchemaMismatchError (the value does not fit; `field` names
   * where) or SchemaRegistryUnavailableError.
   */
  encodeForSubject(subject: string, value: unknown, where: string): Promise<EncodedValue>;
  /** Reads a record's key or value. Throws only SchemaRegistryUnavailableError (retrying may help). */
  decode(bytes: Buffer): Promise<DecodeOutcome>;
}

export function createSchemaSerde(registry: SchemaRegistryClient): SchemaSerde {
  const codecs = new Map<number, Promise<Codec>>();

  function codecFor(id: number): Promise<Codec> {
    let codec = codecs.get(id);
    if (codec === undefined) {
      codec = registry.schemaById(id).then(({ schemaType, schema }) => {
        try {
          return createCodec(schemaType, schema);
        } catch (error) {
          throw new SchemaNotFoundError(`schema id ${id} cannot be used: ${errorMessage(error)}`, { cause: error });
        }
      });
      codec.catch(() => codecs.delete(id));
      codecs.set(id, codec);
    }
    return codec;
  }

  async function encoderFor(subject: string): Promise<SubjectEncoder> {
    const latest = await registry.latestVersion(subject);
    const codec = await codecFor(latest.id);
    return {
      subject,
      schemaId: latest.id,
      schemaType: latest.schemaType,
      encode(value, where) {
        try {
          return frame(latest.id, codec.encode(value));
        } catch (error) {
          if (!(error instanceof SchemaMismatch)) throw error;
          const field = error.path === '' ? where : `${where}.${error.path}`;
          throw new SchemaMismatchError(`${field} does not match subject '${subject}' (schema id ${latest.id}): ${error.message}`, field);
        }
      },
    };
  }

  return {
    registry,
    encoderFor,
    async encodeForSubject(subject, value, where) {
      const encoder = await encoderFor(subject);
      return { bytes: encoder.encode(value, where), schemaId: encoder.schemaId, schemaType: encoder.schemaType };
    },
    async decode(bytes) {
      const framed = unframe(bytes);
      if (framed === undefined) return { kind: 'not-wire-format' };
      let codec: Codec;
      try {
        codec = await codecFor(framed.schemaId);
      } catch (error) {
        if (error instanceof SchemaNotFoundError) return { kind: 'schema-not-found', schemaId: framed.schemaId, reason: error.message };
        throw error;
      }
      try {
        const { json } = codec.decode(framed.body);
        return { kind: 'decoded', schemaId: framed.schemaId, schemaType: codec.schemaType, json, body: framed.body };
      } catch (error) {
        if (error instanceof UndecodableBody || error instanceof SchemaMismatch) {
          return { kind: 'undecodable', schemaId: framed.schemaId, schemaType: codec.schemaType, reason: error.message };
        }
        throw error;
      }
    },
  };
}

let processSerde: SchemaSerde | undefined;

/** The process's serde, for the registry in SCHEMA_REGISTRY_URL (else the local one), created on first use. */
export function getSchemaSerde(): SchemaSerde {
  const { schemaRegistry } = getConfig();
  processSerde ??= createSchemaSerde(createSchemaRegistryClient(schemaRegistry));
  return processSerde;
}
