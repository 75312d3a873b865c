/**
 * Short extras (a resource name, an LVB) copied by a loop instead of viewed
 * or `set()`: on a message's hot path a new typed-array view costs about as
 * much as decoding the 88-byte fixed part, and `set()` is a builtin call
 * that costs more than a few stores. Used by the receive path that keeps
 * nothing past its handler (`decodeLockMessageInto`'s `copies`,
 * lockspace-receive.ts) and by the reused-buffer encoder (`MessageScratch`).
 */

/**
 * Where a receive path gets a short `extra`: one buffer per length, made
 * once and reused by every later message of that length. What it hands out
 * is valid until the next decode with the same copies.
 */
export interface ExtraCopies {
  readonly byLength: (Uint8Array | undefined)[];
}

/** Longest extra copied into an ExtraCopies buffer (a longer one is a view). */
export const SHORT_EXTRA_COPY = 64;

/** A fresh ExtraCopies. */
export function newExtraCopies(): ExtraCopies {
  return { byLength: [] };
}

/** `dst.set(src.subarray(from, from + n), at)` for a short run, by a loop. */
export function copyShort(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

/**
 * `bytes` from `start` to its end: a copy in `copies` when short, else a
 * view (borrowed either way: valid while `bytes` is and until the next call
 * with the same copies).
 */
export function extraOf(bytes: Uint8Array, start: number, copies: ExtraCopies | undefined): Uint8Array {
  const n = bytes.length - start;
  if (copies === undefined || n > SHORT_EXTRA_COPY) return new Uint8Array(bytes.buffer, bytes.byteOffset + start, n);
  let out = copies.byLength[n];
  if (out === undefined) copies.byLength[n] = out = new Uint8Array(n);
  copyShort(out, 0, bytes, start, n);
  return out;
}
