/**
 * An in-memory Duplex pair whose link can fail on command, for iocom, relay
 * and service fault tests.
 *
 * Built as `a ⇄ [middle] ⇄ b`: two memory links with a pump per direction in
 * the middle. The pump is what misbehaves; `a` and `b` are ordinary ends with
 * real backpressure, so a stalled or held direction makes the writer's
 * `write()` return false exactly as a slow network would.
 *
 * Everything is deterministic: nothing happens on its own except `delay(ms)`,
 * which uses `setTimeout` and so works under `vi.useFakeTimers()`.
 *
 * ```ts
 * const link = faultyPair();
 * link.corrupt(70, 'aToB');        // byte 70 of what a sends arrives flipped
 * link.hold('bToA');               // b's chunks queue in the middle
 * link.release('bToA', 1);         // let exactly one through
 * link.cut();                      // both ends see 'close'
 * ```
 */
import type { Duplex } from 'node:stream';
import { createMemoryLink } from '../../src/transport/memory.ts';
import type { MemoryDirection, MemoryDuplex } from '../../src/transport/memory.ts';
import type { MemoryPairOptions } from '../../src/transport/options.ts';

export type Direction = MemoryDirection;

export interface FaultyPairOptions extends MemoryPairOptions {}

export interface DirectionStats {
  /** Bytes that entered the middle from the writer. */
  readonly bytesIn: number;
  /** Bytes handed on to the reader's side. */
  readonly bytesOut: number;
  /** Chunks queued in the middle (held, delayed or waiting for drain). */
  readonly queued: number;
  /** Offsets still waiting to be corrupted. */
  readonly pendingCorruptions: number;
}

export interface FaultyPair {
  /** One end; what it writes travels `aToB`. */
  readonly a: Duplex;
  /** The other end; what it writes travels `bToA`. */
  readonly b: Duplex;
  /**
   * Kill the link: both ends are destroyed (each sees 'close', no 'error'),
   * data in flight is lost, timers are cleared. Idempotent.
   */
  cut(): void;
  /** Stop moving bytes (one direction or both). Nothing is lost; the writer backs up. */
  stall(direction?: Direction): void;
  /** Undo `stall()`. */
  resume(direction?: Direction): void;
  /**
   * Flip bits of the byte at absolute stream offset `offset` (0 = first byte
   * the writer ever wrote in that direction) by XOR with `mask`. The chunk is
   * copied first, so the writer's buffer is never touched. Throws if that
   * offset has already gone through.
   */
  corrupt(offset: number, direction?: Direction, mask?: number): void;
  /** Queue every chunk in the middle until `release()` (one direction or both). */
  hold(direction?: Direction): void;
  /**
   * Let held chunks go, oldest first, skipping any delay. With `count`, that
   * many and keep holding; without, all of them and stop holding. Returns how
   * many were released (they leave at once unless the direction is stalled
   * or the reader backs up).
   */
  release(direction?: Direction, count?: number): number;
  /** Forward each later chunk `ms` milliseconds after it arrives (0 turns it off). Order is kept. */
  delay(ms: number, direction?: Direction): void;
  stats(direction: Direction): DirectionStats;
}

interface Entry {
  chunk: Buffer;
  /** Its delay (if any) has passed. */
  due: boolean;
  /** `release()` let it go, whatever the hold or delay. */
  released: boolean;
}

function canGo(e: Entry, holding: boolean): boolean {
  return e.released || (e.due && !holding);
}

/** One direction of the middle: reads `src`, writes `dst`. */
class Pump {
  readonly #src: MemoryDuplex;
  readonly #dst: MemoryDuplex;
  readonly #highWaterMark: number;
  readonly #queue: Entry[] = [];
  #queuedBytes = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  /** offset → xor mask */
  readonly #corruptions = new Map<number, number>();
  #stalled = false;
  #holding = false;
  #blocked = false;
  #delayMs = 0;
  #srcEnded = false;
  #dstEnded = false;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(src: MemoryDuplex, dst: MemoryDuplex, highWaterMark: number) {
    this.#src = src;
    this.#dst = dst;
    this.#highWaterMark = highWaterMark;
    src.on('data', (chunk: Buffer) => this.#onData(chunk));
    src.on('end', () => {
      this.#srcEnded = true;
      this.#drain();
    });
  }

