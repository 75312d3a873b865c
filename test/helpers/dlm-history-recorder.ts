/**
 * Records a DLM history (dlm-history-types.ts) from the public TypeScript
 * API only: `ls.lock()`, `lk.convert()`, `lk.unlock()`, abort signals, and
 * what the promises and the lock handle report (`lk.mode`, `lk.ended`,
 * `lk.lvb`, `lk.sbflags`, `lk.fence`). `LockClient` is one application on
 * one node incarnation driving a seeded random workload: new requests
 * (NOQUEUE sometimes), conversions (QUECVT where §1.6 allows it, NOQUEUE
 * sometimes), unlocks, cancels; every writer puts (resource, lock, counter)
 * in the LVB when it leaves PW/EX, so the checker can verify §1.7/§4.7.
 *
 * Used in-process (events into an array) and inside relay processes (each
 * event one JSON line).
 */
import { statusName, type DlmLock, type DlmLockspace, type ModeName } from '../../src/services/dlm/index.ts';
import type { HMode, HistoryEvent } from './dlm-history-types.ts';

export type Sink = (e: HistoryEvent) => void;

const MODES: readonly HMode[] = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'];
/** §1.6: the conversions that may carry QUECVT (granted -> requested). */
const QUECVT_OK: Readonly<Record<HMode, readonly HMode[]>> = { NL: ['CR', 'CW', 'PR', 'PW', 'EX'], CR: ['CW', 'PR', 'PW', 'EX'], CW: ['PR', 'PW', 'EX'], PR: ['CW', 'PW', 'EX'], PW: ['EX'], EX: [] };
const VALNOTVALID = 0x02;

export function hex(b: Uint8Array | null | undefined): string | undefined {
  if (!b) return undefined;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : `THROWN:${String(err)}`;
}

/** The fencing token the API exposes (`lk.fence`), if any. */
function fenceOf(lk: DlmLock): number | undefined {
  const f = (lk as unknown as { fence?: unknown }).fence;
  return typeof f === 'number' ? f : undefined;
}

interface Handle {
  readonly key: string;
  readonly res: string;
  lk: DlmLock | null;
  /** What the application believes it holds. */
  held: HMode | null;
  busy: 'request' | 'convert' | 'unlock' | null;
  abort: AbortController | null;
  writes: number;
  /** An unlock was refused (EBUSY: a cancel in progress, §2.9) and the lock kept its mode: the application only unlocks it again. */
  unlockRefused: boolean;
  /** The LVB that refused unlock carried: sent again, the same value, so the history has no write it never issued. */
  refusedLvb?: Uint8Array | undefined;
}

export interface LockClientOptions {
  /** DLM node id (for the events). */
  node: number;
  /** Incarnation of the node (a restart starts a new one). */
  incarnation: number;
  ls: DlmLockspace;
  /** Resource names to work on. */
  resources: readonly string[];
  /** Seeded random in [0, 1). */
  rand: () => number;
  /** Time of an event. */
  now: () => number;
  sink: Sink;
  /** LVB length of the lockspace. */
  lvblen: number;
  /** Locks a client holds or asks for at most. @default 4 */
  maxLocks?: number;
}

/** One application on one node incarnation. */
export class LockClient {
  readonly #o: LockClientOptions;
  readonly #handles = new Map<string, Handle>();
  #locks = 0;
  #ops = 0;
  #dead = false;
  /** Operations issued, and completions seen. */
  issued = 0;
  completed = 0;

  constructor(options: LockClientOptions) {
    this.#o = options;
  }

  get pending(): number {
    return this.issued - this.completed;
  }

  /** The node died: record nothing more (its promises may still settle in this process). */
  kill(): void {
    this.#dead = true;
  }

  #emit(e: HistoryEvent): void {
    if (!this.#dead) this.#o.sink(e);
  }

  #base(): { t: number; node: number } {
    return { t: this.#o.now(), node: this.#o.node };
  }

