/**
 * Slots (§4.1 recover_slot / recover_done, §4.2 step 2, §3.8 STATUS slots):
 * the low node assigns them in the NODES barrier, the others copy its
 * table; a member keeps its slot while it stays one; a departed node's slot
 * is reused only once it is gone; recover_slot for failed nodes only.
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, type DlmSlot, type RecoveryOps } from '../../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { decodeStatusReply, encodeStatusReply, RS_NEED_SLOTS, encodeStatusRequest, statusRequestFlags } from '../../../../src/services/dlm/recovery/rcom-payloads.ts';
import { assignSlots, initialSlots } from '../../../../src/services/dlm/recovery/slots.ts';
import { DlmError } from '../../../../src/services/dlm/errors.ts';

const t = (...pairs: [number, number][]): DlmSlot[] => pairs.map(([nodeid, slot]) => ({ nodeid, slot }));

describe('assignSlots (dlm_slots_assign rules)', () => {
  it('members keep the slots they claim; newcomers take the lowest free ones in node-id order', () => {
    expect(assignSlots([1, 3, 4], [c(1, 1), c(3, 3), c(4, 0)])).toEqual(t([1, 1], [3, 3], [4, 2]));
    expect(assignSlots([2, 5, 7, 9], [c(5, 2), c(9, 0), c(7, 0), c(2, 0)])).toEqual(t([2, 1], [5, 2], [7, 3], [9, 4]));
    expect(assignSlots([1], [])).toEqual(t([1, 1]));
  });

  it("a departed node's slot is free only once it is no longer a member", () => {
    // Node 2 (slot 2) still a member: newcomer 5 gets slot 5.
    expect(assignSlots([1, 2, 3, 4, 5], [c(1, 1), c(2, 2), c(3, 3), c(4, 4), c(5, 0)])).toEqual(t([1, 1], [2, 2], [3, 3], [4, 4], [5, 5]));
    // Node 2 gone: its slot 2 is the lowest free one.
    expect(assignSlots([1, 3, 4, 5, 6], [c(1, 1), c(3, 3), c(4, 4), c(5, 5), c(6, 0)])).toEqual(t([1, 1], [3, 3], [4, 4], [5, 5], [6, 2]));
  });

  it('conflicting claims: the higher generation wins, then the lower node id; a fresh (re-added) member claims nothing', () => {
    expect(assignSlots([1, 2], [c(1, 1, 0), c(2, 1, 3)])).toEqual(t([1, 2], [2, 1]));
    expect(assignSlots([1, 2], [c(1, 1, 2), c(2, 1, 2)])).toEqual(t([1, 1], [2, 2]));
    expect(assignSlots([1, 2, 3], [c(1, 1), c(2, 3), c(3, 2)], new Set([2]))).toEqual(t([1, 1], [2, 3], [3, 2]));
    expect(assignSlots([1, 2, 3], [c(1, 1), c(2, 2), c(3, 3)], new Set([2]))).toEqual(t([1, 1], [2, 2], [3, 3]));
    expect(assignSlots([1, 2], [c(1, 1), c(2, 99999)])).toEqual(t([1, 1], [2, 2]));
  });

  it('a lockspace created with a member list starts with slots 1..n in node-id order', () => {
    expect(initialSlots([2, 4, 9])).toEqual(t([2, 1], [4, 2], [9, 3]));
  });
});

describe('STATUS / STATUS_REPLY slots (§3.8)', () => {
  it('round-trips our_slot and the slot table; the request carries rs_flags', () => {
    const c0 = { lvblen: 32, lsflags: 1, generation: 7, key: 0x1234, ourSlot: 2, slots: t([1, 1], [3, 2], [8, 3]) };
    const buf = encodeStatusReply(c0);
    expect(buf.length).toBe(28 + 3 * 8);
    expect(decodeStatusReply(buf)).toEqual(c0);
    expect(decodeStatusReply(encodeStatusReply({ lvblen: 8, generation: 1, key: 5 }))).toEqual({ lvblen: 8, lsflags: 0, generation: 1, key: 5, ourSlot: 0, slots: [] });
    expect(statusRequestFlags(encodeStatusRequest(9, RS_NEED_SLOTS))).toBe(RS_NEED_SLOTS);
    expect(statusRequestFlags(new Uint8Array(2))).toBe(0);
  });

  it('a malformed table is refused (EBADMSG): truncated, zero, repeated node or slot', () => {
    const good = encodeStatusReply({ lvblen: 32, generation: 1, key: 1, ourSlot: 1, slots: t([1, 1], [2, 2]) });
    const bad = (mutate: (b: Uint8Array, dv: DataView) => void): unknown => {
      const b = good.slice();
      mutate(b, new DataView(b.buffer));
      try {
        decodeStatusReply(b);
        return 'accepted';
      } catch (err) {
        return err instanceof DlmError ? err.code : err;
      }
    };
    expect(bad(() => {})).toBe('accepted');
    expect(bad((_b, dv) => dv.setUint16(14, 3, true))).toBe('EBADMSG'); // 3 entries announced, 2 present
    expect(bad((_b, dv) => dv.setUint16(28 + 8 + 4, 1, true))).toBe('EBADMSG'); // slot 1 twice
    expect(bad((_b, dv) => dv.setUint32(28 + 8, 1, true))).toBe('EBADMSG'); // node 1 twice
    expect(bad((_b, dv) => dv.setUint16(28 + 4, 0, true))).toBe('EBADMSG'); // slot 0
    expect(bad((_b, dv) => dv.setUint16(12, 0xffff, true))).toBe('EBADMSG'); // our_slot out of range
  });
});

/** Nodes 1..6; 1-4 start as a lockspace with members [1..4], 5 and 6 alone (they join later). */
function slotCluster() {
  const ids = [1, 2, 3, 4, 5, 6];
  const sim = new DlmSim({ nodes: ids });
  const ls = new Map<number, Lockspace>();
  const events: string[] = [];
  for (const id of ids) {
    const ops: RecoveryOps = {
      recoverPrep: () => void events.push(`n${id} prep`),
      recoverSlot: (s) => void events.push(`n${id} recover_slot node ${s.nodeid} slot ${s.slot}`),
      recoverDone: (slots, ourSlot, generation) => void events.push(`n${id} done slot ${ourSlot} gen ${generation} [${slots.map((s) => `${s.nodeid}:${s.slot}`).join(' ')}]`),
    };
    ls.set(id, sim.node(id).newLockspace('ls', { members: id <= 4 ? [1, 2, 3, 4] : [id], ops }));
  }
  const dead = new Set<number>();
  const kill = (id: number): void => {
    dead.add(id);
    ls.get(id)!.stop();
    for (const o of ids) if (o !== id) sim.hold(id, o);
  };
  const view = async (members: number[], opts: { left?: number[] } = {}): Promise<string[]> => {
    for (const m of members) ls.get(m)!.stop();
    for (const m of members) ls.get(m)!.start(members, opts);
    await sim.settle();
    const out = events.splice(0).filter((e) => !e.endsWith(' prep'));
    return out.sort();
  };
  return { sim, ls, events, kill, view, dead };
}

