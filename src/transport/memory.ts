/**
 * In-memory full-duplex link: two `Duplex` ends where each end's writes become
 * the other end's readable data.
 *
 * - Chunks are passed by reference (no copies): a writer must not mutate a
 *   buffer after handing it to `write()`, exactly as with any zero-copy pipe.
 * - Backpressure is real. A chunk moves to the peer's readable buffer only
 *   while that buffer is under its high-water mark; past it, the writer's
 *   write callback is held, its own buffer fills, `write()` returns false and
 *   'drain' fires once the reader reads again.
 * - Delivery is asynchronous (a microtask after `write()`), so a 'data'
 *   handler never runs inside the writer's `write()` call.
 * - `end()` delivers EOF after all earlier chunks. `destroy()` on one end
 *   cuts the link, like a reset socket: the peer is destroyed too (it sees
 *   'close'; data still in flight is lost). Once both directions have ended
 *   cleanly, the auto-destroy of one end does not touch the other.
 */
import { Duplex } from 'node:stream';
import { TransportError } from './errors.ts';
import { resolveMemoryPairOptions } from './options.ts';
import type { MemoryPairOptions } from './options.ts';
import { markLinkRole } from '../util/link-role.ts';

export type { MemoryPairOptions } from './options.ts';

/** A direction of a memory link: `aToB` carries what `a` writes. */
export type MemoryDirection = 'aToB' | 'bToA';

type WriteCallback = (error?: Error | null) => void;

const EMPTY: readonly Buffer[] = [];

/** One end of a memory link. Behaves like a connected socket without the fd. */
export class MemoryDuplex extends Duplex {
  #peer: MemoryDuplex | null = null;
  /** Chunks of the in-flight `_write`/`_writev` batch not yet pushed to the peer. */
  #out: readonly Buffer[] = EMPTY;
  #outIndex = 0;
  #outCb: WriteCallback | null = null;
  #finalCb: WriteCallback | null = null;
  /** The peer's readable buffer is under its high-water mark. */
  #peerWants = true;
  #scheduled = false;
  /** Delivery from this end to the peer is paused by link control. */
  #paused = false;
  #eofSent = false;
  readonly #flush = (): void => this.#deliver();

  /** @internal use `memoryPair()` or `createMemoryLink()`. */
  constructor(highWaterMark: number, allowHalfOpen: boolean) {
    super({ highWaterMark, allowHalfOpen, decodeStrings: true });
  }

  /** @internal */
  static link(a: MemoryDuplex, b: MemoryDuplex): void {
    a.#peer = b;
    b.#peer = a;
  }

  /** @internal pause or resume delivery of what this end writes. */
  static setPaused(end: MemoryDuplex, paused: boolean): void {
    end.#paused = paused;
    if (!paused) end.#schedule();
  }

  /** @internal */
  static isPaused(end: MemoryDuplex): boolean {
    return end.#paused;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#out = [chunk];
    this.#outIndex = 0;
    this.#outCb = callback;
    this.#schedule();
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: WriteCallback): void {
    const out = new Array<Buffer>(chunks.length);
    for (let i = 0; i < chunks.length; i++) out[i] = chunks[i]!.chunk;
    this.#out = out;
    this.#outIndex = 0;
    this.#outCb = callback;
    this.#schedule();
  }

  override _final(callback: WriteCallback): void {
    this.#finalCb = callback;
    this.#schedule();
  }

  override _read(): void {
    // The peer writes into us; tell it we have room again.
    const peer = this.#peer;
    if (peer === null) return;
    peer.#peerWants = true;
    peer.#schedule();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const outCb = this.#outCb;
    this.#out = EMPTY;
    this.#outCb = null;
    const finalCb = this.#finalCb;
    this.#finalCb = null;
    const peer = this.#peer;
    if (peer !== null && !peer.destroyed && !(this.#eofSent && peer.#eofSent)) {
      // A cut: the peer can neither receive what it still writes nor expect
      // more from us. Destroy it without an error, as a reset would close it.
      queueMicrotask(() => peer.destroy());
    }
    const lost = error ?? new TransportError('CLOSED', 'memory link destroyed before the data was delivered');
    if (outCb !== null) outCb(lost);
    if (finalCb !== null) finalCb(lost);
    callback(error);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flush);
  }

  #deliver(): void {
    this.#scheduled = false;
    const peer = this.#peer;
    if (this.#paused || peer === null || this.destroyed) return;
    if (peer.destroyed) return; // our own destroy follows from the peer's cut
    const out = this.#out;
    while (this.#outIndex < out.length && this.#peerWants) {
      if (!peer.push(out[this.#outIndex++])) this.#peerWants = false;
    }
    if (this.#outIndex < out.length) return; // wait for the peer's _read
    const outCb = this.#outCb;
    if (outCb !== null) {
      this.#out = EMPTY;
      this.#outIndex = 0;
      this.#outCb = null;
      outCb();
      return; // the Writable calls _write/_writev/_final again as needed
    }
    const finalCb = this.#finalCb;
    if (finalCb !== null) {
      this.#finalCb = null;
      this.#eofSent = true;
      peer.push(null);
      finalCb();
    }
  }
}

/** A memory link with delivery control, for tests and in-process meshes. */
export interface MemoryLink {
  readonly a: MemoryDuplex;
  readonly b: MemoryDuplex;
  /**
   * Stop moving bytes in a direction (both by default). The writer fills up
   * and sees `write()` return false; nothing is lost.
   */
  pause(direction?: MemoryDirection): void;
  /** Undo `pause()` (both directions by default). */
  resume(direction?: MemoryDirection): void;
  isPaused(direction: MemoryDirection): boolean;
}

export function createMemoryLink(options?: MemoryPairOptions): MemoryLink {
  const o = resolveMemoryPairOptions(options);
  const a = new MemoryDuplex(o.highWaterMark, o.allowHalfOpen);
  const b = new MemoryDuplex(o.highWaterMark, o.allowHalfOpen);
  MemoryDuplex.link(a, b);
  markLinkRole(a, 'initiator'); // for LNK_AUTH: a counts as the end that dialled
  markLinkRole(b, 'responder');
  const ends = (d?: MemoryDirection): MemoryDuplex[] => (d === undefined ? [a, b] : d === 'aToB' ? [a] : [b]);
  return Object.freeze({
    a,
    b,
    pause(direction?: MemoryDirection) {
      for (const end of ends(direction)) MemoryDuplex.setPaused(end, true);
    },
    resume(direction?: MemoryDirection) {
      for (const end of ends(direction)) MemoryDuplex.setPaused(end, false);
    },
    isPaused(direction: MemoryDirection) {
      return MemoryDuplex.isPaused(direction === 'aToB' ? a : b);
    },
  });
}

/** An in-memory connected pair `[a, b]`: what `a` writes, `b` reads, and back. */
export function memoryPair(options?: MemoryPairOptions): [MemoryDuplex, MemoryDuplex] {
  const link = createMemoryLink(options);
  return [link.a, link.b];
}
