import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.ts';
import { REPAIR_HOLD_MS, RepairHolds, goesFirst, mustWait } from '../../src/span/repair-hold.ts';
import { planRelays } from '../../src/span/relay-plan.ts';
import type { ExistingRelay, RelayPlan } from '../../src/span/relay-plan.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import { OWN, conn, fields, id } from './fixtures.ts';

const CAUSE = { a: id(1), b: id(2), inc: 7 };

function holds(clock = new ManualClock()) {
  const expired: string[] = [];
  const h = new RepairHolds<string>({ clock, onExpire: (key, cause) => expired.push(`${key}:${cause.inc}`) });
  return { h, clock, expired };
}

describe('mustWait and goesFirst', () => {
  it('waits while a neighbour waited for could still offer as good as the candidate', () => {
    expect(mustWait([{ linkId: 'x', dist: 3 }], null)).toBe(true); // nothing else to use
    expect(mustWait([{ linkId: 'x', dist: 3 }], 5)).toBe(true); // it may still offer 3..5
    expect(mustWait([{ linkId: 'x', dist: 3 }], 3)).toBe(true); // a tie is still possible
    expect(mustWait([{ linkId: 'x', dist: 3 }], 2)).toBe(false); // it cannot beat 2 any more
    expect(mustWait([], null)).toBe(false);
  });

  it('the two ends of a link agree on who goes first', () => {
    const [x, y] = [id(1), id(2)];
    expect(goesFirst(4, null, y, x)).toBe(true); // our offer to it is alive: it never waits for us
    // Both offers dead: the smaller one across the link goes first, then the smaller id.
    for (const [e, f] of [[3, 5], [5, 3], [4, 4]] as const) {
      const yFirstAtX = goesFirst(e, f, y, x); // X holds Y's offer e, Y holds X's offer f
      const xFirstAtY = goesFirst(f, e, x, y);
      expect(yFirstAtX, `${e} vs ${f}`).toBe(!xFirstAtY);
    }
    expect(goesFirst(4, 4, x, y)).toBe(true);
  });
});

describe('RepairHolds', () => {
  it('holds an instance until every neighbour it waits for has closed its dead offer', () => {
    const { h, expired } = holds();
    h.pruned('n', 2, { linkId: 'l1', dist: 2 }, CAUSE, false); // strictly closer: waited for
    h.pruned('n', 9, { linkId: 'l2', dist: 1 }, CAUSE, false); // oldBest of the first prune is kept
    h.pruned('n', 2, { linkId: 'far', dist: 3 }, CAUSE, false); // farther, and it waits for us: not recorded
    h.pruned('n', 2, { linkId: 'first', dist: 4 }, CAUSE, true); // farther, but it goes first
    expect(h.isHeld('n')).toBe(true);
    expect(h.evaluate('n', null)).toEqual({ wait: true });
    expect(h.settle('far')).toBeUndefined();
    expect(h.settle('l1')).toBe('n');
    expect(h.settle('l2')).toBe('n');
    expect(h.evaluate('n', 4)).toEqual({ wait: true }); // 'first' may still offer 4
    expect(h.evaluate('n', 3)).toEqual({ wait: false, cause: CAUSE }); // it cannot beat 3: the hold ends, carrying the cause
    expect(h.isHeld('n')).toBe(false);
    expect(h.settle('first')).toBeUndefined(); // forgotten with the hold
    expect(h.evaluate('n', 4)).toEqual({ wait: false, cause: null });
    expect(h.size).toBe(0);
    expect(expired).toEqual([]);
  });

  it('a second lost link keeps only the strictly closer neighbours', () => {
    const { h } = holds();
    h.pruned('n', 2, { linkId: 'first', dist: 5 }, CAUSE, true);
    h.pruned('n', 2, { linkId: 'closer', dist: 2 }, CAUSE, true);
    const other = { ...CAUSE, b: id(3) };
    h.pruned('n', 2, { linkId: 'first2', dist: 6 }, other, true); // not recorded any more
    expect(h.settle('first')).toBeUndefined(); // dropped
    expect(h.evaluate('n', null)).toEqual({ wait: true });
    expect(h.settle('closer')).toBe('n');
    expect(h.evaluate('n', null)).toEqual({ wait: false, cause: CAUSE });
  });

  it('a hold runs out after holdMs on the injected clock, once; clear() and clearAll() stop the timers', () => {
    const { h, clock, expired } = holds();
    h.pruned('a', 1, { linkId: 'la', dist: 1 }, CAUSE, false);
    h.pruned('b', 1, { linkId: 'lb', dist: 1 }, { ...CAUSE, inc: 8 }, false);
    h.pruned('c', 1, { linkId: 'lc', dist: 1 }, CAUSE, false);
    expect(clock.pending).toBe(3);
    h.clear('c');
    expect(clock.pending).toBe(2);
    clock.advance(REPAIR_HOLD_MS - 1);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['a:7', 'b:8']);
    expect(h.expired).toBe(2);
    expect(h.size).toBe(0);
    h.pruned('d', 1, { linkId: 'ld', dist: 1 }, CAUSE, false);
    h.clearAll();
    expect(clock.pending).toBe(0);
    clock.runAll();
    expect(expired).toEqual(['a:7', 'b:8']);
  });
});

