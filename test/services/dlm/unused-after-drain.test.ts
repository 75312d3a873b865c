/**
 * A resource whose last lock went is checked for retirement after the
 * pending callbacks (`Lockspace.checkUnusedSoon`, `MicrotaskScheduler.postAfter`):
 * after the AST of the unlock that freed it and after the microtasks that
 * AST queued. A lock taken again from that AST, or in a promise continuation
 * it resolved, finds the resource in use: no retirement entry, and no
 * "cached master may be stale" first-lock round trip (§3.5). Left unused, it
 * retires after the delay as before; a lockspace released meanwhile arms no
 * timer. The simulator's ManualScheduler, and any lockspace while locking
 * is stopped, check at once, as before.
 * Two nodes joined by a hand-driven network (node 1 the directory and
 * master, node 2 locks remotely), a ManualClock: no timing.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.ts';
import { Dlm, DLM_ERRNO, LKF, LKM, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { decodeLockMessage, MSG } from '../../../src/services/dlm/message.ts';
import { ManualScheduler, MicrotaskScheduler } from '../../../src/services/dlm/scheduler.ts';

const TOSS_MS = 1000;
const MSG_NAME: Record<number, string> = Object.fromEntries(Object.entries(MSG).map(([k, v]) => [v, k]));

function net(manual = false) {
  const queue: { from: number; to: number; bytes: Uint8Array }[] = [];
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  const clock = new ManualClock();
  const scheduler = manual ? new ManualScheduler() : undefined;
  const dlms = [1, 2].map(
    (id) =>
      new Dlm({
        endpoint: {
          nodeid: id,
          asyncReceive: true,
          send: (to, bytes) => void queue.push({ from: id, to, bytes: bytes.slice() }),
          setReceiver: (fn) => void (fn ? receivers.set(id, fn) : receivers.delete(id)),
        },
        hash: () => 0, // node 1 is every name's directory node
        clock,
        tossMs: TOSS_MS,
        ...(scheduler ? { scheduler } : {}),
      }),
  );
  const ls = dlms.map((d) => d.newLockspace('soon', { lvblen: 0, members: [1, 2] })) as [Lockspace, Lockspace];
  const deliver = (): string => {
    const w = queue.shift();
    if (!w) throw new Error('nothing queued');
    receivers.get(w.to)!(w.from, w.bytes);
    scheduler?.runPending();
    return `${MSG_NAME[decodeLockMessage(w.bytes, 64).type]} to ${w.to}`;
  };
  const types = (): string[] => queue.map((w) => `${MSG_NAME[decodeLockMessage(w.bytes, 64).type]} to ${w.to}`);
  return { queue, clock, ls, deliver, types, scheduler };
}

const ticks = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

/**
 * Node 1 masters `name` (an NL lock of its own); node 2 takes EX on it and
 * unlocks from the grant's AST; `onUnlocked` runs in the unlock's AST.
 * Delivering four messages completes it: LOOKUP (answered as a REQUEST by
 * the directory, the master), REQUEST_REPLY, UNLOCK, UNLOCK_REPLY.
 */
function lockUnlock(n: ReturnType<typeof net>, name: string, onUnlocked: () => void): void {
  expect(n.ls[0].lock(LKM.NL, newLksb(0), 0, name, () => {})).toBe(0);
  n.scheduler?.runPending();
  const lksb = newLksb(0);
  let stage = 0;
  expect(
    n.ls[1].lock(LKM.EX, lksb, 0, name, () => {
      if (stage++ === 0) {
        expect(lksb.status).toBe(0);
        expect(n.ls[1].unlock(lksb.lkid, 0, lksb)).toBe(0);
      } else {
        expect(lksb.status).toBe(DLM_ERRNO.EUNLOCK);
        onUnlocked();
      }
    }),
  ).toBe(0);
}

