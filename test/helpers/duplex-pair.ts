/**
 * A pausable in-memory Duplex pair for tests (after Node core's duplexpair,
 * pausable like libp2p's `multiaddrConnectionPair`). A thin name over
 * `createMemoryLink()` so tests read naturally.
 *
 * ```ts
 * const { a, b, pause, resume } = duplexPair({ highWaterMark: 1024 });
 * pause('aToB');          // a's bytes stop moving; a.write() soon returns false
 * resume('aToB');         // they flow again, 'drain' fires on a
 * ```
 */
import { createMemoryLink, memoryPair } from '../../src/transport/memory.ts';
import type { MemoryDirection, MemoryLink } from '../../src/transport/memory.ts';
import type { MemoryPairOptions } from '../../src/transport/options.ts';

export type { MemoryDirection, MemoryLink as DuplexPair, MemoryPairOptions };

/**
 * A connected pair `{ a, b }` with delivery control per direction.
 * Delivery is asynchronous, backpressure is real, `destroy()` cuts both ends.
 */
export function duplexPair(options?: MemoryPairOptions): MemoryLink {
  return createMemoryLink(options);
}

/** Just the two ends, `[a, b]`, when no pause control is needed. */
export { memoryPair };
