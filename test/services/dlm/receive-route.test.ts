/**
 * `Dlm.receive` remembers the lockspace the last message went to (no map
 * probe per message on a node with one lockspace): messages still go by
 * their lockspace id, never to a lockspace the node forgot, and a new
 * lockspace of the same name gets them. Two nodes, a hand-driven network,
 * the ManualScheduler.
 */
import { describe, expect, it } from 'vitest';
import { Dlm, LKM, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { ManualScheduler } from '../../../src/services/dlm/scheduler.ts';

describe('Dlm.receive remembers the last lockspace', () => {
  it('routes each message by its lockspace id across two lockspaces, and never to a forgotten one (a new one of the same name gets the messages)', () => {
    const queue: { from: number; to: number; bytes: Uint8Array }[] = [];
    const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
    const dlms = [1, 2].map(
      (id) =>
        new Dlm({
          endpoint: { nodeid: id, asyncReceive: true, send: (to, bytes) => void queue.push({ from: id, to, bytes: bytes.slice() }), setReceiver: (fn) => void (fn ? receivers.set(id, fn) : receivers.delete(id)) },
          hash: () => 0,
          scheduler: new ManualScheduler(),
        }),
    );
    const open = (name: string) => dlms.map((d) => d.newLockspace(name, { lvblen: 0, members: [1, 2], nodir: true })) as [Lockspace, Lockspace];
    const deliverAll = (): void => {
      for (let w = queue.shift(); w; w = queue.shift()) receivers.get(w.to)!(w.from, w.bytes);
    };
    const a = open('a');
    const b = open('b');
    // Node 2 locks in both, interleaved: node 1 (the hash node) masters every name.
    for (const ls of [a[1], b[1], a[1], b[1]]) expect(ls.lock(LKM.PR, newLksb(0), 0, `n${ls.name}`, () => {})).toBe(0);
    deliverAll();
    expect(a[0].stats.received).toBe(2);
    expect(b[0].stats.received).toBe(2);
    expect(a[0].masterCopyCount).toBe(2);
    expect(b[0].masterCopyCount).toBe(2);
    // Node 1 forgets 'a' (the last one a message went to is 'b' or 'a': either way it must not be used).
    expect(dlms[0]!.releaseLockspace('a', 3)).toBe(0);
    const before = dlms[0]!.unroutable;
    expect(a[1].lock(LKM.PR, newLksb(0), 0, 'x', () => {})).toBe(0);
    deliverAll();
    expect(dlms[0]!.unroutable).toBe(before + 1);
    expect(a[0].stats.received).toBe(2);
    // A new lockspace of that name on node 1 gets them.
    const again = dlms[0]!.newLockspace('a', { lvblen: 0, members: [1, 2], nodir: true });
    expect(a[1].lock(LKM.PR, newLksb(0), 0, 'y', () => {})).toBe(0);
    deliverAll();
    expect(again.stats.received).toBe(1);
    expect(b[1].lock(LKM.PR, newLksb(0), 0, 'z', () => {})).toBe(0);
    deliverAll();
    expect(b[0].stats.received).toBe(3);
  });
});