  #onData(chunk: Buffer): void {
    const start = this.#bytesIn;
    this.#bytesIn += chunk.length;
    if (this.#corruptions.size > 0) chunk = this.#applyCorruptions(chunk, start);
    const entry: Entry = { chunk, due: this.#delayMs === 0, released: false };
    this.#queue.push(entry);
    this.#queuedBytes += chunk.length;
    if (!entry.due) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        entry.due = true;
        this.#drain();
      }, this.#delayMs);
      this.#timers.add(timer);
    }
    this.#drain();
  }

  #applyCorruptions(chunk: Buffer, start: number): Buffer {
    let copy: Buffer | null = null;
    for (const [offset, mask] of this.#corruptions) {
      if (offset < start || offset >= start + chunk.length) continue;
      copy ??= Buffer.from(chunk);
      copy[offset - start] = copy[offset - start]! ^ mask;
      this.#corruptions.delete(offset);
    }
    return copy ?? chunk;
  }

  /** Forward ready chunks from the head, in order, while allowed. */
  #drain(): void {
    while (!this.#stalled && !this.#blocked && this.#queue.length > 0 && canGo(this.#queue[0]!, this.#holding)) {
      this.#forward(this.#queue.shift()!);
    }
    if (this.#srcEnded && this.#queue.length === 0 && !this.#dstEnded && !this.#dst.destroyed) {
      this.#dstEnded = true;
      this.#dst.end();
    }
    this.#updateFlow();
  }

  #forward(entry: Entry): void {
    this.#queuedBytes -= entry.chunk.length;
    this.#bytesOut += entry.chunk.length;
    if (this.#dst.destroyed) return;
    if (!this.#dst.write(entry.chunk) && !this.#blocked) {
      this.#blocked = true;
      this.#dst.once('drain', () => {
        this.#blocked = false;
        this.#drain();
      });
    }
  }

  /** Read from the writer only while we can pass bytes on; this carries backpressure. */
  #updateFlow(): void {
    if (this.#src.destroyed) return;
    const stop = this.#stalled || this.#blocked || this.#queuedBytes >= this.#highWaterMark;
    if (stop) this.#src.pause();
    else this.#src.resume();
  }

  stall(): void {
    this.#stalled = true;
    this.#updateFlow();
  }

  resume(): void {
    this.#stalled = false;
    this.#drain();
  }

  hold(): void {
    this.#holding = true;
  }

  release(count: number | undefined): number {
    let n = 0;
    for (const e of this.#queue) {
      if (count !== undefined && n >= count) break;
      if (e.released) continue;
      e.released = true;
      n++;
    }
    if (count === undefined) this.#holding = false;
    this.#drain(); // a stall still wins: released chunks then leave on resume()
    return n;
  }

  delay(ms: number): void {
    this.#delayMs = ms;
  }

  corrupt(offset: number, mask: number): void {
    if (offset < this.#bytesIn) {
      throw new RangeError(`offset ${offset} already passed (${this.#bytesIn} bytes went through)`);
    }
    this.#corruptions.set(offset, mask);
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  stats(): DirectionStats {
    return Object.freeze({
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      queued: this.#queue.length,
      pendingCorruptions: this.#corruptions.size,
    });
  }
}

/** A connected pair `{ a, b }` whose link you can break, stall, corrupt and delay. */
export function faultyPair(options?: FaultyPairOptions): FaultyPair {
  const left = createMemoryLink(options); // a ⇄ left.b
  const right = createMemoryLink(options); // right.a ⇄ b
  const a = left.a;
  const b = right.b;
  const midA = left.b;
  const midB = right.a;
  const hwm = options?.highWaterMark ?? a.writableHighWaterMark;
  const pumps: Record<Direction, Pump> = {
    aToB: new Pump(midA, midB, hwm),
    bToA: new Pump(midB, midA, hwm),
  };
  // The middle ends are ours: their errors (writes racing a cut) are expected.
  for (const mid of [midA, midB]) mid.on('error', () => {});
  // A cut on either side reaches the other through the middle.
  const stopAll = (): void => {
    pumps.aToB.stop();
    pumps.bToA.stop();
  };
  // A middle end that closes after reading its writer's EOF closed
  // gracefully (the pump still forwards that EOF); any other close is a cut.
  const propagate = (closed: MemoryDuplex, other: MemoryDuplex) => () => {
    if (closed.readableEnded) return;
    stopAll();
    other.destroy();
  };
  midA.once('close', propagate(midA, midB));
  midB.once('close', propagate(midB, midA));
  const dirs = (d?: Direction): Pump[] => (d === undefined ? [pumps.aToB, pumps.bToA] : [pumps[d]]);

  return Object.freeze({
    a,
    b,
    cut() {
      stopAll();
      a.destroy();
      b.destroy();
    },
    stall(direction?: Direction) {
      for (const p of dirs(direction)) p.stall();
    },
    resume(direction?: Direction) {
      for (const p of dirs(direction)) p.resume();
    },
    corrupt(offset: number, direction: Direction = 'aToB', mask = 0xff) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
      if (!Number.isInteger(mask) || mask < 1 || mask > 0xff) throw new RangeError(`mask must be an integer in [1, 255], got ${mask}`);
      pumps[direction].corrupt(offset, mask);
    },
    hold(direction?: Direction) {
      for (const p of dirs(direction)) p.hold();
    },
    release(direction?: Direction, count?: number) {
      if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
        throw new RangeError(`count must be a non-negative integer, got ${count}`);
      }
      let n = 0;
      for (const p of dirs(direction)) n += p.release(count);
      return n;
    },
    delay(ms: number, direction?: Direction) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`ms must be a non-negative integer, got ${ms}`);
      for (const p of dirs(direction)) p.delay(ms);
    },
    stats(direction: Direction) {
      return pumps[direction].stats();
    },
  });
}
