/** Resource names as map keys: a byte string as a JS string, one char per byte. */

/** A byte string as a map key (one char per byte). */
export function latin1(b: Uint8Array): string {
  // One flat string (names are at most 64 bytes): no cons-string per byte.
  if (b.length <= 256) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
