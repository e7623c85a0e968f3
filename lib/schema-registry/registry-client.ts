/**
 * A small client of a Confluent-compatible schema registry's REST API (Confluent's own, or the local
 * Apicurio under /apis/ccompat/v7): a schema by its global id (immutable, so cached for the process) and a
 * subject's latest version (asked each time: a new version must be seen at once). Each request is bounded
 * by timeoutMs; every failure is an error with meaning (lib/errors.ts).
 */
import { SchemaNotFoundError, SchemaRegistryUnavailableError } from '../errors';
import type { SchemaType } from './codecs';

export interface RegisteredSchema {
  id: number;
  schemaType: SchemaType;
  /** The schema text: Avro JSON, a .proto file, or a JSON Schema document. */
  schema: string;
}

export interface SubjectVersion extends RegisteredSchema {
  subject: string;
  version: number;
}

export interface SchemaRegistryClient {
  readonly baseUrl: string;
  schemaById(id: number): Promise<RegisteredSchema>;
  latestVersion(subject: string): Promise<SubjectVersion>;
}

/** Confluent's error codes for "no such subject / version / schema". */
const NOT_FOUND_CODES = new Set([40401, 40402, 40403]);

const SCHEMA_TYPES = new Set<string>(['AVRO', 'PROTOBUF', 'JSON']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function toSchema(body: unknown, id: number | undefined, where: string): RegisteredSchema {
  if (!isRecord(body) || typeof body.schema !== 'string')
    throw new SchemaRegistryUnavailableError(`${where}: the registry's answer has no schema`);
  const schemaType = body.schemaType ?? 'AVRO'; // Confluent omits schemaType for Avro.
  if (typeof schemaType !== 'string' || !SCHEMA_TYPES.has(schemaType)) {
    throw new SchemaNotFoundError(`${where}: schema type ${String(schemaType)} is not one of AVRO, PROTOBUF, JSON`);
  }
  if (Array.isArray(body.references) && body.references.length > 0) {
    throw new SchemaNotFoundError(`${where}: schemas with references are not supported here`);
  }
  const schemaId = id ?? body.id;
  if (typeof schemaId !== 'number') throw new SchemaRegistryUnavailableError(`${where}: the registry's answer has no id`);
  return { id: schemaId, schemaType: schemaType as SchemaType, schema: body.schema };
}

export function createSchemaRegistryClient(options: { url: string; timeoutMs: number }): SchemaRegistryClient {
  const baseUrl = options.url.replace(/\/+$/, '');
  const byId = new Map<number, Promise<RegisteredSchema>>();

  async function get(path: string, what: string): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      throw new SchemaRegistryUnavailableError(`the schema registry at ${baseUrl} did not answer (${what})`, { cause: error });
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok) return body;
    const code = isRecord(body) && typeof body.error_code === 'number' ? body.error_code : undefined;
    if (response.status === 404 && (code === undefined || NOT_FOUND_CODES.has(code)))
      throw new SchemaNotFoundError(`${what} is not in the schema registry`);
    throw new SchemaRegistryUnavailableError(`the schema registry answered ${response.status} for ${what}`);
  }

  return {
    baseUrl,
    schemaById(id) {
      let cached = byId.get(id);
      if (cached === undefined) {
        cached = get(`/schemas/ids/${id}`, `schema id ${id}`).then((body) => toSchema(body, id, `schema id ${id}`));
        // A failure is not remembered: the next record asks again (the registry may be back).
        cached.catch(() => byId.delete(id));
        byId.set(id, cached);
      }
      return cached;
    },
    async latestVersion(subject) {
      const body = await get(`/subjects/${encodeURIComponent(subject)}/versions/latest`, `subject '${subject}'`);
      const schema = toSchema(body, undefined, `subject '${subject}'`);
      const version = isRecord(body) && typeof body.version === 'number' ? body.version : 0;
      return { ...schema, subject, version };
    },
  };
}
