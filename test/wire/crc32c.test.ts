import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc32c,
  crc32cBytes,
  crc32cJs,
  crc32cView,
  crc32cWords,
  headerCrc,
  headerCrcView,
  NATIVE_CRC32C,
  NATIVE_MIN_BYTES,
} from '../../src/wire/crc32c.ts';
import { InvalidArgumentError } from '../../src/wire/errors.ts';

const require = createRequire(import.meta.url);
/** The reference: crc-32's CRC-32C (signed result, seed = previous CRC). */
const ref = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };
const refCrc = (d: Uint8Array, prev = 0): number => ref.buf(d, prev) >>> 0;

const SEED = 42;
// fast-check's failure message includes the seed and the shrink path.
const assertProp = <T,>(prop: fc.IProperty<T>, numRuns: number): void => fc.assert(prop, { seed: SEED, numRuns });

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 0x9e3779b1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Every implementation that must agree; the JS-only ones always, crc32c with native when loaded. */
const IMPLS: Array<[string, (d: Uint8Array, s?: number, e?: number, p?: number) => number]> = [
  ['crc32c', crc32c],
  ['crc32cJs', crc32cJs],
  ['crc32cBytes', crc32cBytes],
];

interface Vectors {
  crc: { check_input: string; check_value: string; extra_checks: Array<Record<string, string | number>> };
  cases: Array<{
    name: string;
    hdr_bytes: number;
    encoded_hex?: string;
    encoded_hex_header_only?: string;
    fields: { hdr_crc: string };
  }>;
}
const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/headers.json', import.meta.url)), 'utf8'),
) as Vectors;

describe('crc32c check values', () => {
  for (const [name, fn] of IMPLS) {
    it(`${name}: "123456789" and the extra checks of headers.json`, () => {
      expect(fn(ascii(vectors.crc.check_input))).toBe(Number(vectors.crc.check_value));
      expect(fn(ascii('123456789'))).toBe(0xe3069283);
      let n = 0;
      for (const c of vectors.crc.extra_checks) {
        const want = Number(c['crc']);
        if (typeof c['ascii'] === 'string') expect(fn(ascii(c['ascii']))).toBe(want);
        else if (typeof c['zeros'] === 'number') expect(fn(new Uint8Array(c['zeros']))).toBe(want);
        else if (typeof c['ascii_a'] === 'string') {
          const a = ascii(c['ascii_a']);
          const b = ascii(String(c['ascii_b']));
          expect(fn(b, 0, b.length, fn(a))).toBe(want);
        } else continue;
        n++;
      }
      expect(n).toBe(vectors.crc.extra_checks.length);
    });
  }

  it('returns unsigned 32-bit values', () => {
    // 0xe3069283 has the top bit set: a signed result would be negative.
    expect(crc32c(ascii('123456789'))).toBeGreaterThan(0x7fffffff);
    const big = pattern(5000);
    for (let n = 0; n < 5000; n += 97) {
      const c = crc32c(big, 0, n);
      expect(c >>> 0).toBe(c);
    }
  });
});

