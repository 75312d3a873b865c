/**
 * Attacks on the views driver's Raft messages: well-formed JSON with absurd
 * terms, indexes and commit points, forged `from`, oversized entry lists,
 * and a stream of vote requests. The drivers never throw, bad messages are
 * counted and dropped, at most one view grants at any instant (the
 * harness checks every virtual millisecond), and once the attack stops the
 * cluster elects a leader and grants again within a bounded time.
 */
import { describe, expect, it } from 'vitest';
import { encodeViewsMessage, VIEWS_MAX_ENTRIES_IN } from '../../../../src/services/dlm/views/index.ts';
import { VIEWS_MAX_TERM } from '../../../../src/services/dlm/views/driver-codec.ts';
import type { Message } from '../../../../src/services/dlm/views/types.ts';
import { FakeCluster } from '../views/driver-harness.ts';
import { electedCluster, isHealthy, proposeUntilHealthy } from '../../../helpers/views-cluster-health.ts';
import { mulberry32 } from '../../../helpers/prng.ts';

const enc = new TextEncoder();

function absurd(rnd: () => number): number {
  const xs = [0, 1, 2, 3, 7, 1000, 2 ** 31, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER];
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** A well-typed message with hostile values, `from` forged among the voters. */
function hostileMessage(rnd: () => number, to: number, termOf: (r: () => number) => number): Message {
  const from = [1, 2, 3].filter((x) => x !== to)[Math.floor(rnd() * 2)]!;
  const kind = Math.floor(rnd() * 4);
  const term = termOf(rnd);
  switch (kind) {
    case 0:
      return { type: 'vote-req', from, to, term, lastLogIndex: absurd(rnd), lastLogTerm: termOf(rnd) };
    case 1:
      return { type: 'vote-rep', from, to, term, granted: rnd() < 0.5 };
    case 2: {
      const n = Math.floor(rnd() * 4);
      const entries = Array.from({ length: n }, (_, i) => (rnd() < 0.5 ? { term: termOf(rnd), kind: 'noop' as const } : { term: termOf(rnd), kind: 'view' as const, view: 1 + i + Math.floor(rnd() * 3), members: rnd() < 0.5 ? [1, 2] : [1, 2, 3] }));
      const prevIndex = Math.min(absurd(rnd), Number.MAX_SAFE_INTEGER - n);
      return { type: 'append', from, to, term, prevIndex, prevTerm: termOf(rnd), entries, leaderCommit: absurd(rnd), sentAt: absurd(rnd), leaseUntil: absurd(rnd) };
    }
    default:
      return { type: 'append-rep', from, to, term, success: rnd() < 0.5, matchIndex: absurd(rnd), sentAt: absurd(rnd) };
  }
}

describe('hostile views (Raft) messages', () => {
  it.each([21, 22, 23])('seed %i: absurd terms/indexes/commit points with forged from: no throw, one granting view at any instant, terms stay safe', (seed) => {
    const rnd = mulberry32(seed);
    const ctx = `seed=${seed}`;
    const c = electedCluster();
    expect(isHealthy(c), ctx).toBe(true);
    const dropped0 = [...c.nodes.values()].reduce((a, n) => a + n.driver.stats.dropped, 0);
    for (let round = 0; round < 100; round++) {
      for (const n of c.nodes.values()) n.driver.receive(encodeViewsMessage(hostileMessage(rnd, n.id, absurd)));
      c.advance(20);
    }
    c.proposeReachable();
    c.advance(2000);
    expect(c.violations, ctx).toEqual([]);
    // Terms above VIEWS_MAX_TERM are dropped and counted: a term + 1 is always a safe integer (the store reloads it).
    expect([...c.nodes.values()].reduce((a, n) => a + n.driver.stats.dropped, 0), ctx).toBeGreaterThan(dropped0);
    for (const n of c.nodes.values()) {
      expect(n.driver.stats.term, ctx).toBeLessThanOrEqual(VIEWS_MAX_TERM + 1000);
      expect(Number.isSafeInteger(n.driver.stats.term + 1), ctx).toBe(true);
    }
  });

  it.each([31, 32, 33])('seed %i: absurd indexes, commit points and lease times at plausible terms, forged from: the cluster is healthy again after the attack', (seed) => {
    const rnd = mulberry32(seed);
    const ctx = `seed=${seed}`;
    const c = electedCluster();
    const base = Math.max(...[...c.nodes.values()].map((n) => n.driver.stats.term));
    const plausibleTerm = (r: () => number): number => base + Math.floor(r() * 3);
    for (let round = 0; round < 100; round++) {
      for (const n of c.nodes.values()) n.driver.receive(encodeViewsMessage(hostileMessage(rnd, n.id, plausibleTerm)));
      c.advance(20);
    }
    expect(c.violations, ctx).toEqual([]);
    proposeUntilHealthy(c);
    expect(isHealthy(c), ctx).toBe(true);
    expect(c.violations, ctx).toEqual([]);
  });

  // BUG (not fixed: needs a design decision for vdrive): Raft trusts its voters, and the mesh transport does not
  // check that a message's `from` is the router it came from. One message with a term at the cap (2^48) makes the
  // receiver adopt it; its next election term (2^48 + 1) is dropped by every peer, so no leader is elected again:
  // liveness is lost for good (safety holds: the other tests check one granting view at every instant).
  it.fails('BUG: a term at VIEWS_MAX_TERM from a forged voter wedges elections (term exhaustion)', () => {
    const c = electedCluster();
    c.nodes.get(1)!.driver.receive(encodeViewsMessage({ type: 'vote-req', from: 2, to: 1, term: VIEWS_MAX_TERM, lastLogIndex: 0, lastLogTerm: 0 }));
    proposeUntilHealthy(c);
    expect(c.violations).toEqual([]);
    expect(isHealthy(c)).toBe(true);
  });

  it('a term of 2^53-1 from a forged voter does not wedge the cluster (its next election term would not be a safe integer)', () => {
    const c = electedCluster();
    expect(isHealthy(c)).toBe(true);
    const n1 = c.nodes.get(1)!;
    const before = n1.driver.stats.dropped;
    n1.driver.receive(encodeViewsMessage({ type: 'vote-req', from: 2, to: 1, term: Number.MAX_SAFE_INTEGER, lastLogIndex: 0, lastLogTerm: 0 }));
    expect(n1.driver.stats.dropped).toBe(before + 1);
    proposeUntilHealthy(c);
    expect(isHealthy(c)).toBe(true);
    expect(c.violations).toEqual([]);
  });

  it('oversized and malformed messages are counted by reason and dropped', () => {
    const c = new FakeCluster([1, 2, 3]);
    c.advance(2000);
    const d = c.nodes.get(2)!.driver;
    const before = { ...d.stats.dropReasons };
    const entries = Array.from({ length: VIEWS_MAX_ENTRIES_IN + 1 }, () => ({ term: 1, kind: 'noop' }));
    d.receive(enc.encode(JSON.stringify({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries, leaderCommit: 0, sentAt: 0, leaseUntil: 0 })));
    d.receive(new Uint8Array(64 * 1024 + 1));
    d.receive(enc.encode('{"type":"vote-req","from":9,"to":2,"term":1,"lastLogIndex":0,"lastLogTerm":0}'));
    d.receive(enc.encode('{"type":"vote-req","from":1,"to":3,"term":1,"lastLogIndex":0,"lastLogTerm":0}'));
    d.receive(Uint8Array.from([0xff, 0xfe]));
    d.receive(enc.encode('{"type":"append-rep","from":1,"to":2,"term":-1,"success":true,"matchIndex":0,"sentAt":0}'));
    const after = d.stats.dropReasons;
    expect(after['bad-field'] - before['bad-field']).toBe(2);
    expect(after['too-large'] - before['too-large']).toBe(1);
    expect(after['not-a-voter'] - before['not-a-voter']).toBe(1);
    expect(after['not-for-us'] - before['not-for-us']).toBe(1);
    expect(after['not-json'] - before['not-json']).toBe(1);
    expect(c.violations).toEqual([]);
  });

  it('a stream of vote requests from one voter (term +1 each) is bounded: no state growth, the others keep a leader once it stops', () => {
    const c = electedCluster();
    const n1 = c.nodes.get(1)!;
    const logLen = n1.driver.protocolState.log.length;
    let term = n1.driver.stats.term;
    for (let i = 0; i < 2000; i++) {
      for (const to of [1, 2]) c.nodes.get(to)!.driver.receive(encodeViewsMessage({ type: 'vote-req', from: 3, to, term: ++term, lastLogIndex: 0, lastLogTerm: 0 }));
      if (i % 10 === 0) c.advance(1);
    }
    expect(c.violations).toEqual([]);
    // The log did not grow with the attack; memory per node stays the protocol state.
    expect(n1.driver.protocolState.log.length).toBeLessThanOrEqual(logLen + 1);
    proposeUntilHealthy(c);
    expect(isHealthy(c)).toBe(true);
  });
});
