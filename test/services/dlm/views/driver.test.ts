/**
 * The views driver with fake lockspace targets on a fake network (one
 * ManualClock, deterministic delivery, per-pair cuts): elections, view
 * changes, minority stop, fence and rejoin, restart from the store, and
 * garbage messages. Every test checks after each virtual millisecond that all
 * granting lockspaces run the same view (stop on all before start on any).
 */
import { describe, expect, it } from 'vitest';
import { encodeViewsMessage, MemoryViewsStore, ViewsDriver, ViewsOptionsError } from '../../../../src/services/dlm/views/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { FakeCluster } from './driver-harness.ts';

function settle(c: FakeCluster, ms = 2000): void {
  c.proposeReachable();
  c.advance(ms);
  c.proposeReachable();
  c.advance(ms);
}

describe('views driver (fake targets)', () => {
  it('3 nodes elect a leader and grant under view 0; a node leaving is committed as view 1 and recovery runs on the others with generation 1', () => {
    const c = new FakeCluster([1, 2, 3]);
    c.advance(2000);
    expect(c.leader(), 'a leader').toBeDefined();
    for (const n of c.nodes.values()) {
      expect(n.driver.state).toMatch(/of view 0 \(granting\)/);
      expect(n.target.grants).toBe(true);
      // Joined with view 0's members: resumed without recovery.
      expect(c.callsOf(n.id).filter((x) => x.call === 'start')).toEqual([{ t: expect.any(Number), node: n.id, call: 'start', members: [1, 2, 3] }]);
    }
    const t0 = c.clock.now();
    c.crash(3);
    settle(c);
    for (const id of [1, 2]) {
      const n = c.nodes.get(id)!;
      expect(n.driver.stats.view).toBe(1);
      expect(n.driver.state).toMatch(/of view 1 \(granting\)/);
      const calls = c.callsOf(id, t0).filter((x) => x.call !== 'setGate');
      expect(calls.map((x) => x.call)).toEqual(['stop', 'start']);
      expect(calls[1]).toMatchObject({ members: [1, 2], generation: 1 });
      expect(n.target.grants).toBe(true);
    }
    expect(c.violations).toEqual([]);
  });

  it('5 nodes: a minority cut off stops granting and says so; the majority commits a view without it; after the heal the cut-off nodes are fenced and rejoin', () => {
    const c = new FakeCluster([1, 2, 3, 4, 5]);
    c.advance(2000);
    expect(c.leader()).toBeDefined();
    // Cut off two nodes, the leader among them when possible (the harder case).
    const leader = c.leader()!.id;
    const minority = [leader, leader === 1 ? 2 : 1];
    const majority = c.voters.filter((n) => !minority.includes(n));
    const tCut = c.clock.now();
    c.partition(minority);
    settle(c);
    for (const id of minority) {
      const n = c.nodes.get(id)!;
      expect(n.target.grants, `node ${id} gate`).toBe(false);
      expect(n.driver.granting).toBe(false);
      expect(n.driver.state).toMatch(/^minority: waiting/);
      expect(n.driver.stats.view).toBe(0);
    }
    for (const id of majority) {
      const n = c.nodes.get(id)!;
      expect(n.driver.stats.view).toBe(1);
      expect(n.driver.stats.members).toEqual(majority);
      expect(n.target.grants).toBe(true);
      expect(c.callsOf(id, tCut).filter((x) => x.call === 'start')).toEqual([expect.objectContaining({ members: majority, generation: 1 })]);
    }
    expect(c.violations).toEqual([]);
    const tHeal = c.clock.now();
    c.heal();
    settle(c);
    for (const n of c.nodes.values()) {
      expect(n.driver.stats.view, `node ${n.id}`).toBe(2);
      expect(n.driver.stats.members).toEqual([1, 2, 3, 4, 5]);
      expect(n.target.grants).toBe(true);
      expect(n.driver.state).toMatch(/of view 2 \(granting\)/);
    }
    for (const id of minority) {
      const calls = c.callsOf(id, tHeal).filter((x) => x.call !== 'setGate' && x.call !== 'stop');
      expect(calls, `node ${id}`).toEqual([
        { t: expect.any(Number), node: id, call: 'fence', status: -107 },
        { t: expect.any(Number), node: id, call: 'start', members: [1, 2, 3, 4, 5], generation: 2 },
      ]);
    }
    for (const id of majority) expect(c.callsOf(id, tHeal).filter((x) => x.call === 'start')).toEqual([expect.objectContaining({ members: [1, 2, 3, 4, 5], generation: 2 })]);
    expect(c.violations).toEqual([]);
  });

  it('a restarted node resumes from its persisted state (term and log) and is re-proposed: departed in one view, added in the next', () => {
    const c = new FakeCluster([1, 2, 3]);
    c.advance(2000);
    const follower = [...c.nodes.values()].find((n) => n.driver.stats.role !== 'leader')!;
    const store = follower.store;
    const termBefore = follower.driver.stats.term;
    expect(store.load()?.currentTerm).toBe(termBefore);
    c.crash(follower.id);
    const again = c.boot(follower.id, store);
    expect(again.driver.protocolState.currentTerm).toBe(termBefore);
    expect(again.driver.state).toMatch(/^restarted/);
    // The others see a new incarnation: the tracker makes them propose it departed, then added.
    const others = [...c.nodes.values()].filter((n) => n.id !== follower.id);
    const t0 = c.clock.now();
    for (const n of others) n.driver.propose(c.voters.filter((v) => v !== follower.id));
    c.advance(2000);
    for (const n of others) expect(n.driver.stats.view).toBe(1);
    for (const n of others) n.driver.propose(c.voters);
    c.advance(2000);
    for (const n of c.nodes.values()) {
      expect(n.driver.stats.view).toBe(2);
      expect(n.target.grants).toBe(true);
    }
    // The restarted node learnt views 1 (without it: fenced its fresh lockspace) and 2 (with it: started fresh).
    const calls = c.callsOf(follower.id, t0).filter((x) => x.call === 'start' || x.call === 'fence');
    expect(calls.at(-1)).toMatchObject({ call: 'start', members: [1, 2, 3], generation: 2 });
    expect(c.violations).toEqual([]);
  });

  it('a restart seen only as one view change passes the restarted node in departed (both views applied at once)', () => {
    const c = new FakeCluster([1, 2, 3]);
    c.advance(2000);
    const leader = c.leader()!;
    const other = [...c.nodes.values()].find((n) => n !== leader && n.driver.stats.role !== 'leader')!;
    const third = c.voters.find((v) => v !== leader.id && v !== other.id)!;
    // `other` hears nothing while the leader commits view 1 (without third) and view 2 (with it again).
    c.cut(leader.id, other.id);
    c.cut(other.id, third);
    leader.driver.propose([leader.id, other.id]);
    c.advance(50);
    // View 1 cannot commit without other's acknowledgment: heal other<->leader only after both entries are in the log.
    leader.driver.propose([1, 2, 3]);
    c.heal();
    c.advance(3000);
    const starts = c.callsOf(other.id).filter((x) => x.call === 'start');
    expect(starts.at(-1)).toMatchObject({ members: [1, 2, 3], generation: 2 });
    const last = starts.at(-1)!;
    expect(last.call === 'start' ? last.departed : null).toEqual([third]);
    expect(c.violations).toEqual([]);
  });

  it('garbage messages are counted and dropped, never thrown, and do not disturb the view', () => {
    const c = new FakeCluster([1, 2, 3]);
    c.advance(2000);
    const n = c.nodes.get(2)!;
    const before = n.driver.stats;
    const enc = new TextEncoder();
    const bad: Uint8Array[] = [
      new Uint8Array([0xff, 0xfe, 0x00]),
      enc.encode('not json'),
      enc.encode('null'),
      enc.encode('[]'),
      enc.encode(JSON.stringify({ type: 'vote-req', from: 9, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0 })),
      enc.encode(JSON.stringify({ type: 'vote-req', from: 1, to: 3, term: 1, lastLogIndex: 0, lastLogTerm: 0 })),
      enc.encode(JSON.stringify({ type: 'vote-req', from: 1, to: 2, term: -1, lastLogIndex: 0, lastLogTerm: 0 })),
      enc.encode(JSON.stringify({ type: 'vote-req', from: 1, to: 2, term: 1e300, lastLogIndex: 0, lastLogTerm: 0 })),
      enc.encode(JSON.stringify({ type: 'vote-req', from: 1, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0, extra: 1 })),
      enc.encode(JSON.stringify({ type: 'append', from: 1, to: 2, term: 99, prevIndex: 0, prevTerm: 0, entries: [{ term: 99, kind: 'view', view: 1, members: [3, 1] }], leaderCommit: 1, sentAt: 0, leaseUntil: 1e12 })),
      enc.encode(JSON.stringify({ type: 'append', from: 1, to: 2, term: 99, prevIndex: 0, prevTerm: 0, entries: [{ term: 99, kind: 'view', view: 0, members: [1] }], leaderCommit: 1, sentAt: 0, leaseUntil: 0 })),
      enc.encode(JSON.stringify({ type: 'append', from: 1, to: 2, term: 99, prevIndex: 0, prevTerm: 0, entries: 'x', leaderCommit: 1, sentAt: 0, leaseUntil: 0 })),
      enc.encode(JSON.stringify({ type: 'append-rep', from: 1, to: 2, term: 1, success: 'yes', matchIndex: 0, sentAt: 0 })),
      enc.encode(JSON.stringify({ type: 'append-rep', from: 2, to: 2, term: 1, success: true, matchIndex: 0, sentAt: 0 })),
      enc.encode(JSON.stringify({ type: 'boom', from: 1, to: 2, term: 1 })),
      new Uint8Array(70 * 1024),
    ];
    for (const b of bad) expect(() => n.driver.receive(b)).not.toThrow();
    const after = n.driver.stats;
    expect(after.dropped - before.dropped).toBe(bad.length);
    expect(after.messagesIn).toBe(before.messagesIn);
    expect(after.dropReasons['too-large']).toBe(1);
    expect(after.dropReasons['not-json']).toBeGreaterThanOrEqual(2);
    expect(after.dropReasons['not-a-voter']).toBe(1);
    expect(after.dropReasons['not-for-us']).toBe(1);
    expect(after.term).toBe(before.term);
    c.advance(500);
    for (const x of c.nodes.values()) expect(x.driver.state).toMatch(/of view 0 \(granting\)/);
    // A well-formed message does count as in.
    const inBefore = n.driver.stats.messagesIn;
    n.driver.receive(encodeViewsMessage({ type: 'vote-rep', from: 1, to: 2, term: 0, granted: false }));
    expect(n.driver.stats.messagesIn).toBe(inBefore + 1);
  });

  it('a failing store keeps the old state and sends nothing; a throwing target is counted', () => {
    const clock = new ManualClock();
    let fail = true;
    const sent: number[] = [];
    const store = { load: () => null, save: () => { if (fail) throw new Error('disk full'); } };
    const target = { stop: () => { throw new Error('boom'); }, start: () => {}, setGate: () => {}, fence: () => {} };
    const d = new ViewsDriver(1, { voters: [1, 2, 3] }, { clock, store, target, send: (to) => sent.push(to) });
    expect(d.stats.targetErrors).toBe(1);
    clock.advance(1000); // election timeouts: each would persist a new term
    expect(d.stats.saveErrors).toBeGreaterThan(0);
    expect(sent).toEqual([]);
    expect(d.stats.term).toBe(0);
    fail = false;
    clock.advance(1000);
    expect(d.stats.term).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(0);
    d.close();
    expect(clock.pending).toBe(0);
  });

  it('options are validated in one place (drift margin included)', () => {
    const clock = new ManualClock();
    const deps = { clock, store: new MemoryViewsStore(), send: () => {} };
    expect(() => new ViewsDriver(1, { voters: [] }, deps)).toThrow(ViewsOptionsError);
    expect(() => new ViewsDriver(4, { voters: [1, 2, 3] }, deps)).toThrow(/not a voter/);
    expect(() => new ViewsDriver(1, { voters: [1, 2.5] }, deps)).toThrow(/not a DLM node id/);
    expect(() => new ViewsDriver(1, { voters: [1], driftMargin: -1 }, deps)).toThrow(/driftMargin/);
    expect(() => new ViewsDriver(1, { voters: [1], lease: 100, heartbeatInterval: 50, driftMargin: 50 }, deps)).toThrow(/must exceed heartbeatInterval \+ driftMargin/);
    expect(() => new ViewsDriver(1, { voters: [1], maxEntriesPerMessage: 0 }, deps)).toThrow(/maxEntriesPerMessage/);
    const d = new ViewsDriver(1, { voters: [1] }, deps);
    expect(d.config).toMatchObject({ driftMargin: 50, maxEntriesPerMessage: 64, views: { lease: 400, heartbeatInterval: 50, electionMin: 150, electionMax: 300 } });
    d.close();
  });

  it('the drift margin: a node stops granting driftMargin before its lease ends', () => {
    const clock = new ManualClock();
    const d = new ViewsDriver(1, { voters: [1], driftMargin: 30 }, { clock, store: new MemoryViewsStore(), send: () => {} });
    const grants: number[] = [];
    d.views$.subscribe((o) => {
      if (o.type === 'granting') grants.push(o.until);
    });
    clock.advance(1000);
    expect(d.granting).toBe(true);
    expect(grants.at(-1)).toBe(d.protocolState.leaseUntil - 30);
    // Just before the shortened end the gate is open; at it, closed, though the protocol's lease still runs.
    const end = grants.at(-1)!;
    const d2 = d.protocolState;
    expect(d2.leaseUntil).toBeGreaterThan(end);
    const s = d.stats;
    expect(s.leaseRemaining).toBeGreaterThan(0);
    expect(s.leaseRemaining).toBeLessThanOrEqual(400 - 30);
    d.close();
  });
});
