/**
 * One recovery run (one start() after a stop()): its sequence number, the
 * member list it recovers to, the departed nodes, and the RCOM requests it
 * awaits. Every timer and awaited reply belongs to the run, so abort()
 * (a new stop()) silences all of it at once; replies carrying another
 * sequence are ignored (§4.6 "aborted/restarted recovery is safe").
 */
import type { Lockspace } from '../lockspace.ts';
import { DLM_VERSION, encodeRcom, type DlmRcom } from '../message.ts';
import type { Resource } from '../resource.ts';
import { RCOM_RESEND_MS } from './recovery-status.ts';
import { membersKey } from './rcom-payloads.ts';

/** A reply's handler; returning false keeps the request awaiting a later reply (a status push). */
export type ReplyFn = (rc: DlmRcom, from: number) => boolean | void;

interface Pending {
  to: number;
  onReply: ReplyFn;
  timer: unknown;
}

/** The RCOM requests awaiting a reply, by rc_id (one map per lockspace, shared by its runs). */
export type PendingMap = Map<number, Pending>;

export class RecoveryRun {
  readonly ls: Lockspace;
  readonly seq: number;
  readonly members: readonly number[];
  /** Departed nodes (left, failed, or re-added with a new incarnation), including those of aborted runs. */
  readonly gone: ReadonlySet<number>;
  /** Members added since the last finished recovery, including by aborted runs (their saved lock messages are stale, §4.8). */
  joined: ReadonlySet<number> = new Set();
  readonly low: number;
  readonly key: number;
  /** The generation asked for by the caller, if any. */
  readonly requestedGeneration: number | undefined;
  readonly startedAt: number;
  aborted = false;
  /** STATUS polls sent and not answered at all yet, by node: re-sent at once when that node shows it is alive. */
  readonly unansweredPolls = new Map<number, () => void>();
  readonly #timers = new Set<unknown>();
  readonly #pending: PendingMap;
  readonly #nextId: () => number;

  constructor(ls: Lockspace, seq: number, members: readonly number[], gone: ReadonlySet<number>, generation: number | undefined, pending: PendingMap, nextId: () => number) {
    this.ls = ls;
    this.seq = seq;
    this.members = members;
    this.gone = gone;
    this.low = members[0]!;
    this.key = membersKey(members);
    this.requestedGeneration = generation;
    this.startedAt = ls.host.clock.now();
    this.#pending = pending;
    this.#nextId = nextId;
  }

  get isLow(): boolean {
    return this.low === this.ls.ourNodeid;
  }

  get others(): number[] {
    return this.members.filter((m) => m !== this.ls.ourNodeid);
  }

  /** The node is not (or no longer) a member of this incarnation. */
  isGone(nodeid: number): boolean {
    return this.gone.has(nodeid) || !this.members.includes(nodeid);
  }

  dirNodeOf(r: Resource): number {
    return this.ls.dirNodeOf(r);
  }

  /** A timer that dies with the run. */
  after(ms: number, fn: () => void): void {
    if (this.aborted) return;
    const t = this.ls.host.clock.setTimeout(() => {
      this.#timers.delete(t);
      if (!this.aborted) this.#guard(fn);
    }, ms);
    this.#timers.add(t);
  }

  /** Send an RCOM request and call `onReply` with its reply (once); re-sent every `resendMs` when > 0. */
  request(to: number, type: number, buf: Uint8Array, onReply: ReplyFn, resendMs = RCOM_RESEND_MS): number {
    if (this.aborted) return 0;
    const id = this.#nextId();
    const p: Pending = { to, onReply, timer: null };
    this.#pending.set(id, p);
    const send = (): void => {
      sendRcom(this.ls, to, { type, result: 0, id: BigInt(id), seq: BigInt(this.seq), seqReply: 0n, buf });
      if (resendMs > 0) {
        p.timer = this.ls.host.clock.setTimeout(() => {
          this.#timers.delete(p.timer);
          if (!this.aborted && this.#pending.has(id)) send();
        }, resendMs);
        this.#timers.add(p.timer);
      }
    };
    send();
    return id;
  }

  /** Stop awaiting request `id` (a later reply to it is ignored). */
  cancel(id: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (p.timer !== null) {
      this.ls.host.clock.clearTimeout(p.timer);
      this.#timers.delete(p.timer);
    }
  }

  /** Route a reply to its request; false when it is stale or unknown. */
  reply(rc: DlmRcom, from: number): boolean {
    if (this.aborted || rc.seqReply !== BigInt(this.seq)) return false;
    const id = Number(rc.id);
    const p = this.#pending.get(id);
    if (!p || p.to !== from) return false;
    this.#guard(() => {
      if (p.onReply(rc, from) !== false) this.cancel(id);
    });
    return true;
  }

  abort(): void {
    this.aborted = true;
    for (const t of this.#timers) this.ls.host.clock.clearTimeout(t);
    this.#timers.clear();
    this.#pending.clear();
    this.unansweredPolls.clear();
  }

  /** `node` sent us an RCOM: a poll it never answered (it had no lockspace yet) is re-sent now. */
  peerAlive(node: number): void {
    const again = this.unansweredPolls.get(node);
    if (again) {
      this.unansweredPolls.delete(node);
      again();
    }
  }

  /** A bug in a phase must not escape a timer or the receive path. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ls.refuse('RECOVERY_INTERNAL');
      this.ls.host.callbackError(err);
    }
  }
}

/** Encode and send one RCOM message from this lockspace. */
export function sendRcom(ls: Lockspace, to: number, rc: DlmRcom): void {
  const bytes = encodeRcom({ version: DLM_VERSION, lockspace: ls.globalId, nodeid: ls.ourNodeid }, rc);
  ls.stats.sent++;
  ls.host.send(to, bytes);
}
