/**
 * The receive-path fast paths of a node: callbacks a received message
 * completes run at the end of its delivery when the endpoint delivers from
 * the event loop only (`DlmEndpoint.asyncReceive`, scheduler.ts), and a
 * received message is decoded into a reused record unless it is received
 * inside the handling of another (lockspace-receive.ts). Two nodes joined
 * by a hand-driven network: the test delivers each message itself, outside
 * any DLM call, so every step is deterministic (no timers, no sleeps).
 */
import { describe, expect, it } from 'vitest';
import { Dlm, DLM_ERRNO, LKF, LKM, newLksb, type DlmMessageEvent, type Lockspace } from '../../../src/services/dlm/index.ts';
import { decodeLockMessage, decodeLockMessageInto, DLM_VERSION, emptyMessage, encodeMessage, MSG } from '../../../src/services/dlm/message.ts';

interface Wire {
  from: number;
  to: number;
  bytes: Uint8Array;
}

/** Nodes 1 and 2 (NODIR: node 1, the hash node, masters every name; no lookups); `deliver()` hands over queued messages one at a time. */
function net(opts: { asyncReceive: boolean; sync?: boolean; onCallbackError?: (err: unknown) => void; observer?: (e: DlmMessageEvent) => void }) {
  const queue: Wire[] = [];
  /** Synchronous deliveries in progress per node, and the most seen at once. */
  const depth = new Map<number, number>();
  const maxDepth = new Map<number, number>();
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  const log: string[] = [];
  const errors: unknown[] = [];
  const dlms = [1, 2].map(
    (id) =>
      new Dlm({
        endpoint: {
          nodeid: id,
          asyncReceive: opts.asyncReceive,
          send: (to, bytes) => {
            if (opts.sync) {
              const d = (depth.get(to) ?? 0) + 1;
              depth.set(to, d);
              maxDepth.set(to, Math.max(maxDepth.get(to) ?? 0, d));
              receivers.get(to)?.(id, bytes.slice());
              depth.set(to, d - 1);
            } else queue.push({ from: id, to, bytes: bytes.slice() });
          },
          setReceiver: (fn) => void (fn ? receivers.set(id, fn) : receivers.delete(id)),
        },
        hash: () => 0,
        ...(opts.observer ? { observer: opts.observer } : {}),
        onCallbackError: opts.onCallbackError ?? ((err) => void errors.push(err)),
      }),
  );
  const ls = dlms.map((d) => d.newLockspace('drain', { lvblen: 0, members: [1, 2], nodir: true })) as [Lockspace, Lockspace];
  /** Deliver the oldest queued message; returns what the log gained while delivering (callbacks that ran inside it). */
  const deliver = (): string[] => {
    const w = queue.shift();
    if (!w) throw new Error('nothing queued');
    const before = log.length;
    log.push(`> ${MSG_NAME[decodeLockMessage(w.bytes, 64).type]} to ${w.to}`);
    receivers.get(w.to)!(w.from, w.bytes);
    log.push(`< end`);
    return log.slice(before);
  };
  return { queue, log, errors, dlms, ls, deliver, maxDepth };
}

