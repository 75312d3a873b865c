/**
 * Where a sequential round trip's time goes, per process: the time from a
 * socket's 'data' event to the next `write()` on it (the process's critical
 * path for one hop: receive, work, reply), kept per measuring window. The
 * two-process DLM benchmark (bench/dlm-remote.ts) turns it on with
 * DLM_BENCH_HOPS=1 and reports, per case, the median and mean of this time
 * in both processes and what is left of a round trip (the kernel, wake-ups,
 * scheduling and anything a process does after its write).
 *
 * It wraps the socket's `emit` and `write`, and the read callback a socket
 * that reads into a reused buffer calls instead of emitting 'data'
 * (src/iocom/socket-reader.ts): two clock reads per hop, about the same cost
 * on every case. Off, nothing is wrapped.
 */
import type { Socket } from 'node:net';

/** Hops kept per window at most (later ones are counted, not kept). */
const MAX_HOPS = 1 << 20;

export interface HopSummary {
  hops: number;
  /** Data-to-write time, µs. */
  medianUs: number;
  meanUs: number;
}

export class HopTimer {
  readonly #times = new Float64Array(MAX_HOPS);
  #n = 0;
  #count = 0;
  #sum = 0;

  /** Times hops on `sock` from now on. */
  wrap(sock: Socket): void {
    let tin = -1;
    const emit = sock.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
    const write = sock.write as (this: Socket, ...args: unknown[]) => boolean;
    const start = (): void => {
      tin = performance.now();
    };
    // A socket read through Node's onread path (our socket reader) calls the
    // function stored under the 'kBufferCb' symbol, not emit('data'): wrap
    // whatever is stored there, now or later.
    const kBufferCb = Object.getOwnPropertySymbols(sock).find((k) => k.description === 'kBufferCb');
    if (kBufferCb !== undefined) {
      const slots = sock as unknown as Record<symbol, unknown>;
      let cb = slots[kBufferCb];
      Object.defineProperty(sock, kBufferCb, {
        configurable: true,
        enumerable: false,
        get: () => cb,
        set: (f: unknown) => {
          cb =
            typeof f === 'function'
              ? function (this: unknown, ...args: unknown[]): unknown {
                  start();
                  return (f as (...a: unknown[]) => unknown).apply(this, args);
                }
              : f;
        },
      });
    }
    sock.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'data') start();
      return emit.call(this, event, ...args);
    } as Socket['emit'];
    sock.write = ((...args: unknown[]): boolean => {
      if (tin >= 0) {
        this.#add((performance.now() - tin) * 1000);
        tin = -1;
      }
      return write.apply(sock, args);
    }) as Socket['write'];
  }

  #add(us: number): void {
    if (this.#n < MAX_HOPS) this.#times[this.#n++] = us;
    this.#count++;
    this.#sum += us;
  }

  /** Starts a new window. */
  reset(): void {
    this.#n = 0;
    this.#count = 0;
    this.#sum = 0;
  }

  /** The window so far. */
  summary(): HopSummary {
    const kept = this.#times.slice(0, this.#n).sort();
    const m = kept.length >> 1;
    const medianUs = kept.length === 0 ? NaN : kept.length % 2 === 1 ? kept[m]! : (kept[m - 1]! + kept[m]!) / 2;
    return { hops: this.#count, medianUs, meanUs: this.#count > 0 ? this.#sum / this.#count : NaN };
  }
}

/** On when DLM_BENCH_HOPS=1. */
export const HOPS_ON = process.env.DLM_BENCH_HOPS === '1';