  #op(): string {
    return `n${this.#o.node}.${this.#o.incarnation}:o${++this.#ops}`;
  }

  #lvbValue(h: Handle): Uint8Array {
    const text = `${h.res}|${h.key}|${++h.writes}`;
    const out = new Uint8Array(this.#o.lvblen);
    out.set(new TextEncoder().encode(text).subarray(0, this.#o.lvblen));
    return out;
  }

  #done(h: Handle, op: string, status: string): void {
    this.completed++;
    const lk = h.lk;
    const mode = (lk?.mode ?? null) as HMode | null;
    const ended = lk ? lk.ended : true;
    const e: HistoryEvent = {
      type: 'done',
      ...this.#base(),
      op,
      lock: h.key,
      status,
      mode: status === 'OK' || !ended ? mode : null,
      ended,
      ...(lk && status === 'OK' && (mode === 'PW' || mode === 'EX') && fenceOf(lk) !== undefined ? { fence: fenceOf(lk)! } : {}),
      ...(lk && status === 'OK' ? { lvb: hex(lk.lvb), valnotvalid: (lk.sbflags & VALNOTVALID) !== 0 } : {}),
    };
    this.#emit(e);
  }

  /** A new request. */
  request(res: string, mode: HMode, flags: readonly ('NOQUEUE')[] = [], cancellable = false): void {
    const key = `n${this.#o.node}.${this.#o.incarnation}#${++this.#locks}`;
    const h: Handle = { key, res, lk: null, held: null, busy: 'request', abort: cancellable ? new AbortController() : null, writes: 0, unlockRefused: false };
    this.#handles.set(key, h);
    const op = this.#op();
    this.issued++;
    this.#emit({ type: 'request', ...this.#base(), op, lock: key, res, mode, flags: [...flags] });
    this.#o.ls
      .lock(res, mode as ModeName, { flags: [...flags], ...(h.abort ? { signal: h.abort.signal } : {}) })
      .then(
        (lk) => {
          h.lk = lk;
          h.busy = null;
          h.abort = null;
          h.held = mode;
          this.#done(h, op, 'OK');
          this.#watchEnd(h, lk);
        },
        (err: unknown) => {
          h.busy = null;
          h.abort = null;
          this.#done(h, op, errCode(err));
          this.#handles.delete(key);
        },
      );
  }

  /**
   * A lock can end with no operation of ours in flight (the lockspace's
   * `fence()` fails it through its AST): the API then only completes
   * `bast$`. Record that as an `ended` event. (When one of our operations
   * is in flight its promise settles and records the completion instead.)
   */
  #watchEnd(h: Handle, lk: DlmLock): void {
    lk.bast$.subscribe({
      complete: () => {
        if (h.busy !== null || !this.#handles.has(h.key)) return;
        this.#handles.delete(h.key);
        h.held = null;
        this.#emit({ type: 'ended', ...this.#base(), lock: h.key, status: statusName(lk.lksb.status) });
      },
    });
  }

  convert(h: Handle, mode: HMode, flags: readonly ('NOQUEUE' | 'QUECVT')[] = [], cancellable = false): void {
    const lk = h.lk!;
    const from = h.held!;
    const writes = from === 'PW' || from === 'EX' ? !(from === 'PW' && mode === 'EX') : false;
    const lvb = writes ? this.#lvbValue(h) : undefined;
    const op = this.#op();
    h.busy = 'convert';
    h.abort = cancellable ? new AbortController() : null;
    this.issued++;
    this.#emit({ type: 'convert', ...this.#base(), op, lock: h.key, mode, flags: [...flags], ...(lvb ? { lvb: hex(lvb)! } : {}) });
    lk.convert(mode as ModeName, { flags: [...flags], ...(lvb ? { lvb } : {}), ...(h.abort ? { signal: h.abort.signal } : {}) }).then(
      () => {
        h.busy = null;
        h.abort = null;
        h.held = mode;
        this.#done(h, op, 'OK');
      },
      (err: unknown) => {
        h.busy = null;
        h.abort = null;
        h.held = (lk.mode ?? null) as HMode | null;
        this.#done(h, op, errCode(err));
        if (lk.ended) this.#handles.delete(h.key);
      },
    );
  }

  unlock(h: Handle): void {
    const lk = h.lk!;
    const from = h.held;
    const lvb = h.unlockRefused ? h.refusedLvb : from === 'PW' || from === 'EX' ? this.#lvbValue(h) : undefined;
    const op = this.#op();
    h.busy = 'unlock';
    this.issued++;
    this.#emit({ type: 'unlock', ...this.#base(), op, lock: h.key, ...(lvb ? { lvb: hex(lvb)! } : {}) });
    h.held = null;
    lk.unlock(lvb ? { lvb } : {}).then(
      () => {
        this.#done(h, op, 'OK');
        this.#handles.delete(h.key);
      },
      (err: unknown) => {
        this.#done(h, op, errCode(err));
        if (lk.ended) this.#handles.delete(h.key);
        else {
          // Refused and the lock is still there (EBUSY while a cancel is in progress, §2.9): the
          // application still holds its mode and must unlock it again (releaseAll/step do), or it
          // would block its resource for good.
          h.busy = null;
          h.held = (lk.mode ?? null) as HMode | null;
          h.unlockRefused = true;
          h.refusedLvb = lvb;
        }
      },
    );
  }

  cancel(h: Handle): void {
    if (!h.abort) return;
    this.#emit({ type: 'cancel', ...this.#base(), lock: h.key });
    const a = h.abort;
    h.abort = null;
    a.abort();
  }

  /** One random action (or none when nothing fits). */
  step(): void {
    const r = this.#o.rand;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const idle = [...this.#handles.values()].filter((h) => h.busy === null && h.held !== null);
    const convertible = idle.filter((h) => !h.unlockRefused);
    const cancellable = [...this.#handles.values()].filter((h) => h.abort !== null);
    const x = r();
    if (x < 0.4 && this.#handles.size < (this.#o.maxLocks ?? 4)) {
      const mode = pick(MODES);
      this.request(pick(this.#o.resources), mode, r() < 0.3 ? ['NOQUEUE'] : [], r() < 0.3);
    } else if (x < 0.65 && convertible.length > 0) {
      const h = pick(convertible);
      const to = pick(MODES.filter((m) => m !== h.held));
      const flags: ('NOQUEUE' | 'QUECVT')[] = [];
      if (r() < 0.25) flags.push('NOQUEUE');
      else if (QUECVT_OK[h.held!].includes(to) && r() < 0.3) flags.push('QUECVT');
      this.convert(h, to, flags, r() < 0.3);
    } else if (x < 0.9 && idle.length > 0) {
      this.unlock(pick(idle));
    } else if (cancellable.length > 0) {
      this.cancel(pick(cancellable));
    }
  }

  /** Drain: unlock every idle held lock (called repeatedly at the end until nothing is pending). */
  releaseAll(): void {
    for (const h of [...this.#handles.values()]) if (h.busy === null && h.held !== null) this.unlock(h);
  }

  /** Locks the application holds, idle (for probes). */
  heldLocks(): { res: string; mode: HMode }[] {
    return [...this.#handles.values()].filter((h) => h.held !== null).map((h) => ({ res: h.res, mode: h.held! }));
  }

  /** Record the final snapshot: each lock the application has a handle for, with the API's `lk.mode`. */
  snapshot(): void {
    for (const h of this.#handles.values()) {
      if (!h.lk || h.lk.ended) continue;
      this.#emit({ type: 'held', ...this.#base(), lock: h.key, mode: (h.lk.mode ?? null) as HMode | null });
    }
  }
}
