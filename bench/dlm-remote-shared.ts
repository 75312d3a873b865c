/**
 * What both processes of the two-process DLM benchmark (bench/dlm-remote.ts,
 * bench/dlm-remote-worker.ts) share: the IPC messages, one DLM node on a
 * Router (midcomms, the DLM's MidcommsEndpoint, the echo service the raw
 * baseline uses), and the lock+unlock loops.
 */
import { DLM_ERRNO, Dlm, LKM, MidcommsEndpoint, newLksb, type Lockspace } from '../src/services/dlm/index.ts';
import { midcomms, nodeidOf, type Midcomms } from '../src/services/midcomms/index.ts';
import { Router, SVC_CMD } from '../src/span/index.ts';
import type { HopSummary } from './hop-timer.ts';

/** Resources the remote rows lock (mastered by the worker); `HOT` is the contended one. */
export const NAMES: readonly string[] = Array.from({ length: 100 }, (_, i) => `res${i}`);
export const HOT = 'hot';
export const ECHO_SERVICE = 'dlm-bench-echo';
/** The same echo, every message sent with `flush: true` (written during send, not at the turn's end), as midcomms sends a request or reply. */
export const ECHO_FLUSH_SERVICE = 'dlm-bench-echo-flush';
export const LOCKSPACE = 'bench';
/** keepalive off: nothing but the benchmark's traffic on the link. */
export const IOCOM = Object.freeze({ pingIntervalMs: 0, linkTimeoutMs: 0 });

export type ParentMessage =
  /** Join the lockspace (members sorted, the directory pinned at `dirIndex`) and master every name. */
  | { type: 'lockspace'; members: number[]; dirIndex: number }
  /** Run EX lock+unlock cycles on HOT for `ms` wall milliseconds. */
  | { type: 'contend'; ms: number }
  /** DLM_BENCH_HOPS=1: the worker's hop times since the last `hops` (then a new window). */
  | { type: 'hops' }
  | { type: 'exit' };

export type WorkerMessage =
  | { type: 'listening'; port: number; node: string }
  | { type: 'ready' }
  | { type: 'contended'; cycles: number; error?: string }
  | { type: 'hops'; summary: HopSummary }
  | { type: 'error'; message: string };

export const wallNow = (): number => performance.now() / 1000;

/** One DLM node of the benchmark: a Router, midcomms, the endpoint, and (once joined) the lockspace. */
export class BenchDlmNode {
  readonly router: Router;
  readonly mc: Midcomms;
  readonly endpoint: MidcommsEndpoint;
  readonly nodeid: number;
  dlm: Dlm | null = null;
  ls: Lockspace | null = null;
  readonly #echo: { close(): void };
  readonly #echoFlush: { close(): void };

  constructor(name: string) {
    this.router = new Router({ name, iocom: IOCOM });
    this.mc = midcomms(this.router);
    this.endpoint = new MidcommsEndpoint(this.router, this.mc);
    this.nodeid = this.endpoint.nodeid;
    // The raw baseline: every message of a transaction on it is echoed.
    this.#echo = this.router.serve(ECHO_SERVICE, (tx) => {
      tx.rx$.subscribe({ next: (m) => tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }), complete: () => tx.close(), error: () => {} });
    });
    this.#echoFlush = this.router.serve(ECHO_FLUSH_SERVICE, (tx) => {
      tx.rx$.subscribe({ next: (m) => tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux, flush: true }), complete: () => tx.close(), error: () => {} });
    });
  }

  /** The lockspace over `members` (sorted), every name's directory `members[dirIndex]`. */
  join(members: readonly number[], dirIndex: number): Lockspace {
    const hash = (dirIndex << 16) >>> 0;
    this.dlm = new Dlm({ endpoint: this.endpoint, hash: () => hash });
    this.ls = this.dlm.newLockspace(LOCKSPACE, { lvblen: 0, members: [...members] });
    return this.ls;
  }

  /** Master every name here: an NL lock on each (resolves when all are granted). */
  pinAll(): Promise<void> {
    const ls = this.ls!;
    const names = [...NAMES, HOT];
    return new Promise<void>((resolve, reject) => {
      let granted = 0;
      for (const n of names) {
        const lksb = newLksb(0);
        const rv = ls.lock(LKM.NL, lksb, 0, n, () => {
          if (lksb.status !== 0) reject(new Error(`pin ${n}: status ${lksb.status}`));
          else if (++granted === names.length) resolve();
        });
        if (rv !== 0) reject(new Error(`pin ${n}: lock returned ${rv}`));
      }
    });
  }

  async close(): Promise<void> {
    this.dlm?.close();
    this.endpoint.close();
    this.mc.destroy();
    this.#echo.close();
    this.#echoFlush.close();
    for (const l of this.router.links) l.iocom.destroy();
    await this.router.close();
  }
}

/** The DLM node id of a router node id (midcomms' default). */
export { nodeidOf };

/** One EX lock then unlock of `name`; resolves at the unlock's AST. */
export function cycleOnce(ls: Lockspace, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lksb = newLksb(0);
    let stage = 0;
    const rv = ls.lock(LKM.EX, lksb, 0, name, () => {
      if (stage === 0) {
        stage = 1;
        if (lksb.status !== 0) return reject(new Error(`lock ${name}: status ${lksb.status}`));
        const u = ls.unlock(lksb.lkid, 0, lksb);
        if (u !== 0) reject(new Error(`unlock ${name}: returned ${u}`));
      } else if (lksb.status !== DLM_ERRNO.EUNLOCK) {
        reject(new Error(`unlock ${name}: status ${lksb.status}`));
      } else resolve();
    });
    if (rv !== 0) reject(new Error(`lock ${name}: returned ${rv}`));
  });
}

/**
 * Cycles on `names` (all in flight at once, round after round) until
 * `untilS` (wall seconds); the cycles done. `yieldEach`: go through the
 * event loop after every round — a cycle on a locally mastered resource
 * completes in microtasks alone, and a loop of them would never let the
 * process read its socket (the other node's requests would wait until the
 * loop ends).
 */
export async function cyclesUntil(ls: Lockspace, names: readonly string[], untilS: number, yieldEach = false): Promise<number> {
  let n = 0;
  while (wallNow() < untilS) {
    if (names.length === 1) await cycleOnce(ls, names[0]!);
    else await Promise.all(names.map((name) => cycleOnce(ls, name)));
    n += names.length;
    if (yieldEach) await new Promise<void>((r) => setImmediate(r));
  }
  return n;
}

/** Rejects with `what` after `ms` unless `p` settles first (a safety net, never a measurement). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
