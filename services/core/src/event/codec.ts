import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { InvalidRecordError } from '../errors.ts';
import { rabinFingerprint } from './fingerprint.ts';

/**
 * Avro single-object encoding: 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO
 * fingerprint, then the Avro body. The fingerprint lets a reader resolve records
 * written with any schema version it knows, older or newer than its own.
 */
const MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_BYTES = MAGIC.length + 8;

export const SCHEMA_DIR = join(import.meta.dirname, '../../../../schemas/avro');

interface WriterSchema {
  type: avro.Type;
  fingerprint: Buffer;
  resolver?: ReturnType<avro.Type['createResolver']> | undefined;
}

export class AvroCodec<T> {
  readonly fingerprint: Buffer;
  /** The schema this codec writes, JSON text with its logical types (the header of an Avro file of its records). */
  readonly schema: string;
  private readonly reader: avro.Type;
  private readonly writers = new Map<string, WriterSchema>();
  private scratch: Buffer;

  /**
   * @param readerSchema the schema this process reads and writes.
   * @param knownSchemas every schema version a writer may have used (the reader's own included).
   */
  constructor(readerSchema: avro.Schema, knownSchemas: readonly avro.Schema[] = []) {
    this.reader = avro.Type.forSchema(readerSchema);
    this.fingerprint = canonicalFingerprint(this.reader);
    this.schema = JSON.stringify(readerSchema);
    this.scratch = this.withHeader(16 * 1024);
    for (const schema of [readerSchema, ...knownSchemas]) this.addWriterSchema(schema);
  }

  addWriterSchema(schema: avro.Schema): void {
    const type = avro.Type.forSchema(schema);
    const fingerprint = canonicalFingerprint(type);
    const same = fingerprint.equals(this.fingerprint);
    this.writers.set(fingerprint.toString('hex'), {
      type,
      fingerprint,
      resolver: same ? undefined : this.reader.createResolver(type),
    });
  }

  /**
   * Encodes into a scratch buffer that already holds the header, then copies the
   * record out once: avsc's toBuffer encodes anything over 1 KiB twice, and a
   * concat after it would copy the body again.
   */
  encode(value: T): Buffer {
    let end = this.reader.encode(value, this.scratch, HEADER_BYTES);
    if (end < 0) {
      // Short by -end bytes: grow (at least doubling) and encode again.
      this.scratch = this.withHeader(Math.max(2 * this.scratch.length, this.scratch.length - end));
      end = this.reader.encode(value, this.scratch, HEADER_BYTES);
    }
    return Buffer.from(this.scratch.subarray(0, end));
  }

  private withHeader(size: number): Buffer {
    const buffer = Buffer.allocUnsafe(size);
    MAGIC.copy(buffer, 0);
    this.fingerprint.copy(buffer, MAGIC.length);
    return buffer;
  }

  /** The Avro body of a single-object record written with this codec's own schema; null for any other record. */
  ownBody(bytes: Buffer): Buffer | null {
    const own = isSingleObject(bytes) && this.fingerprint.equals(bytes.subarray(MAGIC.length, HEADER_BYTES));
    return own ? bytes.subarray(HEADER_BYTES) : null;
  }

  /** Decodes a record written with any known schema; throws InvalidRecordError with the reason otherwise. */
  decode(bytes: Buffer): T {
    if (!isSingleObject(bytes)) {
      throw new InvalidRecordError(
        'bad_header',
        'not an Avro single-object record (expected the bytes C3 01 and an 8-byte schema fingerprint)',
      );
    }
    const fingerprint = bytes.subarray(MAGIC.length, HEADER_BYTES).toString('hex');
    const writer = this.writers.get(fingerprint);
    if (!writer) {
      throw new InvalidRecordError(
        'unknown_schema',
        `record written with unknown schema fingerprint ${fingerprint}; deploy that schema version under schemas/avro/`,
      );
    }
    try {
      const body = bytes.subarray(HEADER_BYTES);
      return (writer.resolver ? this.reader.fromBuffer(body, writer.resolver) : this.reader.fromBuffer(body)) as T;
    } catch (err) {
      throw new InvalidRecordError('undecodable', `Avro body does not match its schema: ${(err as Error).message}`);
    }
  }

  isValid(value: unknown, onInvalid?: (path: string[], value: unknown) => void): value is T {
    return this.reader.isValid(value, onInvalid ? { errorHook: onInvalid } : undefined);
  }
}

/** avsc's `schema()` with no options is the Avro Parsing Canonical Form. */
function canonicalFingerprint(type: avro.Type): Buffer {
  return rabinFingerprint(JSON.stringify(type.schema()));
}

/** Reads every version of a schema family from schemas/avro (`<family>.v<N>.avsc`), oldest first. */
export function loadSchemaVersions(family: string, dir = SCHEMA_DIR): avro.Schema[] {
  const pattern = new RegExp(`^${family}\\.v(\\d+)\\.avsc$`);
  return readdirSync(dir)
    .map((file) => ({ file, version: Number(pattern.exec(file)?.[1]) }))
    .filter((entry) => Number.isInteger(entry.version))
    .sort((a, b) => a.version - b.version)
    .map((entry) => JSON.parse(readFileSync(join(dir, entry.file), 'utf8')) as avro.Schema);
}

/** A codec that writes the newest version of a schema family and reads every version it finds. */
export function createCodec<T>(family: string, dir = SCHEMA_DIR): AvroCodec<T> {
  const versions = loadSchemaVersions(family, dir);
  const newest = versions.at(-1);
  if (!newest) throw new Error(`no ${family}.v<N>.avsc found in ${dir}`);
  return new AvroCodec<T>(newest, versions);
}

/** Whether `bytes` start with an Avro single-object header (the marker and room for a fingerprint). */
function isSingleObject(bytes: Buffer): boolean {
  return bytes.length >= HEADER_BYTES && bytes[0] === MAGIC[0] && bytes[1] === MAGIC[1];
}