describe('slots through recovery', () => {
  it('stable per member; a joiner gets a free slot; a failed node gets recover_slot on every survivor and its slot is reused only once it is gone', async () => {
    const c = slotCluster();
    expect([1, 2, 3, 4].map((id) => c.ls.get(id)!.slot)).toEqual([1, 2, 3, 4]);
    // Node 5 joins (it claims slot 1 from its own one-member table, generation 0): node 1 keeps 1 (lower id), 5 gets 5.
    expect(await c.view([1, 2, 3, 4, 5])).toEqual([1, 2, 3, 4, 5].map((id) => `n${id} done slot ${id} gen 1 [1:1 2:2 3:3 4:4 5:5]`));
    expect(c.ls.get(5)!.stats.recovery.slotChanged).toBe(1);
    // Node 2 dies: every survivor is told its slot, once.
    c.kill(2);
    const after = await c.view([1, 3, 4, 5]);
    expect(after.filter((e) => e.includes('recover_slot'))).toEqual([1, 3, 4, 5].map((id) => `n${id} recover_slot node 2 slot 2`));
    expect(after.filter((e) => e.includes('done'))).toEqual([1, 3, 4, 5].map((id) => `n${id} done slot ${id} gen 2 [1:1 3:3 4:4 5:5]`));
    // Node 6 joins: node 2's slot is free now.
    const joined = await c.view([1, 3, 4, 5, 6]);
    expect(joined).toEqual([1, 3, 4, 5, 6].map((id) => `n${id} done slot ${id === 6 ? 2 : id} gen 3 [1:1 3:3 4:4 5:5 6:2]`));
    expect(c.ls.get(6)!.slot).toBe(2);
    expect(c.ls.get(6)!.slots).toEqual(t([1, 1], [3, 3], [4, 4], [5, 5], [6, 2]));
    for (const id of [1, 3, 4]) expect(c.ls.get(id)!.stats.recovery.slotChanged).toBe(0);
  });

  it('a clean leave (named in `left`) gets no recover_slot; recover_prep comes at every stop(); recover_done also after a start() without recovery', async () => {
    const c = slotCluster();
    const out = await c.view([1, 2, 4], { left: [3] });
    expect(out.filter((e) => e.includes('recover_slot'))).toEqual([]);
    expect(out).toEqual([1, 2, 4].map((id) => `n${id} done slot ${id} gen 1 [1:1 2:2 4:4]`));
    c.ls.get(1)!.stop();
    expect(c.events.splice(0)).toEqual(['n1 prep']);
    c.ls.get(1)!.start([1, 2, 4]); // same list: resumes at once
    expect(c.events.splice(0)).toEqual(['n1 done slot 1 gen 1 [1:1 2:2 4:4]']);
  });

  it('a low node that dies mid-recovery: the next run still calls recover_slot once per failed node and the table stays consistent', async () => {
    const c = slotCluster();
    c.kill(3);
    // Start the run (every message among the survivors held: it cannot finish), then node 1 (the low node) dies.
    for (const [a, b] of [[1, 2], [1, 4], [2, 1], [2, 4], [4, 1], [4, 2]] as const) c.sim.hold(a, b);
    for (const m of [1, 2, 4]) c.ls.get(m)!.stop();
    for (const m of [1, 2, 4]) c.ls.get(m)!.start([1, 2, 4]);
    c.sim.runPending();
    expect(c.ls.get(2)!.recovering).toBe(true);
    c.kill(1);
    c.sim.release(2, 4);
    c.sim.release(4, 2);
    const out = await c.view([2, 4]);
    const slotCalls = [...c.events.splice(0), ...out].filter((e) => e.includes('recover_slot')).sort();
    // Node 3 was reported at the first start (on 1, 2 and 4), node 1 at the second (on 2 and 4).
    expect(out.filter((e) => e.includes('done'))).toEqual(['n2 done slot 2 gen 1 [2:2 4:4]', 'n4 done slot 4 gen 1 [2:2 4:4]']);
    expect(c.ls.get(2)!.slots).toEqual(c.ls.get(4)!.slots);
    expect(slotCalls.filter((e) => e.includes('node 1 '))).toEqual(['n2 recover_slot node 1 slot 1', 'n4 recover_slot node 1 slot 1']);
  });

  it('what a callback throws is counted and reported, never propagated; the recovery completes', async () => {
    const errors: unknown[] = [];
    const sim = new DlmSim({ nodes: [1, 2, 3], onCallbackError: (e) => void errors.push(e) });
    const ls = [1, 2, 3].map((id) =>
      sim.node(id).newLockspace('ls', {
        members: [1, 2, 3],
        ops: {
          recoverPrep: () => {
            throw new Error(`prep ${id}`);
          },
          recoverSlot: () => {
            throw new Error(`slot ${id}`);
          },
          recoverDone: () => {
            throw new Error(`done ${id}`);
          },
        },
      }),
    );
    ls[2]!.stop();
    for (const o of [1, 2]) sim.hold(3, o);
    for (const l of ls.slice(0, 2)) l.stop();
    for (const l of ls.slice(0, 2)) l.start([1, 2]);
    await sim.settle();
    expect(ls.slice(0, 2).map((l) => l.stats.recovery.completed)).toEqual([1, 1]);
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['done 1', 'done 2', 'prep 1', 'prep 2', 'prep 3', 'slot 1', 'slot 2']);
    expect(ls[0]!.stats.callbackErrors).toBe(3);
  });

  it('TS API: join(name, { ops }) and the slot getters', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3] });
    const done: Array<[number, number, number]> = [];
    const ls = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('ts', { members: [1, 2, 3], ops: { recoverDone: (_s, slot, gen) => void done.push([id, slot, gen]) } })));
    expect(ls.map((l) => l.slot)).toEqual([1, 2, 3]);
    ls[2]!.raw.fence(); // node 3 restarts: it forgets everything, its slot too
    expect(ls[2]!.slot).toBe(0);
    for (const l of ls) l.raw.stop();
    for (const l of ls) l.raw.start([1, 2, 3], { departed: [3] }); // node 3 back with a new incarnation
    await sim.settle();
    expect(done.sort()).toEqual([
      [1, 1, 1],
      [2, 2, 1],
      [3, 3, 1],
    ]);
    expect(ls.map((l) => l.generation)).toEqual([1, 1, 1]);
    expect(ls[0]!.slots).toEqual(t([1, 1], [2, 2], [3, 3]));
  });
});

function c(nodeid: number, slot: number, generation = 0) {
  return { nodeid, slot, generation };
}