const MSG_NAME: Record<number, string> = Object.fromEntries(Object.entries(MSG).map(([k, v]) => [v, k]));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A scripted exchange: node 1 holds EX; node 2 asks EX (BAST to node 1, node 2 waits); node 1 unlocks; node 2 is granted, then unlocks from its AST. */
async function script(asyncReceive: boolean): Promise<{ log: string[]; errors: unknown[]; inside: string[][] }> {
  const n = net({ asyncReceive });
  const { ls, log, queue, deliver } = n;
  const a = newLksb(0);
  expect(ls[0].lock(LKM.EX, a, 0, 'r', () => log.push(`ast 1 status ${a.status}`), undefined, (_arg, mode) => log.push(`bast 1 mode ${mode}`))).toBe(0);
  await turn(); // node 1 masters 'r' (it is the directory): granted locally
  const b = newLksb(0);
  let unlocked = false;
  expect(
    ls[1].lock(LKM.EX, b, 0, 'r', () => {
      log.push(`ast 2 status ${b.status}`);
      if (!unlocked) {
        unlocked = true;
        expect(ls[1].unlock(b.lkid, 0, b)).toBe(0); // from the AST: goes out at once
        log.push(`unlock 2 queued ${queue.length}`);
      }
    }),
  ).toBe(0);
  const inside: string[][] = [];
  inside.push(deliver()); // REQUEST at node 1: BAST for node 1's lock (local), reply EINPROGRESS
  inside.push(deliver()); // REQUEST_REPLY at node 2 (waiting)
  await turn();
  expect(ls[0].unlock(a.lkid, 0, a)).toBe(0); // node 1 unlocks: GRANT to node 2
  await turn();
  inside.push(deliver()); // GRANT at node 2: AST, which unlocks
  await turn(); // (without asyncReceive the AST and its unlock run now)
  inside.push(deliver()); // UNLOCK at node 1
  inside.push(deliver()); // UNLOCK_REPLY at node 2: AST EUNLOCK
  await turn();
  expect(queue).toHaveLength(0);
  expect(ls[0].lockCount + ls[1].lockCount).toBe(0);
  return { log, errors: n.errors, inside };
}

