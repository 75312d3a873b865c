/** fast-check arbitraries for DMSG messages. */
import fc from 'fast-check';
import type { Header } from '../../src/wire/header.ts';
import type { MessageInput } from '../../src/wire/frame-encoder.ts';

export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** A message to encode: any header fields, a cmd with 1..32 units, ext within them, aux up to maxAux. */
export function messageInput(maxAux = 5000): fc.Arbitrary<MessageInput> {
  return fc
    .record({
      flagsProtoCode: fc.integer({ min: 0, max: 0xffffff }),
      units: fc.integer({ min: 1, max: 32 }),
      reserved02: fc.integer({ min: 0, max: 0xffff }),
      salt: u32,
      msgid: u64,
      circuit: u64,
      reserved18: u64,
      error: u32,
      auxDescr: u64,
      reserved38: u32,
      extFill: fc.integer({ min: 0, max: 100 }),
      extSeed: fc.integer({ min: 0, max: 255 }),
      aux: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: maxAux })),
    })
    .map((r) => {
      const cmd = ((r.flagsProtoCode << 8) | r.units) >>> 0;
      const extLen = Math.floor(((r.units - 1) * 64 * r.extFill) / 100);
      const ext = new Uint8Array(extLen);
      for (let i = 0; i < extLen; i++) ext[i] = (i * 7 + r.extSeed) & 0xff;
      const header: Partial<Header> = {
        reserved02: r.reserved02, salt: r.salt, msgid: r.msgid, circuit: r.circuit, reserved18: r.reserved18,
        cmd, error: r.error, auxDescr: r.auxDescr, reserved38: r.reserved38,
      };
      return { header, ext, aux: r.aux };
    });
}

/** Split a buffer at the given cut points (taken modulo its length). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}
