/**
 * 32-bit sequence numbers with wrap-safe comparison (RFC 1982 style, as the
 * kernel's `before()`): `a` is before `b` when `(int32)(a - b) < 0`. Linux's
 * receiver compares with a plain `<` (spec §5.12 item 7); both our sides use
 * these helpers, so a session that crosses 2^32 behaves as one that does not.
 */

/** `(a + n) mod 2^32`. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance `b - a` in (-2^31, 2^31]. */
export function seqDiff(a: number, b: number): number {
  return (b - a) | 0;
}

/** `a` comes strictly before `b`. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** `a` comes strictly after `b`. */
export function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** True for an integer in [0, 2^32). */
export function isSeq(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