describe('callbacks of a received message run as its delivery ends (asyncReceive)', () => {
  it('the same callbacks in the same order as with a microtask drain; with asyncReceive they run inside the delivery, and the unlock issued in an AST is sent before it returns', async () => {
    const slow = await script(false);
    const fast = await script(true);
    const callbacks = (log: string[]) => log.filter((l) => l.startsWith('ast') || l.startsWith('bast'));
    expect(callbacks(fast.log)).toEqual(callbacks(slow.log));
    expect(callbacks(fast.log)).toEqual(['ast 1 status 0', 'bast 1 mode 5', 'ast 1 status ' + DLM_ERRNO.EUNLOCK, 'ast 2 status 0', 'ast 2 status ' + DLM_ERRNO.EUNLOCK]);
    // GRANT at node 2: with asyncReceive the AST (and its unlock's send) happen before the delivery ends.
    expect(fast.inside[2]).toEqual(['> GRANT to 2', 'ast 2 status 0', 'unlock 2 queued 1', '< end']);
    expect(fast.inside[4]).toEqual(['> UNLOCK_REPLY to 2', `ast 2 status ${DLM_ERRNO.EUNLOCK}`, '< end']);
    // Without it: nothing runs inside the delivery; the AST comes on a microtask.
    expect(slow.inside[2]).toEqual(['> GRANT to 2', '< end']);
    expect(slow.inside[4]).toEqual(['> UNLOCK_REPLY to 2', '< end']);
    expect(fast.errors).toEqual([]);
    expect(slow.errors).toEqual([]);
  });

  it('never inside lock()/unlock(): a local grant still completes on a microtask, not in the call', async () => {
    const { ls, log } = net({ asyncReceive: true });
    const a = newLksb(0);
    expect(ls[0].lock(LKM.EX, a, 0, 'x', () => log.push('ast'))).toBe(0);
    expect(log).toEqual([]);
    await turn();
    expect(log).toEqual(['ast']);
    expect(ls[0].unlock(a.lkid, 0, a)).toBe(0);
    expect(log).toEqual(['ast']);
    await turn();
    expect(log).toEqual(['ast', 'ast']);
  });

  it('an endpoint that breaks its asyncReceive promise (delivers inside send()): callbacks still never run inside lock()/unlock()', async () => {
    const n = net({ asyncReceive: true, sync: true });
    const { ls } = n;
    let inCall = false;
    const seen: string[] = [];
    const l = newLksb(0);
    const ast = (): void => {
      seen.push(`ast ${l.status}${inCall ? ' INSIDE A CALL' : ''}`);
    };
    inCall = true;
    // The REQUEST goes to node 1 and its reply comes back to node 2 inside this call.
    expect(ls[1].lock(LKM.EX, l, 0, 'b', ast)).toBe(0);
    inCall = false;
    expect(seen).toEqual([]);
    await turn();
    expect(seen).toEqual(['ast 0']);
    inCall = true;
    expect(ls[1].unlock(l.lkid, 0, l)).toBe(0);
    inCall = false;
    expect(seen).toEqual(['ast 0']);
    await turn();
    expect(seen).toEqual(['ast 0', `ast ${DLM_ERRNO.EUNLOCK}`]);
    expect(n.maxDepth.get(2)).toBe(1); // the replies did arrive inside the calls
  });

  it('an AST that throws inside a drained delivery is counted and reported; the delivery returns, later messages and callbacks go on', async () => {
    const reported: unknown[] = [];
    const n = net({ asyncReceive: true, onCallbackError: (err) => void reported.push(err) });
    const { ls, log, deliver } = n;
    const statuses: number[] = [];
    const lksbs = [newLksb(0), newLksb(0)];
    // Two remote requests from node 2; the first one's AST throws.
    lksbs.forEach((l, i) =>
      expect(
        ls[1].lock(LKM.PR, l, 0, `t${i}`, () => {
          statuses.push(l.status);
          if (i === 0) throw new Error('AST bug');
        }),
      ).toBe(0),
    );
    deliver(); // REQUEST t0 at node 1
    deliver(); // REQUEST t1 at node 1
    expect(() => deliver()).not.toThrow(); // REQUEST_REPLY t0: the throwing AST runs inside
    expect(statuses).toEqual([0]);
    expect(reported).toHaveLength(1);
    expect((reported[0] as Error).message).toBe('AST bug');
    expect(ls[1].stats.callbackErrors).toBe(1);
    deliver(); // REQUEST_REPLY t1: still handled, its AST still runs
    expect(statuses).toEqual([0, 0]);
    expect(n.dlms[1]!.callbackErrors).toBe(1);
    // The unlocks go on as usual.
    expect(ls[1].unlock(lksbs[0]!.lkid, 0, lksbs[0]!)).toBe(0);
    deliver();
    deliver();
    expect(statuses).toEqual([0, 0, DLM_ERRNO.EUNLOCK]);
    expect(log.filter((l) => l.startsWith('>'))).toHaveLength(6);
  });

  it('a callback-error handler that itself throws: the error leaves the delivery, and the callbacks still queued run on a microtask', async () => {
    const n = net({
      asyncReceive: true,
      onCallbackError: () => {
        throw new Error('handler bug');
      },
    });
    const { ls, deliver } = n;
    const order: string[] = [];
    // Node 2 holds EX on 'u' (mastered by node 1); node 1 queues two PR requests behind it.
    const x = newLksb(0);
    expect(ls[1].lock(LKM.EX, x, 0, 'u', () => order.push(`x ${x.status}`))).toBe(0);
    deliver(); // REQUEST at node 1: granted
    deliver(); // REQUEST_REPLY at node 2: AST x
    const p1 = newLksb(0);
    const p2 = newLksb(0);
    expect(ls[0].lock(LKM.PR, p1, 0, 'u', () => {
      order.push('p1');
      throw new Error('AST bug');
    })).toBe(0);
    expect(ls[0].lock(LKM.PR, p2, 0, 'u', () => order.push('p2'))).toBe(0);
    expect(ls[1].unlock(x.lkid, 0, x)).toBe(0);
    // UNLOCK at node 1 grants p1 and p2 (two ASTs queued by one delivery); p1's AST throws, so does the handler.
    expect(() => deliver()).toThrow('handler bug');
    expect(order).toEqual(['x 0', 'p1']);
    await turn(); // the rest runs on a microtask: the scheduler is not stuck
    expect(order).toEqual(['x 0', 'p1', 'p2']);
    deliver(); // UNLOCK_REPLY at node 2
    expect(order).toEqual(['x 0', 'p1', 'p2', `x ${DLM_ERRNO.EUNLOCK}`]);
    expect(n.dlms[0]!.callbackErrors).toBeGreaterThanOrEqual(1);
  });
});