describe('crc32c against crc-32/crc32c', () => {
  const data = pattern(300 + 8, 7);
  for (const [name, fn] of IMPLS) {
    it(`${name}: every size 0..300 at start offsets 0..7, with and without prev`, () => {
      for (let s = 0; s < 8; s++) {
        for (let n = 0; n <= 300; n++) {
          const view = data.subarray(s, s + n);
          const want = refCrc(view);
          expect(fn(data, s, s + n)).toBe(want);
          // The same bytes as their own (unaligned) view, from index 0.
          expect(fn(view)).toBe(want);
          expect(fn(data, s, s + n, 0xdeadbeef)).toBe(refCrc(view, 0xdeadbeef | 0));
        }
      }
    });
  }

  it('agrees on random sizes up to 200 KiB, offsets and prev values', () => {
    const pool = pattern(200 * 1024 + 64, 3);
    assertProp(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 0, max: 200 * 1024 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        (s, n, prev, ownView) => {
          const view = pool.subarray(s, s + n);
          const want = refCrc(view, prev | 0);
          for (const [, fn] of IMPLS) {
            const got = ownView ? fn(view, 0, n, prev) : fn(pool, s, s + n, prev);
            if (got !== want) return false;
          }
          return true;
        },
      ),
      150,
    );
  });

  it('agrees on random byte contents (fast-check arrays)', () => {
    assertProp(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, prev) => {
        const want = refCrc(bytes, prev | 0);
        // Twice each: the second call on the same array takes the cached word view.
        return IMPLS.every(([, fn]) => fn(bytes, 0, bytes.length, prev) === want && fn(bytes, 0, bytes.length, prev) === want);
      }),
      300,
    );
  });

  it('handles 1 MiB, a Buffer from the pool and a SharedArrayBuffer', () => {
    const mib = pattern(1 << 20, 9);
    const want = refCrc(mib);
    for (const [, fn] of IMPLS) expect(fn(mib)).toBe(want);

    const pooled = Buffer.allocUnsafe(1000); // a slice of Node's pool at some offset
    pooled.set(pattern(1000, 5));
    const shared = new Uint8Array(new SharedArrayBuffer(1003), 3);
    shared.set(pattern(1000, 5));
    const w = refCrc(pattern(1000, 5));
    for (const [, fn] of IMPLS) {
      for (let r = 0; r < 3; r++) {
        expect(fn(pooled)).toBe(w);
        expect(fn(shared)).toBe(w);
        expect(fn(shared, 0, 1000)).toBe(w);
      }
    }
  });

  it('stays right when a resizable buffer grows under a cached view', () => {
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(
      256,
      { maxByteLength: 4096 },
    );
    const u = new Uint8Array(ab); // length-tracking
    u.set(pattern(256, 2));
    expect(crc32cJs(u)).toBe(refCrc(u));
    expect(crc32cJs(u)).toBe(refCrc(u)); // now cached
    ab.resize(4096);
    u.set(pattern(4096, 4));
    expect(u.length).toBe(4096);
    for (const [, fn] of IMPLS) {
      expect(fn(u)).toBe(refCrc(u));
      expect(fn(u, 1000, 1200)).toBe(refCrc(u.subarray(1000, 1200)));
      expect(headerCrc(u, 4000, 64)).toBe(headerCrcRef(u, 4000, 64));
    }
    ab.resize(100);
    expect(crc32cJs(u)).toBe(refCrc(u));
  });
});

describe('continuation', () => {
  it('crc32c(b, 0, n, crc32c(a)) === crc32c(a ‖ b) for every split of 0..600 bytes around the threshold', () => {
    const data = pattern(NATIVE_MIN_BYTES * 2 + 50, 11);
    const whole = refCrc(data);
    for (const [, fn] of IMPLS) {
      for (let cut = 0; cut <= data.length; cut += cut < 70 || Math.abs(cut - NATIVE_MIN_BYTES) < 70 ? 1 : 13) {
        expect(fn(data, cut, data.length, fn(data, 0, cut))).toBe(whole);
        const a = data.slice(0, cut);
        const b = data.slice(cut);
        expect(fn(b, 0, b.length, fn(a))).toBe(whole);
      }
    }
  });

  it('holds for random splits into several pieces (property)', () => {
    const data = pattern(20000, 12);
    assertProp(
      fc.property(fc.array(fc.integer({ min: 0, max: 20000 }), { maxLength: 6 }), (cuts) => {
        const points = [0, ...cuts.sort((x, y) => x - y), data.length];
        const want = refCrc(data);
        return IMPLS.every(([, fn]) => {
          let c = 0;
          for (let k = 1; k < points.length; k++) c = fn(data, points[k - 1]!, points[k]!, c);
          return c === want;
        });
      }),
      200,
    );
  });
});

