/**
 * Confluent's wire format, the framing every Confluent serializer writes and every registry-aware consumer
 * (AWS's event-source mapping among them) reads: magic byte 0, the schema id as a 4-byte big-endian
 * integer, then the body. A Protobuf body starts with its message indexes (see below).
 */
export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export interface WireFormatRecord {
  schemaId: number;
  /** What follows the 5-byte header (for Protobuf: the message indexes, then the message). */
  body: Buffer;
}

export function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

/** The schema id and body, or undefined when the bytes do not start with the header. */
export function unframe(bytes: Buffer): WireFormatRecord | undefined {
  if (bytes.length < HEADER_LENGTH || bytes[0] !== MAGIC_BYTE) return undefined;
  return { schemaId: bytes.readUInt32BE(1), body: bytes.subarray(HEADER_LENGTH) };
}

/*
 * Protobuf message indexes: which message of the schema's .proto file the body holds, as a path (index of
 * the top-level message in declaration order, then of the nested message inside it, …). Written as a count
 * followed by the indexes, each a zig-zag varint (Confluent's ByteUtils.writeVarint). The common case,
 * the file's first message ([0]), is written as a single 0 byte (a count of 0).
 */

function writeZigZagVarint(value: number, out: number[]): void {
  let zigzag = (value << 1) ^ (value >> 31);
  zigzag >>>= 0;
  while (zigzag >= 0x80) {
    out.push((zigzag & 0x7f) | 0x80);
    zigzag >>>= 7;
  }
  out.push(zigzag);
}

/** Reads one zig-zag varint at offset; throws RangeError on a truncated or over-long varint. */
function readZigZagVarint(bytes: Buffer, offset: number): { value: number; next: number } {
  let result = 0;
  let shift = 0;
  for (let position = offset; position < bytes.length && shift <= 28; position += 1) {
    const byte = bytes[position] ?? 0;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      const unsigned = result >>> 0;
      return { value: (unsigned >>> 1) ^ -(unsigned & 1), next: position + 1 };
    }
    shift += 7;
  }
  throw new RangeError('truncated or malformed varint in the message indexes');
}

export function encodeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const out: number[] = [];
  writeZigZagVarint(indexes.length, out);
  for (const index of indexes) writeZigZagVarint(index, out);
  return Buffer.from(out);
}

/** Limit on the path length, so a corrupt count cannot make us loop over garbage. */
const MAX_INDEXES = 100;

/** The message indexes at the start of a Protobuf body and where the message itself starts. */
export function decodeMessageIndexes(body: Buffer): { indexes: number[]; messageOffset: number } {
  const count = readZigZagVarint(body, 0);
  if (count.value === 0) return { indexes: [0], messageOffset: count.next };
  if (count.value < 0 || count.value > MAX_INDEXES) throw new RangeError(`message index count ${count.value} is out of range`);
  const indexes: number[] = [];
  let offset = count.next;
  for (let remaining = count.value; remaining > 0; remaining -= 1) {
    const index = readZigZagVarint(body, offset);
    if (index.value < 0) throw new RangeError(`message index ${index.value} is negative`);
    indexes.push(index.value);
    offset = index.next;
  }
  return { indexes, messageOffset: offset };
}
