/**
 * The C baseline of the wire bench: a 64-byte header decoder with CRC32C
 * check in C (libdmsg's byte-table CRC and slicing-by-8), compiled with
 * `cc -O2` at bench time and fed the same stream as the JS decoder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The C decoder of the baseline: reads the stream from a file, then decodes
 * it in a loop for a CPU-time budget (clock()): per header the magic, the
 * sizes, a table-driven CRC-32C over the 64 bytes with the hdr_crc field
 * taken as zero (copied into a local header struct, as a C decoder would),
 * compared with the stored one; every field read into the struct. Two
 * tables: `byte` is libdmsg's dmsg_icrc32 algorithm (one 256-entry table,
 * one byte per step), `sb8` slicing-by-8 (8 tables, 8 bytes per step).
 * Prints "<byte headers/CPU-s> <sb8 headers/CPU-s>": the median of `rounds`
 * rounds of each, interleaved.
 */
const C_DECODER = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
struct hdr { uint16_t magic, reserved02; uint32_t salt; uint64_t msgid, circuit, reserved18;
  uint32_t cmd, aux_crc, aux_bytes, error; uint64_t aux_descr; uint32_t reserved38, hdr_crc; };
static uint32_t T[8][256];
static void init(void) {
  for (uint32_t n = 0; n < 256; n++) { uint32_t c = n; for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1; T[0][n] = c; }
  for (uint32_t n = 0; n < 256; n++) for (int k = 1; k < 8; k++) T[k][n] = T[0][T[k-1][n] & 0xff] ^ (T[k-1][n] >> 8);
}
static uint32_t crc_byte(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu; while (n--) c = T[0][(c ^ *p++) & 0xff] ^ (c >> 8); return ~c;
}
static uint32_t crc_sb8(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n >= 8) { uint32_t a, b; memcpy(&a, p, 4); memcpy(&b, p + 4, 4); a ^= c;
    c = T[7][a & 0xff] ^ T[6][(a >> 8) & 0xff] ^ T[5][(a >> 16) & 0xff] ^ T[4][a >> 24] ^
        T[3][b & 0xff] ^ T[2][(b >> 8) & 0xff] ^ T[1][(b >> 16) & 0xff] ^ T[0][b >> 24];
    p += 8; n -= 8; }
  while (n--) c = T[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}
static volatile uint64_t sink;
static double cpu(void) { return (double)clock() / CLOCKS_PER_SEC; }
static double run(const uint8_t *s, size_t len, double secs, int sb8) {
  double t0 = cpu(), t; uint64_t n = 0, x = 0;
  do {
    for (size_t o = 0; o + 64 <= len; o += 64) {
      struct hdr h; memcpy(&h, s + o, 64);
      if (h.magic != 0x4832) { fprintf(stderr, "bad magic\n"); exit(1); }
      uint32_t hb = (h.cmd & 0xff) << 6;
      if (hb != 64 || h.aux_bytes > (1u << 20)) { fprintf(stderr, "bad sizes\n"); exit(1); }
      uint32_t want = h.hdr_crc; h.hdr_crc = 0;
      uint32_t got = sb8 ? crc_sb8((const uint8_t *)&h, 64) : crc_byte((const uint8_t *)&h, 64);
      if (got != want) { fprintf(stderr, "bad crc\n"); exit(1); }
      x ^= h.msgid ^ h.circuit ^ h.cmd ^ h.salt ^ h.error ^ h.aux_descr ^ h.reserved18 ^ h.reserved38 ^ h.reserved02;
      n++;
    }
    t = cpu();
  } while (t - t0 < secs);
  sink ^= x;
  return n / (t - t0);
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  FILE *f = fopen(argv[1], "rb"); if (!f) return 2;
  fseek(f, 0, SEEK_END); long len = ftell(f); fseek(f, 0, SEEK_SET);
  uint8_t *s = malloc(len); if (fread(s, 1, len, f) != (size_t)len) return 2; fclose(f);
  double secs = atof(argv[2]); int rounds = atoi(argv[3]); if (rounds < 1 || rounds > 99) return 2;
  init();
  run(s, len, secs / 4, 0); run(s, len, secs / 4, 1);
  double rb[99], rs[99];
  for (int r = 0; r < rounds; r++) { rb[r] = run(s, len, secs / rounds, 0); rs[r] = run(s, len, secs / rounds, 1); }
  qsort(rb, rounds, sizeof(double), cmp); qsort(rs, rounds, sizeof(double), cmp);
  printf("%.0f %.0f\n", rb[rounds / 2], rs[rounds / 2]);
  return 0;
}
`;

/** C decode rates (headers per CPU-second), or why there are none (no compiler, or it failed). */
export type CDecodeResult = { byteTable: number; sliceBy8: number } | { skipped: string };

/**
 * Compile C_DECODER with `cc -O2` into a temporary directory and run it on
 * `stream` for `seconds` of CPU time per variant. Skipped when there is no C
 * compiler (or it fails): the bench then has no C row.
 */
export function measureCDecode(stream: Uint8Array, seconds: number): CDecodeResult {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'dmsg-wire-bench-'));
    const src = join(dir, 'decode.c');
    const exe = join(dir, 'decode');
    const data = join(dir, 'stream.bin');
    writeFileSync(src, C_DECODER);
    writeFileSync(data, stream);
    try {
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, src], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    } catch (err) {
      return { skipped: `no working C compiler (${process.env.CC ?? 'cc'}): ${(err as Error).message.split('\n')[0]}` };
    }
    const out = execFileSync(exe, [data, String(seconds), '5'], { encoding: 'utf8', timeout: 60_000 + seconds * 4000 }).trim().split(/\s+/).map(Number);
    if (out.length !== 2 || !out.every((v) => Number.isFinite(v) && v > 0)) return { skipped: `the C decoder printed something unexpected` };
    return { byteTable: out[0]!, sliceBy8: out[1]! };
  } catch (err) {
    return { skipped: `the C decoder failed: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