describe('JS and native paths', () => {
  it('reports the native path as loaded on this machine (x86-64 Linux has a binary)', () => {
    // Not a requirement of the package, but the bench numbers assume it here.
    if (process.arch === 'x64' && process.platform === 'linux') expect(NATIVE_CRC32C).toBe(true);
    else expect(typeof NATIVE_CRC32C).toBe('boolean');
  });

  it('agree at every threshold boundary, offsets 0..7, with prev', () => {
    const data = pattern(NATIVE_MIN_BYTES * 4 + 16, 13);
    let native: ((b: Uint8Array, p?: number) => number) | undefined;
    try {
      native = (require('@node-rs/crc32') as { crc32c(b: Uint8Array, p?: number): number }).crc32c;
    } catch {
      native = undefined;
    }
    let checked = 0;
    for (const n of [NATIVE_MIN_BYTES - 2, NATIVE_MIN_BYTES - 1, NATIVE_MIN_BYTES, NATIVE_MIN_BYTES + 1, NATIVE_MIN_BYTES + 16, NATIVE_MIN_BYTES * 4]) {
      for (let s = 0; s < 8; s++) {
        for (const prev of [0, 1, 0x80000000, 0xffffffff]) {
          const want = refCrc(data.subarray(s, s + n), prev | 0);
          expect(crc32c(data, s, s + n, prev)).toBe(want);
          expect(crc32cJs(data, s, s + n, prev)).toBe(want);
          expect(crc32cBytes(data, s, s + n, prev)).toBe(want);
          if (native) expect(native(data.subarray(s, s + n), prev)).toBe(want);
          checked++;
        }
      }
    }
    expect(checked).toBe(6 * 8 * 4);
  });

  it('works without @node-rs/crc32 (its load fails): JS path only, same answers', () => {
    const mod = fileURLToPath(new URL('../../src/wire/crc32c.ts', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const M = createRequire(import.meta.url)('module');
      const load = M._load;
      M._load = function (req, ...rest) {
        if (req === '@node-rs/crc32') throw new Error('blocked by test');
        return load.call(this, req, ...rest);
      };
      const m = await import(${JSON.stringify(mod)});
      const d = new Uint8Array(5000);
      for (let i = 0; i < d.length; i++) d[i] = (i * 31 + 7) & 255;
      const out = [m.NATIVE_CRC32C, m.crc32c(d), m.crc32c(d, 3, 4999, 0x1234), m.crc32c(new TextEncoder().encode('123456789')), m.headerCrc(d, 64, 512)];
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    const d = new Uint8Array(5000);
    for (let i = 0; i < d.length; i++) d[i] = (i * 31 + 7) & 255;
    expect(JSON.parse(r.stdout.trim())).toEqual([
      false,
      refCrc(d),
      refCrc(d.subarray(3, 4999), 0x1234),
      0xe3069283,
      headerCrcRef(d, 64, 512),
    ]);
  });
});

/** headerCrc the slow way: CRC of a copy with the hdr_crc field zeroed. */
function headerCrcRef(d: Uint8Array, o: number, hb: number): number {
  const copy = d.slice(o, o + hb);
  copy.fill(0, 60, 64);
  return refCrc(copy);
}

describe('headerCrc', () => {
  it('matches hdr_crc of every header in headers.json', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(36);
    let checked = 0;
    for (const c of vectors.cases) {
      const bytes = Uint8Array.from(Buffer.from(c.encoded_hex ?? c.encoded_hex_header_only ?? '', 'hex'));
      // The CRC is over the bytes as sent, whatever the sender's byte order.
      expect(headerCrc(bytes, 0, c.hdr_bytes), c.name).toBe(Number(c.fields.hdr_crc));
      checked++;
    }
    expect(checked).toBe(vectors.cases.length);
  });

  it('equals crc32c of a copy with the field zeroed, for sizes 64..2048 and any offset, without mutating', () => {
    const buf = pattern(2048 + 64 * 3 + 8, 21);
    for (let hb = 64; hb <= 2048; hb += 64) {
      for (const o of [0, 1, 2, 3, 4, 64, 67, 128]) {
        const before = buf.slice();
        const want = headerCrcRef(buf, o, hb);
        // Twice on the same array (word view), once on its own view, once on a fresh copy.
        expect(headerCrc(buf, o, hb)).toBe(want);
        expect(headerCrc(buf, o, hb)).toBe(want);
        expect(headerCrc(buf.subarray(o, o + hb), 0, hb)).toBe(want);
        expect(headerCrc(buf.slice(o, o + hb), 0, hb)).toBe(want);
        expect(buf).toEqual(before);
      }
    }
  });

  it('ignores whatever the hdr_crc field holds (property)', () => {
    assertProp(
      fc.property(
        fc.uint8Array({ minLength: 64 + 8, maxLength: 64 * 9 + 8 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (bytes, o, field) => {
          const hb = Math.floor((bytes.length - o) / 64) * 64;
          if (hb < 64) return true;
          new DataView(bytes.buffer, bytes.byteOffset).setUint32(o + 60, field, true);
          const before = bytes.slice();
          const want = headerCrcRef(bytes, o, hb);
          const a = headerCrc(bytes, o, hb);
          const b = headerCrc(bytes, o, hb);
          return a === want && b === want && Buffer.from(bytes).equals(before);
        },
      ),
      300,
    );
  });

  it('alternating arrays and many headers in one chunk', () => {
    const chunk = pattern(64 * 200, 5);
    const other = pattern(64 * 10, 6);
    for (let k = 0; k < 200; k++) {
      expect(headerCrc(chunk, k * 64, 64)).toBe(headerCrcRef(chunk, k * 64, 64));
      if (k % 3 === 0) expect(headerCrc(other, (k % 10) * 64, 64)).toBe(headerCrcRef(other, (k % 10) * 64, 64));
    }
  });
});

describe('argument checks', () => {
  const d = new Uint8Array(100);
  it('rejects ranges outside the array or not of integers', () => {
    for (const [, fn] of IMPLS) {
      expect(() => fn(d, 0, 101)).toThrow(InvalidArgumentError);
      expect(() => fn(d, -1, 10)).toThrow(InvalidArgumentError);
      expect(() => fn(d, 10, 9)).toThrow(InvalidArgumentError);
      expect(() => fn(d, 1.5, 10)).toThrow(InvalidArgumentError);
      expect(() => fn(d, 0, Number.NaN)).toThrow(InvalidArgumentError);
      expect(fn(d, 100, 100)).toBe(0);
    }
  });
  it('rejects headers under 64 bytes or past the end', () => {
    expect(() => headerCrc(d, 0, 32)).toThrow(InvalidArgumentError);
    expect(() => headerCrc(d, 40, 64)).toThrow(InvalidArgumentError);
    expect(() => headerCrc(d, 0, 128)).toThrow(InvalidArgumentError);
    expect(() => headerCrc(d, -1, 64)).toThrow(InvalidArgumentError);
    expect(headerCrc(d, 36, 64)).toBe(headerCrcRef(d, 36, 64));
  });
});

describe('crc32cWords (the word-view path of the decoder and the writer)', () => {
  it('equals crc-32/crc32c over whole 16-byte blocks at any word offset of a view (property, fixed seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 1024 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const words = bytes.length >>> 2;
        const w = a % (words - 3);
        const n = (b % ((words - w) >>> 2)) * 4 + 4 > words - w ? 4 : (b % ((words - w) >>> 2)) * 4 + 4;
        const buf = new Uint8Array(words * 4);
        buf.set(bytes.subarray(0, words * 4));
        const W = new Int32Array(buf.buffer);
        expect(crc32cWords(W, w, n)).toBe(refCrc(buf.subarray(w * 4, (w + n) * 4)));
      }),
      { seed: 1306, numRuns: 300 },
    );
  });
});

