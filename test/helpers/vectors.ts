/** Loads the known-answer vectors (a copy of shared/vectors in test/fixtures). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Header } from '../../src/wire/header.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface VectorCase {
  name: string;
  description: string;
  byteOrder: 'little' | 'big';
  fields: Record<string, string | number>;
  header: Header;
  hdrBytes: number;
  /** The exact bytes on the wire (header, ext, padded aux). */
  encoded: Uint8Array;
  /** The unpadded aux data. */
  aux: Uint8Array;
  ext?: Record<string, string | number>;
}

function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** The aux pattern of the vectors README: byte[i] = ((i*31 + seed) & 0xff) ^ ((i >> 8) & 0xff). */
export function auxPattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((i * 31 + seed) & 0xff) ^ ((i >> 8) & 0xff);
  return out;
}

function num(v: string | number): number {
  return typeof v === 'number' ? v : Number(v);
}

interface RawCase {
  name: string;
  description: string;
  byte_order: 'little' | 'big';
  fields: Record<string, string | number>;
  hdr_bytes: number;
  aux_aligned_bytes: number;
  encoded_hex?: string;
  encoded_hex_header_only?: string;
  aux_hex?: string;
  aux_pattern?: { seed: number };
  ext?: Record<string, string | number>;
}

export function loadVectors(): { cases: VectorCase[]; crc: Record<string, unknown>; constants: Record<string, string> } {
  const raw = JSON.parse(readFileSync(FIXTURES + 'headers.json', 'utf8')) as {
    cases: RawCase[];
    crc: Record<string, unknown>;
    constants: Record<string, string>;
  };
  const cases = raw.cases.map((c): VectorCase => {
    const f = c.fields;
    const auxBytes = num(f.aux_bytes!);
    let aux: Uint8Array;
    let encoded: Uint8Array;
    if (c.encoded_hex !== undefined) {
      encoded = fromHex(c.encoded_hex);
      aux = encoded.slice(c.hdr_bytes, c.hdr_bytes + auxBytes);
    } else {
      // The 1 MiB case is stored as its header only; regenerate its aux from the pattern.
      aux = auxPattern(auxBytes, c.aux_pattern!.seed);
      const head = fromHex(c.encoded_hex_header_only!);
      encoded = new Uint8Array(c.hdr_bytes + c.aux_aligned_bytes);
      encoded.set(head, 0);
      encoded.set(aux, c.hdr_bytes);
    }
    const header: Header = {
      magic: num(f.magic!),
      reserved02: num(f.reserved02!),
      salt: num(f.salt!),
      msgid: BigInt(f.msgid!),
      circuit: BigInt(f.circuit!),
      reserved18: BigInt(f.reserved18!),
      cmd: num(f.cmd!),
      auxCrc: num(f.aux_crc!),
      auxBytes,
      error: num(f.error!),
      auxDescr: BigInt(f.aux_descr!),
      reserved38: num(f.reserved38!),
      hdrCrc: num(f.hdr_crc!),
    };
    return { name: c.name, description: c.description, byteOrder: c.byte_order, fields: f, header, hdrBytes: c.hdr_bytes, encoded, aux, ...(c.ext ? { ext: c.ext } : {}) };
  });
  return { cases, crc: raw.crc, constants: raw.constants };
}

export function loadSession(dir: 'c2s' | 's2c'): { bytes: Uint8Array; decoded: { messages: Array<Record<string, unknown>> } } {
  return {
    bytes: new Uint8Array(readFileSync(FIXTURES + `session-handshake-${dir}.bin`)),
    decoded: JSON.parse(readFileSync(FIXTURES + `session-handshake-${dir}.decoded.json`, 'utf8')),
  };
}
