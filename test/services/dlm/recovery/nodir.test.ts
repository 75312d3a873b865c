/**
 * NODIR lockspaces (§3.1, §3.2, §4.2 5b/6, §4.4): a resource's master is
 * its hash node; no LOOKUP/REMOVE is ever sent; recovery purges and
 * rebuilds every master copy, so grants stay correct across a member's
 * death (and the masters move with the hash).
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, DlmError, LKM, modeName, newLksb, statusName, type DlmMessageEvent, type Lksb } from '../../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { pinHash } from '../cluster.ts';

const { NL, PR, EX } = LKM;
const DIRECTORY_TYPES = new Set(['LOOKUP', 'LOOKUP_REPLY', 'REMOVE']);

function nodirCluster(n: number) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const msgs: DlmMessageEvent[] = [];
  const sim = new DlmSim({ nodes: ids, hash: pinHash, tossMs: 1000, observer: (e) => msgs.push(e) });
  const ls = new Map<number, Lockspace>();
  for (const id of ids) ls.set(id, sim.node(id).newLockspace('nd', { lvblen: 8, members: ids, nodir: true }));
  const log: string[] = [];
  const holders = new Map<string, { node: number; lksb: Lksb }>();
  const lock = (tag: string, node: number, mode: number, name: string): void => {
    const lksb = newLksb(8);
    holders.set(tag, { node, lksb });
    const rv = ls.get(node)!.lock(mode, lksb, 0, name, () => void log.push(`${tag} ast ${statusName(lksb.status)}`), undefined, (_a, m) => void log.push(`${tag} bast ${modeName(m)}`));
    expect(rv).toBe(0);
  };
  const unlock = (tag: string): void => {
    const h = holders.get(tag)!;
    expect(ls.get(h.node)!.unlock(h.lksb.lkid, 0, h.lksb)).toBe(0);
  };
  const grmode = (tag: string): string => {
    const h = holders.get(tag)!;
    const lkb = ls.get(h.node)!.lockById(h.lksb.lkid);
    return lkb ? modeName(lkb.grmode) : 'gone';
  };
  const settle = async (): Promise<string[]> => {
    await sim.settle();
    return log.splice(0).sort();
  };
  const directoryTraffic = (): DlmMessageEvent[] => msgs.filter((m) => DIRECTORY_TYPES.has(m.type));
  const kill = (id: number): void => {
    ls.get(id)!.stop();
    for (const o of ids) if (o !== id) sim.hold(id, o);
  };
  const recover = async (members: number[]): Promise<string[]> => {
    for (const m of members) ls.get(m)!.stop();
    for (const m of members) ls.get(m)!.start(members);
    return settle();
  };
  return { sim, ls, msgs, lock, unlock, grmode, settle, directoryTraffic, kill, recover };
}

describe('NODIR lockspaces', () => {
  it('requests go straight to the hash node: no LOOKUP, LOOKUP_REPLY or REMOVE, also when resources retire', async () => {
    const c = nodirCluster(3);
    // pinHash: 'dN..' hashes to members[N]; each node asks for resources mastered everywhere.
    for (const node of [1, 2, 3]) for (const d of [0, 1, 2]) c.lock(`n${node}d${d}`, node, PR, `d${d}x`);
    expect((await c.settle()).length).toBe(9);
    for (const d of [0, 1, 2]) {
      for (const node of [1, 2, 3]) {
        const r = c.ls.get(node)!.dump().find((x) => x.name === `d${d}x`)!;
        expect(r.master, `d${d}x on node ${node}`).toBe(d + 1);
      }
    }
    const requests = c.msgs.filter((m) => m.direction === 'send' && m.type === 'REQUEST');
    expect(requests.map((m) => `${m.from}>${m.to}`).sort()).toEqual(['1>2', '1>3', '2>1', '2>3', '3>1', '3>2']);
    for (const node of [1, 2, 3]) for (const d of [0, 1, 2]) c.unlock(`n${node}d${d}`);
    expect((await c.settle()).every((l) => l.endsWith('EUNLOCK'))).toBe(true);
    // Retirement ran (tossMs 1000, settle runs timers): every resource is gone, and no REMOVE was sent.
    for (const node of [1, 2, 3]) expect(c.ls.get(node)!.rsbs.size).toBe(0);
    expect(c.directoryTraffic()).toEqual([]);
  });

  it("grants stay correct across a member's death: its locks are purged, waiters granted, survivors' locks rebuilt on the new hash masters", async () => {
    const c = nodirCluster(3);
    // Node 3 masters d2a (members[2]) and holds EX on d0a (mastered by node 1); node 2 waits for d0a.
    c.lock('A1', 1, PR, 'd2a');
    c.lock('A2', 2, PR, 'd2a');
    c.lock('X3', 3, EX, 'd0a');
    expect(await c.settle()).toEqual(['A1 ast 0', 'A2 ast 0', 'X3 ast 0']);
    c.lock('W2', 2, PR, 'd0a');
    c.lock('W1', 1, EX, 'd2a'); // waits for A1/A2's PR
    expect(await c.settle()).toEqual(['A1 bast EX', 'A2 bast EX', 'X3 bast PR']);
    c.kill(3);
    // Recovery: d2a now hashes to members[2 % 2] = node 1; d0a stays on node 1.
    expect(await c.recover([1, 2])).toEqual(['W2 ast 0']);
    for (const node of [1, 2]) {
      const dump = c.ls.get(node)!.dump();
      expect(dump.find((r) => r.name === 'd2a')!.master).toBe(1);
      expect(dump.find((r) => r.name === 'd0a')!.master).toBe(1);
    }
    expect([c.grmode('A1'), c.grmode('A2'), c.grmode('W2')]).toEqual(['PR', 'PR', 'PR']);
    // Node 1's master copy of A2 was rebuilt: W1 still waits for both PRs, then gets EX.
    const d2a = c.ls.get(1)!.dump().find((r) => r.name === 'd2a')!;
    expect(d2a.grant.length).toBe(2);
    expect(d2a.wait.length).toBe(1);
    c.unlock('A1');
    expect(await c.settle()).toEqual(['A1 ast EUNLOCK']);
    c.unlock('A2');
    expect(await c.settle()).toEqual(['A2 ast EUNLOCK', 'W1 ast 0']);
    expect(c.grmode('W1')).toBe('EX');
    expect(c.ls.get(1)!.stats.recovery.purged).toBeGreaterThan(0);
    expect(c.directoryTraffic()).toEqual([]);
  });

  it('a request in flight to a live master when recovery starts is re-sent and granted once', async () => {
    const c = nodirCluster(3);
    c.lock('H', 2, NL, 'd1b'); // node 2 masters d1b
    expect(await c.settle()).toEqual(['H ast 0']);
    c.sim.hold(1, 2);
    c.lock('R', 1, EX, 'd1b'); // REQUEST held on its way to node 2
    expect(await c.settle()).toEqual([]);
    c.kill(3);
    c.sim.release(1, 2); // delivered while node 2 is stopped: saved, then dropped with the whole request queue
    expect(await c.recover([1, 2])).toEqual(['R ast 0']);
    expect(c.grmode('R')).toBe('EX');
    expect(c.ls.get(2)!.dump().find((r) => r.name === 'd1b')!.grant.length).toBe(2);
    expect(await c.settle()).toEqual([]);
    expect(c.directoryTraffic()).toEqual([]);
  });

  it('members must agree: a member without NODIR is refused in recovery; reopening with another setting is EPROTO', async () => {
    const sim = new DlmSim({ nodes: [1, 2] });
    const a = sim.node(1).newLockspace('mix', { members: [1, 2], nodir: true });
    const b = sim.node(2).newLockspace('mix', { members: [1, 2] });
    for (const l of [a, b]) l.stop();
    for (const l of [a, b]) l.start([1, 2], { departed: [] });
    a.start([1, 2]); // nothing changed: no recovery; force one with a re-added member
    for (const l of [a, b]) l.stop();
    a.start([1, 2], { departed: [2] });
    b.start([1, 2], { departed: [1] });
    for (let i = 0; i < 20; i++) {
      sim.runPending();
      sim.clock.advance(100);
    }
    expect((a.stats.refused['RCOM_CONFIG_LSFLAGS'] ?? 0) + (b.stats.refused['RCOM_CONFIG_LSFLAGS'] ?? 0)).toBeGreaterThan(0);
    expect(a.recovering || b.recovering).toBe(true);
    expect(() => sim.node(1).newLockspace('mix', { nodir: false })).toThrow(DlmError);
  });
});
