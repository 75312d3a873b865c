/**
 * The resource hash and the directory node (spec §3.1). The default hash is
 * the kernel's jhash (lookup3, little-endian reads, initval 0), so directory
 * placement matches Linux nodes with the same member ids; tests inject their
 * own to pin a resource's directory node.
 */

/** A resource-name hash: u32. */
export type ResourceHash = (name: Uint8Array) => number;

const rol = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Linux `jhash(key, length, initval)`. */
export function jhash(key: Uint8Array, initval = 0): number {
  let length = key.length;
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  const u32 = (i: number): number => (key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)) >>> 0;
  while (length > 12) {
    a = (a + u32(k)) >>> 0;
    b = (b + u32(k + 4)) >>> 0;
    c = (c + u32(k + 8)) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The tail: byte i of the last (up to 12) bytes goes into a, b or c
  // (word i >> 2) at bit (i & 3) * 8, as the kernel's fall-through switch does.
  for (let i = 0; i < length; i++) {
    const v = (key[k + i]! << ((i & 3) * 8)) >>> 0;
    if (i < 4) a = (a + v) >>> 0;
    else if (i < 8) b = (b + v) >>> 0;
    else c = (c + v) >>> 0;
  }
  c = (c ^ b) >>> 0; c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 24)) >>> 0;
  return c;
}

/** The default resource hash: `jhash(name, 0)`. */
export const defaultResourceHash: ResourceHash = (name) => jhash(name, 0);

/**
 * The directory node of a hash among the members (ascending node ids, every
 * weight 1): `members[(hash >> 16) % members.length]`.
 */
export function directoryNode(hash: number, sortedMembers: readonly number[]): number {
  if (sortedMembers.length === 0) throw new RangeError('directoryNode: no members');
  return sortedMembers[(hash >>> 16) % sortedMembers.length]!;
}