describe('crc32cView and headerCrcView (the decoder\'s fast path at any alignment)', () => {
  it('crc32cView equals crc-32/crc32c over 16-byte blocks at every byte offset (property, fixed seed 1307)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 1100 }), fc.integer({ min: 0, max: 15 }), fc.nat(), fc.nat(), (bytes, pad, a, b) => {
        // The bytes at `pad` of a bigger buffer: the view's byteOffset is misaligned for pad % 4 !== 0.
        const buf = new Uint8Array(pad + bytes.length);
        buf.set(bytes, pad);
        const v = new DataView(buf.buffer, pad, bytes.length);
        const o = a % (bytes.length - 15);
        const n = 16 * (1 + (b % ((bytes.length - o) >>> 4)));
        expect(crc32cView(v, o, n)).toBe(refCrc(bytes.subarray(o, o + n)));
      }),
      { seed: 1307, numRuns: 400 },
    );
  });

  it('headerCrcView equals headerCrc (hdr_crc as zero) at every byte offset, sparse or dense words (property, fixed seed 1308)', () => {
    const word = fc.oneof(fc.constant(0), fc.integer({ min: -0x80000000, max: 0x7fffffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 16, maxLength: 16 }), fc.boolean(), fc.integer({ min: 0, max: 11 }), (words, magic, pad) => {
        const hdr = new Uint8Array(64);
        const dv = new DataView(hdr.buffer);
        words.forEach((x, i) => dv.setInt32(i * 4, x, true));
        if (magic) dv.setUint32(0, 0x4832, true);
        const buf = new Uint8Array(pad + 64 + 5);
        buf.set(hdr, pad);
        const want = headerCrc(hdr.slice(), 0, 64);
        expect(headerCrcView(new DataView(buf.buffer), pad)).toBe(want);
        // The reference: CRC-32C of the 64 bytes with the hdr_crc field zeroed.
        const z = hdr.slice();
        z.fill(0, 60);
        expect(want).toBe(refCrc(z));
      }),
      { seed: 1308, numRuns: 400 },
    );
  });
});