describe('planRelays with preferCurrent (sticky relays)', () => {
  function apply(existing: ExistingRelay[], plan: RelayPlan, ids: { n: number }): ExistingRelay[] {
    const gone = new Set(plan.delete);
    return [...existing.filter((r) => !gone.has(r.relayId)), ...plan.create.map((s) => ({ ...s, relayId: `r${ids.n++}` }))];
  }

  it('keeps the relayed link while a new one is only as short; switches to a shorter one; plans like before without it', () => {
    const table = new SpanTable({ ownNodeId: OWN });
    const conns = [conn('c1', id(1)), conn('c2', id(2)), conn('c3', id(3))];
    const ids = { n: 0 };
    const ctx = { localRnss: 1, preferCurrent: true };
    table.add({ linkId: 'old', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 2, rnss: 50 }), path: [id(9), id(8), id(1)] });
    let relays = apply([], planRelays(table, conns, [], ctx), ids);
    expect(relays.map((r) => [r.connId, r.sourceLinkId])).toEqual([['c2', 'old'], ['c3', 'old']]);
    // An equally short path that wins the tie-break (lower rnss) arrives on c2.
    table.add({ linkId: 'tie', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 2, rnss: 10 }), path: [id(9), id(7), id(2)] });
    expect(table.node(table.link('tie')!.nodeKey)!.links[0]!.linkId).toBe('tie');
    const sticky = planRelays(table, conns, relays, ctx);
    // c1 gets its first relay ('old' came from c1); c3 keeps 'old'; c2 cannot take 'tie' (it came from c2).
    expect(sticky.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([['c1', 'tie']]);
    expect(sticky.delete).toEqual([]);
    // Without preferCurrent, c3 would move to 'tie' too (a CREATE and a DELETE for an equally short path).
    const plain = planRelays(table, conns, relays, { localRnss: 1 });
    expect(plain.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([['c1', 'tie'], ['c3', 'tie']]);
    expect(plain.delete).toEqual([relays.find((r) => r.connId === 'c3')!.relayId]);
    relays = apply(relays, sticky, ids);
    // A strictly shorter path replaces the sticky one.
    table.add({ linkId: 'short', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 1, rnss: 90 }), path: [id(9), id(1)] });
    const better = planRelays(table, conns, relays, ctx);
    expect(better.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([['c2', 'short'], ['c3', 'short']]);
    expect(better.delete.length).toBe(2);
    relays = apply(relays, better, ids);
    const again = planRelays(table, conns, relays, ctx);
    expect([again.create, again.delete]).toEqual([[], []]);
  });

  it('with maxRelayedPaths 2, keeps both carried links among equals', () => {
    const table = new SpanTable({ ownNodeId: OWN, options: { maxRelayedPaths: 2 } });
    const conns = [conn('c1', id(1)), conn('c2', id(2)), conn('c3', id(3)), conn('c4', id(4))];
    const ctx = { localRnss: 1, preferCurrent: true };
    table.add({ linkId: 'a', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 3, rnss: 30 }), path: [id(9), id(1)] });
    table.add({ linkId: 'b', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 3, rnss: 40 }), path: [id(9), id(2)] });
    const relays = apply([], planRelays(table, conns, [], ctx), { n: 0 });
    const onC4 = (rs: readonly { connId: string; sourceLinkId: string }[]) => rs.filter((r) => r.connId === 'c4').map((r) => r.sourceLinkId).sort();
    expect(onC4(relays)).toEqual(['a', 'b']);
    table.add({ linkId: 'c', connId: 'c3', peerNodeId: id(3), fields: fields({ dist: 3, rnss: 5 }), path: [id(9), id(3)] });
    const plan = planRelays(table, conns, relays, ctx);
    expect(onC4(plan.create)).toEqual([]);
    expect(plan.delete.filter((rid) => relays.find((r) => r.relayId === rid)!.connId === 'c4')).toEqual([]);
  });
});