describe('retirement check after the pending callbacks', () => {
  it('an unused resource is queued after the unlock AST and its microtasks, then retires after the delay', async () => {
    const n = net();
    let tossInAst: number | null | undefined;
    lockUnlock(n, 'a', () => {
      tossInAst = n.ls[1].rsbs.get('a')!.toss;
    });
    expect(n.deliver()).toBe('LOOKUP to 1'); // node 1, the directory, masters it: taken as a REQUEST
    expect(n.deliver()).toBe('REQUEST_REPLY to 2'); // granted; the AST sends the unlock
    expect(n.deliver()).toBe('UNLOCK to 1');
    expect(n.deliver()).toBe('UNLOCK_REPLY to 2'); // the AST runs inside this delivery
    const r = n.ls[1].rsbs.get('a')!;
    expect(tossInAst).toBeNull(); // not yet queued while its callbacks run
    expect(r.unused).toBe(true);
    expect(r.toss).toBeNull();
    await ticks();
    expect(r.toss).toBe(n.clock.now() + TOSS_MS); // queued after them
    n.clock.advance(TOSS_MS);
    expect(n.ls[1].rsbs.has('a')).toBe(false); // retired as before
  });

  it('a lock taken again from the unlock AST, or in the continuation of a promise it resolved, finds the resource in use: no retirement entry, no stale-master first lock', async () => {
    for (const style of ['in the AST', 'in a continuation'] as const) {
      const n = net();
      let again: Promise<void> | null = null;
      const relock = (): void => {
        const lksb = newLksb(0);
        expect(n.ls[1].lock(LKM.EX, lksb, 0, 'b', () => {})).toBe(0);
      };
      lockUnlock(n, 'b', () => {
        if (style === 'in the AST') relock();
        else again = Promise.resolve().then(relock);
      });
      for (let i = 0; i < 4; i++) n.deliver();
      await again;
      await ticks();
      const r = n.ls[1].rsbs.get('b')!;
      expect(r.toss, style).toBeNull();
      expect(r.uncertain, style).toBe(false);
      expect(r.firstLkid, style).toBe(0);
      // The REQUEST went straight to the known master.
      expect(n.types(), style).toEqual(['REQUEST to 1']);
      expect(n.clock.pending, style).toBe(0); // no retirement timer armed
    }
  });

  it('a lockspace released before the check runs arms no timer', async () => {
    const n = net();
    lockUnlock(n, 'c', () => {
      expect(n.ls[1].release(0)).toBe(0);
    });
    for (let i = 0; i < 4; i++) n.deliver();
    await ticks();
    expect(n.ls[1].released).toBe(true);
    expect(n.clock.pending).toBe(0);
  });

  it('while locking is stopped the check runs at once, as before (recovery sees it done)', () => {
    const n = net();
    n.ls[1].stop();
    const lksb = newLksb(0);
    expect(n.ls[1].lock(LKM.EX, lksb, 0, 'e', () => {})).toBe(0); // waits for locking to resume
    const r = n.ls[1].rsbs.get('e')!;
    expect(r.toss).toBeNull();
    // Cancelling the waiting request ends the resource's last lock inside the call: checked there.
    expect(n.ls[1].unlock(lksb.lkid, LKF.CANCEL, lksb)).toBe(0);
    expect(r.unused).toBe(true);
    expect(r.toss).toBe(n.clock.now() + TOSS_MS);
  });

  it('with the ManualScheduler (the simulator) the check runs at once, as before', () => {
    const n = net(true);
    let tossInAst: number | null | undefined;
    lockUnlock(n, 'd', () => {
      tossInAst = n.ls[1].rsbs.get('d')!.toss;
    });
    for (let i = 0; i < 4; i++) n.deliver();
    expect(tossInAst).toBe(n.clock.now() + TOSS_MS);
  });
});

describe('MicrotaskScheduler.postAfter', () => {
  it('runs after the pending callbacks and after the microtasks they queued; at once on a microtask when nothing is pending; errors go to onError', async () => {
    const errors: unknown[] = [];
    const s = new MicrotaskScheduler((err) => void errors.push(err));
    const order: string[] = [];
    s.beginReceive();
    s.post(() => {
      order.push('ast');
      void Promise.resolve().then(() => order.push('continuation'));
    });
    s.postAfter(() => order.push('after'));
    s.endReceive();
    expect(order).toEqual(['ast']);
    await ticks();
    expect(order).toEqual(['ast', 'continuation', 'after']);
    s.postAfter(() => {
      throw new Error('after bug');
    });
    s.postAfter(() => order.push('after 2'));
    expect(order).toHaveLength(3);
    await ticks();
    expect(order).toEqual(['ast', 'continuation', 'after', 'after 2']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['after bug']);
  });

  it('an error handler that throws on a postAfter task: the other tasks still run and nothing escapes the microtask', async () => {
    const s = new MicrotaskScheduler(() => {
      throw new Error('handler bug');
    });
    const order: string[] = [];
    s.postAfter(() => {
      throw new Error('task bug');
    });
    s.postAfter(() => order.push('second'));
    // An error escaping the microtask would end its loop before 'second' (and vitest reports an
    // unhandled rejection as a failure of the run).
    await ticks();
    await new Promise<void>((r) => setImmediate(r));
    expect(order).toEqual(['second']);
  });
});