describe('received messages are decoded into a reused record', () => {
  it('decodeLockMessageInto gives the same fields as decodeLockMessage, and overwrites every field of a used record', () => {
    const record = emptyMessage(MSG.REQUEST);
    const h = { version: DLM_VERSION, lockspace: 9, nodeid: 2 };
    const a = emptyMessage(MSG.REQUEST);
    Object.assign(a, { nodeid: 2, pid: 3, lkid: 4, remid: 5, exflags: 0, sbflags: 0, lvbseq: 11, hash: 12, status: 0, grmode: -1, rqmode: 5, bastmode: -1, asts: 3, result: 0, extra: new TextEncoder().encode('name') });
    const b = emptyMessage(MSG.UNLOCK_REPLY);
    Object.assign(b, { nodeid: 1, lkid: 40, remid: 50, status: 1, grmode: 3, rqmode: -1, result: DLM_ERRNO.EUNLOCK });
    for (const m of [a, b, a]) {
      const bytes = encodeMessage(h, m);
      expect(decodeLockMessageInto(bytes, 32, record)).toBe(record);
      expect({ ...record, extra: [...record.extra] }).toEqual({ ...decodeLockMessage(bytes, 32), extra: [...decodeLockMessage(bytes, 32).extra] });
    }
  });

  it('a transport that delivers synchronously: messages received inside the handling of others on the same node (nested) are decoded apart, and every lock completes', async () => {
    let ls1: Lockspace | null = null;
    let overlapped = false;
    const o = newLksb(0);
    const n = net({
      asyncReceive: false,
      sync: true,
      // Node 2's REQUEST for 'sync2' is about to leave: cancel it now, so the cancel overlaps the request in flight.
      observer: (e) => {
        if (e.direction === 'send' && e.type === 'REQUEST' && e.name === 'sync2' && !overlapped) {
          overlapped = true;
          expect(e.lkid).toBe(o.lkid);
          expect(ls1!.unlock(e.lkid, LKF.CANCEL, o)).toBe(0);
        }
      },
    });
    const { ls } = n;
    ls1 = ls[1];
    const done: number[] = [];
    for (let round = 0; round < 3; round++) {
      const l = newLksb(0);
      expect(ls[1].lock(LKM.EX, l, 0, 'sync', () => {
        done.push(l.status);
        if (l.status === 0) expect(ls[1].unlock(l.lkid, 0, l)).toBe(0);
      })).toBe(0);
      await turn();
      await turn();
    }
    expect(n.maxDepth.get(1)).toBe(1);
    // Node 1 holds 'sync2' EX; node 2 asks PR: REQUEST (node 1) -> REQUEST_REPLY EINPROGRESS (node 2, inside) ->
    // the overlapping CANCEL (node 1, inside its REQUEST's handling) -> CANCEL_REPLY ECANCEL (node 2).
    const x = newLksb(0);
    expect(ls[0].lock(LKM.EX, x, 0, 'sync2', () => done.push(100 + x.status))).toBe(0);
    await turn();
    expect(ls[1].lock(LKM.PR, o, 0, 'sync2', () => done.push(o.status))).toBe(0);
    expect(overlapped).toBe(true);
    await turn();
    expect(ls[0].unlock(x.lkid, 0, x)).toBe(0);
    await turn();
    expect(n.maxDepth.get(1)).toBe(2); // node 1 received the UNLOCK while handling the REQUEST
    expect(done).toEqual([0, DLM_ERRNO.EUNLOCK, 0, DLM_ERRNO.EUNLOCK, 0, DLM_ERRNO.EUNLOCK, 100, DLM_ERRNO.ECANCEL, 100 + DLM_ERRNO.EUNLOCK]);
    expect(ls[0].lockCount + ls[1].lockCount).toBe(0);
    expect(n.errors).toEqual([]);
    expect(ls[0].stats.refused).toEqual({});
    expect(ls[1].stats.refused).toEqual({});
  });
});
