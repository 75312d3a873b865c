/**
 * Deterministic simulation of a DLM cluster in one process: N nodes joined
 * by an in-memory, ordered transport, one ManualClock and one FIFO task
 * queue for every callback and message. The hooks tests need: hold, release
 * and reorder the messages between two nodes; observe every message (the
 * nodes' `observer` option); `settle()` runs until no callback, message or
 * timer is pending; membership is whatever the test starts lockspaces with.
 */
import { ManualClock } from '../../util/clock.ts';
import { Dlm } from './dlm.ts';
import type { ResourceHash } from './hash.ts';
import { ManualScheduler } from './scheduler.ts';
import type { DlmEndpoint, DlmMessageEvent } from './transport.ts';

export interface DlmSimOptions {
  /** Node ids. @default [1, 2, 3] */
  nodes?: readonly number[];
  hash?: ResourceHash;
  /** Retirement delay, one for all or per node id. @default 10000 */
  tossMs?: number | Readonly<Record<number, number>>;
  observer?: (event: DlmMessageEvent) => void;
  /** Per lockspace, messages kept while stopped. @default 100000 */
  maxSavedMessages?: number;
  /** What user callbacks threw. @default rethrown out of settle() */
  onCallbackError?: (err: unknown) => void;
}

interface Held {
  from: number;
  to: number;
  bytes: Uint8Array;
}

export class DlmSim {
  readonly clock = new ManualClock();
  readonly scheduler: ManualScheduler;
  readonly nodes = new Map<number, Dlm>();
  readonly #receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  readonly #held = new Map<string, Held[]>();
  #errors: unknown[] = [];
  /** Messages handed to the network so far. */
  delivered = 0;

  constructor(options: DlmSimOptions = {}) {
    const onError = options.onCallbackError ?? ((err: unknown) => void this.#errors.push(err));
    this.scheduler = new ManualScheduler(onError);
    for (const id of options.nodes ?? [1, 2, 3]) {
      const endpoint: DlmEndpoint = {
        nodeid: id,
        send: (to, bytes) => this.#send(id, to, bytes),
        setReceiver: (fn) => {
          if (fn) this.#receivers.set(id, fn);
          else this.#receivers.delete(id);
        },
      };
      this.nodes.set(
        id,
        new Dlm({ endpoint, clock: this.clock, scheduler: this.scheduler, hash: options.hash, tossMs: typeof options.tossMs === 'object' ? options.tossMs[id] : options.tossMs, observer: options.observer, maxSavedMessages: options.maxSavedMessages, onCallbackError: onError }),
      );
    }
  }

  node(id: number): Dlm {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  get nodeIds(): number[] {
    return [...this.nodes.keys()];
  }

  #send(from: number, to: number, bytes: Uint8Array): void {
    const held = this.#held.size === 0 ? undefined : this.#held.get(`${from}>${to}`);
    if (held) {
      held.push({ from, to, bytes });
      return;
    }
    this.scheduler.post(() => this.#deliver(from, to, bytes));
  }

  #deliver(from: number, to: number, bytes: Uint8Array): void {
    this.delivered++;
    this.#receivers.get(to)?.(from, bytes);
  }

  /** Deliver raw bytes to `to` as if `from` sent them (malformed-input tests). */
  inject(from: number, to: number, bytes: Uint8Array): void {
    this.scheduler.post(() => this.#deliver(from, to, bytes));
  }

  /** Hold every message from `from` to `to` (one direction) until release(). */
  hold(from: number, to: number): void {
    if (!this.#held.has(`${from}>${to}`)) this.#held.set(`${from}>${to}`, []);
  }

  /** How many messages are held from `from` to `to`. */
  heldCount(from: number, to: number): number {
    return this.#held.get(`${from}>${to}`)?.length ?? 0;
  }

  /**
   * Stop holding and deliver what was held, in `order` (indices into the
   * held list; default FIFO). An order that drops or repeats is refused.
   */
  release(from: number, to: number, order?: readonly number[]): void {
    const held = this.#held.get(`${from}>${to}`) ?? [];
    this.#held.delete(`${from}>${to}`);
    const idx = order ?? held.map((_, i) => i);
    if (idx.length !== held.length || new Set(idx).size !== held.length || idx.some((i) => !(i >= 0 && i < held.length))) {
      throw new RangeError(`release: order must be a permutation of 0..${held.length - 1}, got [${idx.join(', ')}]`);
    }
    for (const i of idx) {
      const h = held[i]!;
      this.scheduler.post(() => this.#deliver(h.from, h.to, h.bytes));
    }
  }

  /** Run what is pending now (tasks and messages), without timers or awaiting. */
  runPending(): number {
    const n = this.scheduler.runPending();
    this.#throwErrors();
    return n;
  }

  /**
   * Run until no callback, message or timer is pending (held messages do not
   * count). Awaits between rounds so that promise continuations of the
   * TypeScript API run too. `timers: false` leaves timers (resource
   * retirement) alone.
   */
  async settle(options: { timers?: boolean; maxRounds?: number } = {}): Promise<void> {
    const timers = options.timers ?? true;
    const maxRounds = options.maxRounds ?? 100_000;
    for (let round = 0; round < maxRounds; round++) {
      this.scheduler.runPending();
      this.#throwErrors();
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.scheduler.pending > 0) continue;
      if (timers && this.clock.pending > 0) {
        this.clock.advance(this.clock.delays[0]!);
        continue;
      }
      return;
    }
    throw new RangeError(`settle: still busy after ${maxRounds} rounds`);
  }

  #throwErrors(): void {
    if (this.#errors.length > 0) {
      const errs = this.#errors;
      this.#errors = [];
      throw errs.length === 1 ? errs[0] : new AggregateError(errs, `${errs.length} callback errors`);
    }
  }
}
