/**
 * A deterministic in-process DLM network for attack tests: honest nodes are
 * real `Dlm` instances (one lockspace 'ls' each) on one ManualClock and one
 * ManualScheduler; every other node id is the adversary. Whatever an honest
 * node sends to an adversary id goes to `onAdversary` (decoded RCOM or raw
 * bytes); the adversary answers with `forge()` + `inject()`. Every error a
 * node reports (callback errors, internal bugs caught on the receive path)
 * and every unhandled rejection or uncaught exception is collected in
 * `errors`; tests assert it stays empty.
 */
import { afterEach, expect } from 'vitest';
import { ManualClock } from '../../src/util/clock.ts';
import { Dlm, newLksb, statusName, type Lksb, type ResourceHash } from '../../src/services/dlm/index.ts';
import type { Lockspace, StartOptions } from '../../src/services/dlm/lockspace.ts';
import { ManualScheduler } from '../../src/services/dlm/scheduler.ts';
import { DLM_VERSION, decodeRcom, encodeMessage, encodeRcom, type DlmMessage, type DlmRcom } from '../../src/services/dlm/message.ts';
import { pinHash } from '../services/dlm/cluster.ts';

export interface AdversaryInbox {
  from: number;
  to: number;
  bytes: Uint8Array;
  /** The RCOM, when the bytes are one. */
  rcom: DlmRcom | null;
}

export function hostileNet(honest: readonly number[], opts: { lvblen?: number; hash?: ResourceHash; members?: readonly number[]; maxSavedMessages?: number } = {}) {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const scheduler = new ManualScheduler((err) => errors.push(err));
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  const nodes = new Map<number, Dlm>();
  const ls = new Map<number, Lockspace>();
  const lvblen = opts.lvblen ?? 32;
  /** Per-direction cut (honest to honest), for killing a node. */
  const cut = new Set<string>();
  let onAdversary: (m: AdversaryInbox) => void = () => {};
  let onSend: ((from: number, to: number, bytes: Uint8Array) => void) | null = null;
  const deliver = (from: number, to: number, bytes: Uint8Array): void => {
    const r = receivers.get(to);
    if (r) return r(from, bytes);
    let rcom: DlmRcom | null = null;
    try {
      rcom = decodeRcom(bytes).rcom;
    } catch {
      rcom = null;
    }
    onAdversary({ from, to, bytes, rcom });
  };
  for (const id of honest) {
    const dlm = new Dlm({
      endpoint: {
        nodeid: id,
        send: (to, bytes) => {
          onSend?.(id, to, bytes);
          if (cut.has(`${id}>${to}`)) return;
          scheduler.post(() => deliver(id, to, bytes));
        },
        setReceiver: (fn) => {
          if (fn) receivers.set(id, fn);
          else receivers.delete(id);
        },
      },
      clock,
      scheduler,
      hash: opts.hash ?? pinHash,
      maxSavedMessages: opts.maxSavedMessages,
      onCallbackError: (err) => errors.push(err),
    });
    nodes.set(id, dlm);
    ls.set(id, dlm.newLockspace('ls', { lvblen, members: opts.members ?? honest }));
  }
  const globalId = ls.get(honest[0]!)!.globalId;

  /** An RCOM from `from` with a valid header for lockspace 'ls'. */
  const forge = (from: number, rc: Partial<DlmRcom> & { type: number }): Uint8Array =>
    encodeRcom({ version: DLM_VERSION, lockspace: globalId, nodeid: from }, { result: 0, id: 1n, seq: 1n, seqReply: 0n, buf: new Uint8Array(0), ...rc });
  /** A lock message (MSG) from `from` with a valid header for lockspace 'ls'. */
  const forgeMessage = (from: number, m: DlmMessage): Uint8Array => encodeMessage({ version: DLM_VERSION, lockspace: globalId, nodeid: from }, m);
  const inject = (from: number, to: number, bytes: Uint8Array): void => scheduler.post(() => deliver(from, to, bytes));

  const onUnhandled = (err: unknown): void => void errors.push(err);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  const dispose = (): void => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  };

  /** Run tasks and timers until idle or `maxMs` of virtual time passed (a stalled recovery keeps polling forever). */
  const runFor = async (maxMs: number, maxTasks = 200_000): Promise<void> => {
    const end = clock.now() + maxMs;
    let tasks = 0;
    for (;;) {
      tasks += scheduler.runPending(maxTasks);
      if (tasks > maxTasks) throw new RangeError(`runFor: more than ${maxTasks} tasks (a message loop?)`);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (scheduler.pending > 0) continue;
      const next = clock.delays[0];
      if (next === undefined || clock.now() + next > end) return;
      clock.advance(next);
    }
  };

  const log: string[] = [];
  /** Lock `name` in `mode` on node `node`; the AST logs '<tag> <status>'. */
  const lock = (node: number, tag: string, mode: number, name: string, flags = 0): Lksb => {
    const lksb = newLksb(lvblen);
    ls.get(node)!.lock(mode, lksb, flags, name, () => log.push(`${tag} ${statusName(lksb.status)}`));
    return lksb;
  };

  return {
    clock,
    scheduler,
    nodes,
    ls,
    honest,
    errors,
    log,
    globalId,
    cut,
    forge,
    forgeMessage,
    inject,
    runFor,
    lock,
    dispose,
    set onAdversary(fn: (m: AdversaryInbox) => void) {
      onAdversary = fn;
    },
    /** Called for every message an honest node sends (before delivery): attacks interleave with each protocol step. */
    set onSend(fn: ((from: number, to: number, bytes: Uint8Array) => void) | null) {
      onSend = fn;
    },
    /** Stop all, then start all, with `members` (the manager's order); `opts` (e.g. `departed`) goes to every start. */
    restart(nodesToRestart: readonly number[], members: readonly number[], opts?: StartOptions): void {
      for (const id of nodesToRestart) ls.get(id)!.stop();
      for (const id of nodesToRestart) ls.get(id)!.start(members, opts);
    },
    /** Total of refused + ignored RCOM counters on one node. */
    dropped(node: number): number {
      const s = ls.get(node)!.stats;
      return Object.values(s.refused).reduce((a, b) => a + b, 0) + s.recovery.rcomIgnored;
    },
  };
}

export type HostileNet = ReturnType<typeof hostileNet>;

/**
 * The per-file prologue of the hostile DLM tests: call at the top level of a
 * test file; it returns `make(honest, opts)`, which builds a `hostileNet`
 * that is disposed after the test that made it.
 */
export function useHostileNet(): (...args: Parameters<typeof hostileNet>) => HostileNet {
  let net: HostileNet | null = null;
  afterEach(() => {
    net?.dispose();
    net = null;
  });
  return (...args) => (net = hostileNet(...args));
}

/**
 * Run 100 ms of virtual time and check that exactly the locks tagged `tags`
 * were granted (the log, sorted, is `'<tag> 0'` each); then clear the log.
 * The usual "locks before the attack" step.
 */
export async function expectGranted(n: HostileNet, tags: readonly string[], ctx?: string): Promise<void> {
  await n.runFor(100);
  expect(n.log.sort(), ctx).toEqual(tags.map((t) => `${t} 0`));
  n.log.length = 0;
}
