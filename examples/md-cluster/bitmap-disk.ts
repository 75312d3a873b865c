/**
 * The write-intent bitmaps of a clustered md array as they sit on its shared
 * disks: one bitmap area per slot, readable by every node. md-cluster keeps
 * each node's bitmap on disk (the LVB of `bitmapNNNN` only carries a hint,
 * the resync range, and an LVB does not survive the death of the node that
 * mastered the resource); `recover_bitmaps` reads a dead slot's bitmap from
 * disk (`md_bitmap_copy_from_slot(..., clear_bits = true)`), merges it and
 * resyncs the range. Here a slot's bitmap is reduced to its dirty range.
 */

/** A sector range [low, high); high 0 = clean. */
export interface DirtyRange {
  low: bigint;
  high: bigint;
}

export class SharedBitmaps {
  readonly #dirty = new Map<number, DirtyRange>();

  /** Slot `mdSlot` marks [low, high) dirty (merged with what is dirty already); (0, 0) clears it. */
  mark(mdSlot: number, low: bigint, high: bigint): void {
    if (high <= low) {
      this.#dirty.delete(mdSlot);
      return;
    }
    const cur = this.#dirty.get(mdSlot);
    this.#dirty.set(mdSlot, cur ? { low: cur.low < low ? cur.low : low, high: cur.high > high ? cur.high : high } : { low, high });
  }

  /** What slot `mdSlot`'s bitmap has dirty ({0, 0} when clean). */
  read(mdSlot: number): DirtyRange {
    const r = this.#dirty.get(mdSlot);
    return r ? { ...r } : { low: 0n, high: 0n };
  }

  /**
   * md_bitmap_copy_from_slot with clear_bits: read slot `mdSlot`'s dirty
   * range and clear it (the caller, holding the slot's bitmap lock in PW,
   * takes the range over).
   */
  copyFromSlot(mdSlot: number): DirtyRange {
    const r = this.read(mdSlot);
    this.#dirty.delete(mdSlot);
    return r;
  }
}
