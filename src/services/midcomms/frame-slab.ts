/**
 * Frames built for sending (and messages received, see receiver.ts) are cut from slabs (64 KiB by default) rather than allocated
 * one by one: one typed-array view each instead of a buffer each, and frames
 * built one after another lie next to each other, so a batch of them goes
 * into one DMSG aux without a copy (see `contiguous`). A slab lives as long
 * as any of its frames (at most the send window, plus what a channel still
 * holds).
 */
const SLAB = 64 * 1024;

/**
 * Makes a slab's memory. The default does not zero it (`Buffer.allocUnsafeSlow`:
 * a buffer of its own, never the shared pool): every user of a slab writes
 * every byte it is handed (`alloc`: the send path's encoder, the ACK joiner;
 * `place`: a copy), which test/services/midcomms/send-fast-path.test.ts
 * proves with an allocator that fills its slabs with garbage.
 */
export type SlabAllocator = (bytes: number) => Uint8Array;

/** Non-zeroed memory of its own (see SlabAllocator). */
export const unzeroedSlab: SlabAllocator = (bytes) => {
  const b = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(b.buffer, b.byteOffset, bytes);
};

export class FrameSlab {
  readonly #size: number;
  readonly #make: SlabAllocator;
  #buf: Uint8Array = new Uint8Array(0);
  #off = 0;
  /** A DataView of the current slab's whole buffer (made once per slab; offsets are the buffer's, see `lastAt`) and where the last `alloc()` put its bytes: for writers of whole words. */
  dv = new DataView(this.#buf.buffer);
  lastAt = 0;

  /**
   * `size`: bytes per slab (a slab is never written again once its views are
   * handed out); `make`: its memory (default not zeroed: see SlabAllocator).
   */
  constructor(size = SLAB, make: SlabAllocator = unzeroedSlab) {
    this.#size = size;
    this.#make = make;
  }

  /** `bytes` bytes, NOT zeroed: the caller writes every one of them. (A frame is at most 4096.) */
  alloc(bytes: number): Uint8Array {
    if (this.#off + bytes > this.#buf.length) {
      this.#buf = this.#make(Math.max(this.#size, bytes));
      this.dv = new DataView(this.#buf.buffer);
      this.#off = 0;
    }
    // A view by constructor: subarray() looks up the species constructor (about twice the cost).
    const view = new Uint8Array(this.#buf.buffer, this.#off, bytes);
    this.lastAt = this.#off;
    this.#off += bytes;
    return view;
  }

  /**
   * Makes sure the next `bytes` fit in the current slab, starting a new one
   * now if they do not: the send path calls it after its write, so a new
   * slab's allocation (and the zero-fill) is not on the way to the next frame's write.
   */
  reserve(bytes: number): void {
    if (this.#off + bytes > this.#buf.length) {
      this.#buf = this.#make(Math.max(this.#size, bytes));
      this.dv = new DataView(this.#buf.buffer);
      this.#off = 0;
    }
  }

  /**
   * Copies `src` into the slab without making a view of the copy (the caller
   * makes views of the parts it hands out): the copy starts at `placedAt` of
   * `placedIn` until the next call.
   */
  place(src: Uint8Array): void {
    const bytes = src.length;
    if (this.#off + bytes > this.#buf.length) {
      this.#buf = this.#make(Math.max(this.#size, bytes));
      this.#off = 0;
    }
    this.#buf.set(src, this.#off);
    this.placedIn = this.#buf.buffer;
    this.placedAt = this.#off;
    this.#off += bytes;
  }

  /** Where the last `place()` put its copy: the buffer ... */
  placedIn: ArrayBufferLike = new ArrayBuffer(0);
  /** ... and the offset in it. */
  placedAt = 0;
}

/**
 * One view over `parts[from, to)` when they lie back to back in one buffer,
 * else null.
 */
export function contiguous(parts: readonly Uint8Array[], from: number, to: number): Uint8Array | null {
  const first = parts[from]!;
  let end = first.byteOffset + first.length;
  for (let k = from + 1; k < to; k++) {
    const p = parts[k]!;
    if (p.buffer !== first.buffer || p.byteOffset !== end) return null;
    end += p.length;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}
