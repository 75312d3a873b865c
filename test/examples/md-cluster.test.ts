/**
 * examples/md-cluster on a simulated 3-4 node DLM (DlmSim: one ManualClock,
 * one task queue, settle() runs until nothing is pending), so every run is
 * the same.
 */
import { describe, expect, it } from 'vitest';
import { DlmSim } from 'dmsg-mesh';
import { MdNode, bitmapName } from '../../examples/md-cluster/md-node.ts';
import { MSG, MD_LVBLEN, decodeClusterMsg, encodeClusterMsg, clusterMsg } from '../../examples/md-cluster/message.ts';
import { SharedBitmaps } from '../../examples/md-cluster/bitmap-disk.ts';

async function settled<T>(sim: DlmSim, p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  await sim.settle();
  expect(done, 'the operation completed once the simulation settled').toBe(true);
  return q;
}

async function array(n: number, opts: { slots?: number; join?: number; acceptDisk?: (id: number) => boolean; recovered?: Array<[number, number, bigint]>; bitmaps?: SharedBitmaps } = {}) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const sim = new DlmSim({ nodes: ids });
  const nodes: MdNode[] = [];
  for (const id of ids) {
    const ls = await sim.node(id).join('md-uuid', { lvblen: MD_LVBLEN, members: ids });
    // The md slot comes from the DLM (slot - 1): members 1..n start with slots 1..n.
    nodes.push(new MdNode(ls, { slots: opts.slots ?? n, acceptDisk: () => opts.acceptDisk?.(id) ?? true, recoverBitmap: (slot, r) => void opts.recovered?.push([id, slot, r.high]), bitmaps: opts.bitmaps }));
  }
  for (const [i, m] of nodes.entries()) expect(m.slot).toBe(ids[i]);
  const joining = nodes.slice(0, opts.join ?? n);
  // One after another, as an array is assembled node by node (concurrent joins: see the test below).
  for (const m of joining) await settled(sim, m.join());
  return { sim, nodes };
}

describe('md-cluster message codec', () => {
  it('round-trips the 44-byte cluster_msg in a 64-byte LVB', () => {
    const m = clusterMsg(MSG.RESYNCING, 2, { low: 1n << 40n, high: (1n << 40n) + 8n, raidSlot: 7, uuid: Uint8Array.from({ length: 16 }, (_, i) => i) });
    const b = encodeClusterMsg(m);
    expect(b.length).toBe(64);
    expect(decodeClusterMsg(b)).toEqual(m);
    expect(decodeClusterMsg(new Uint8Array(10))).toBeUndefined();
    b[0] = 99;
    expect(decodeClusterMsg(b)).toBeUndefined();
  });
});

describe('examples/md-cluster', () => {
  it('one broadcast among three nodes: every receiver processes it before the sender returns; all back to ack CR', async () => {
    const { sim, nodes } = await array(3);
    for (const n of nodes) expect(n.modes()).toMatchObject({ token: 'NL', message: 'NL', ack: 'CR', 'no-new-dev': 'CR', [bitmapName(n.mdSlot)]: 'PW' });
    let processedAtReturn = -1;
    const p = nodes[0]!.broadcast(MSG.METADATA_UPDATED).then(() => (processedAtReturn = nodes[1]!.received.length + nodes[2]!.received.length));
    await settled(sim, p);
    expect(processedAtReturn).toBe(2);
    expect(nodes[1]!.received.map((m) => [m.type, m.slot])).toEqual([[MSG.METADATA_UPDATED, 0]]);
    expect(nodes[2]!.received.map((m) => [m.type, m.slot])).toEqual([[MSG.METADATA_UPDATED, 0]]);
    expect(nodes[0]!.received).toEqual([]);
    for (const n of nodes) {
      expect(n.modes()).toMatchObject({ token: 'NL', message: 'NL', ack: 'CR' });
      expect(n.errors).toEqual([]);
      expect(n.rejected).toBe(0);
    }
  });

  it('the sender waits while a receiver has not processed (its messages held), and finishes when they flow', async () => {
    const { sim, nodes } = await array(3);
    let done = false;
    const p = nodes[0]!.broadcast(MSG.METADATA_UPDATED).then(() => (done = true));
    sim.hold(3, 1);
    sim.hold(3, 2);
    await sim.settle();
    expect(done).toBe(false);
    expect(nodes[1]!.received.length).toBe(1);
    sim.release(3, 1);
    sim.release(3, 2);
    await settled(sim, p);
    expect(done).toBe(true);
    expect(nodes[2]!.received.length).toBe(1);
  });

  it('two concurrent senders are serialised by the token: each message reaches the others once, never interleaved', async () => {
    const { sim, nodes } = await array(3);
    const p = Promise.all([nodes[0]!.broadcast(MSG.RESYNCING, { low: 100n, high: 200n }), nodes[1]!.broadcast(MSG.RESYNCING, { low: 300n, high: 400n })]);
    await settled(sim, p);
    expect(nodes[0]!.received.map((m) => m.slot)).toEqual([1]);
    expect(nodes[1]!.received.map((m) => m.slot)).toEqual([0]);
    expect(nodes[2]!.received.map((m) => m.slot).sort()).toEqual([0, 1]);
    // RESYNCING builds each node's suspend list.
    expect([...nodes[2]!.suspended.entries()].sort()).toEqual([
      [0, { low: 100n, high: 200n }],
      [1, { low: 300n, high: 400n }],
    ]);
    expect([...nodes[0]!.suspended.entries()]).toEqual([[1, { low: 300n, high: 400n }]]);
    // A range of (0, 0) ends the resync: removed from the suspend lists.
    await settled(sim, nodes[1]!.resyncing(0n, 0n));
    expect(nodes[2]!.suspended.has(1)).toBe(false);
    expect(nodes[0]!.suspended.size).toBe(0);
    for (const n of nodes) expect(n.errors).toEqual([]);
  });

  it('three nodes joining at once (serialised by the token) all end joined with ack CR and bitmap PW', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3] });
    const nodes: MdNode[] = [];
    for (const id of [1, 2, 3]) nodes.push(new MdNode(await sim.node(id).join('md', { lvblen: MD_LVBLEN, members: [1, 2, 3] }), { slot: id, slots: 3 }));
    await settled(sim, Promise.all(nodes.map((n) => n.join())));
    for (const n of nodes) {
      expect(n.joined).toBe(true);
      expect(n.modes()).toMatchObject({ token: 'NL', ack: 'CR', [bitmapName(n.mdSlot)]: 'PW' });
    }
    await settled(sim, nodes[2]!.broadcast(MSG.METADATA_UPDATED));
    expect(nodes.map((n) => n.received.length)).toEqual([1, 1, 0]);
  });

  it('many broadcasts from every node at once: each node processes every other node\'s messages exactly once', async () => {
    const { sim, nodes } = await array(3);
    const p = Promise.all(nodes.flatMap((n) => [1, 2, 3, 4].map((k) => n.broadcast(MSG.BITMAP_NEEDS_SYNC, { low: BigInt(k) }))));
    await settled(sim, p);
    for (const n of nodes) {
      expect(n.received.length).toBe(8);
      for (const other of nodes) if (other !== n) expect(n.received.filter((m) => m.slot === other.mdSlot).map((m) => m.low)).toEqual([1n, 2n, 3n, 4n]);
      expect(n.sent).toBe(4);
      expect(n.errors).toEqual([]);
    }
  });

  it('NEWDISK: granted no-new-dev EX when every node takes the disk; refused (EAGAIN) when one NACKs', async () => {
    const uuid = new Uint8Array(16).fill(0xab);
    {
      const { sim, nodes } = await array(3);
      expect(await settled(sim, nodes[0]!.addNewDisk(uuid, 5))).toBe(true);
      for (const n of nodes.slice(1)) {
        expect(n.received.map((m) => m.type)).toEqual([MSG.NEWDISK, MSG.METADATA_UPDATED]);
        expect(n.received[0]!.uuid).toEqual(uuid);
        expect(n.received[0]!.raidSlot).toBe(5);
        expect(n.modes()['no-new-dev']).toBe('CR'); // re-taken on METADATA_UPDATED
      }
    }
    {
      const { sim, nodes } = await array(3, { acceptDisk: (id) => id !== 3 });
      expect(await settled(sim, nodes[0]!.addNewDisk(uuid, 5))).toBe(false);
      expect(nodes[0]!.modes()['no-new-dev']).toBe('CR');
      expect(nodes[2]!.modes()['no-new-dev']).toBe('CR');
    }
  });

  it('a joining node probes the slots: live slots answer EAGAIN (their resync range read with CR), an unused slot is granted and recovered', async () => {
    // 4 DLM members, 5 md slots; nodes 1-3 join first, node 4 joins later.
    const recovered: Array<[number, number, bigint]> = [];
    const { sim, nodes } = await array(4, { slots: 5, join: 3, recovered });
    // Joined one after another: node 1 found every other slot unused, node 3 slots 3 and 4.
    expect(recovered.filter(([id]) => id === 1).map(([, slot]) => slot)).toEqual([1, 2, 3, 4]);
    expect(recovered.filter(([id]) => id === 3).map(([, slot]) => slot)).toEqual([3, 4]);
    recovered.length = 0;
    await settled(sim, nodes[1]!.resyncing(1000n, 2000n));
    const late = nodes[3]!;
    const probes = await settled(sim, late.join());
    expect(probes.map((p) => [p.mdSlot, p.state])).toEqual([
      [0, 'alive'],
      [1, 'alive'],
      [2, 'alive'],
      [4, 'recovered'],
    ]);
    expect(probes[1]).toMatchObject({ low: 1000n, high: 2000n });
    expect([...late.suspended.entries()]).toEqual([[1, { low: 1000n, high: 2000n }]]);
    expect(recovered).toEqual([[4, 4, 0n]]);
    // And it takes part in broadcasts from then on.
    await settled(sim, nodes[0]!.broadcast(MSG.METADATA_UPDATED));
    expect(late.received.map((m) => m.type)).toEqual([MSG.METADATA_UPDATED]);
    expect(late.modes()[bitmapName(3)]).toBe('PW');
  });
});

describe('examples/md-cluster: a hand-driven sender (raw DLM calls) with bad messages', () => {
  it("receivers reject a message carrying their own slot and an unreadable one, process the rest, and stay in the dance", async () => {
    const ids = [1, 2, 3];
    const sim = new DlmSim({ nodes: ids });
    const md: MdNode[] = [];
    for (const id of [1, 2]) md.push(new MdNode(await sim.node(id).join('md', { lvblen: MD_LVBLEN, members: ids }), { slot: id, slots: 3 }));
    // Node 3's lockspace exists before anyone uses it (it may be a directory node).
    const raw = await sim.node(3).join('md', { lvblen: MD_LVBLEN, members: ids });
    for (const n of md) await settled(sim, n.join());
    const go = <T>(p: Promise<T>): Promise<T> => settled(sim, p);
    const ack = await go(raw.lock('ack', 'CR'));
    const msg = await go(raw.lock('message', 'NL'));
    const tok = await go(raw.lock('token', 'NL'));
    const send = async (lvb: Uint8Array): Promise<void> => {
      await go(tok.convert('EX'));
      await go(msg.convert('EX'));
      await go(msg.convert('CW', { lvb }));
      await go(ack.convert('EX'));
      await go(ack.convert('CR'));
      await go(msg.convert('NL'));
      await go(tok.convert('NL'));
    };
    await send(encodeClusterMsg(clusterMsg(MSG.METADATA_UPDATED, 1))); // md slot 1 is node 2's own
    expect(md[0]!.received.map((m) => m.slot)).toEqual([1]);
    expect(md[1]!.received).toEqual([]);
    expect(md[1]!.rejected).toBe(1);
    const garbage = new Uint8Array(MD_LVBLEN).fill(0xff);
    await send(garbage); // unknown type: nobody processes it
    expect(md.map((n) => n.rejected)).toEqual([1, 2]);
    // Both are still in the dance. A real broadcast waits while node 3 (no receiver) holds ack CR ...
    let done = false;
    const p = md[0]!.broadcast(MSG.METADATA_UPDATED).then(() => (done = true));
    await sim.settle();
    expect(done).toBe(false);
    expect(md[1]!.received.map((m) => m.slot)).toEqual([0]); // node 2 has processed it already
    // ... and completes once node 3 lets go of ack.
    await go(ack.convert('NL'));
    await p;
    expect(md[1]!.received.map((m) => m.slot)).toEqual([0]);
    for (const n of md) expect(n.errors).toEqual([]);
  });
});

describe('examples/md-cluster/main.ts', () => {
  it('runs to completion and prints what it promises', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', 'examples/md-cluster/main.ts'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('METADATA_UPDATED processed by 2 nodes');
    expect(r.stdout).toContain('slot 0 suspend list: 1:[0,4096) 2:[8192,16384)');
    expect(r.stdout).toContain('NEWDISK: every node took the disk');
    expect(r.stdout).toContain('5 broadcasts, 10 receipts, errors: 0');
    expect(r.stdout).toMatch(/done\n$/);
  });
});

/*
 * Node death and DLM recovery on the simulator. A dead node's lockspace is
 * stopped and every message from or to it is held for good (what it had in
 * flight is lost); the test is the membership manager: stop() on every
 * survivor, then start(survivors) on every survivor (stop on all before
 * start on any), then settle (recovery's barrier timers run on the
 * ManualClock).
 */
function kill(sim: DlmSim, nodes: readonly MdNode[], id: number): void {
  nodes[id - 1]!.ls.raw.stop();
  for (const other of sim.nodeIds) {
    if (other === id) continue;
    sim.hold(id, other);
    sim.hold(other, id);
  }
}

function recover(nodes: readonly MdNode[], live: readonly number[]): void {
  for (const id of live) nodes[id - 1]!.ls.raw.stop();
  for (const id of live) nodes[id - 1]!.ls.raw.start(live);
}

const pairsOf = (ids: readonly number[]): [number, number][] => ids.flatMap((a) => ids.filter((b) => b !== a).map((b): [number, number] => [a, b]));

/** Deliver one round: what is held among `ids` now; what that sends is held again. */
async function deliverRound(sim: DlmSim, ids: readonly number[]): Promise<void> {
  for (const [a, b] of pairsOf(ids)) {
    if (sim.heldCount(a, b) === 0) continue;
    sim.release(a, b);
    sim.hold(a, b);
  }
  for (let i = 0; i < 1000; i++) {
    sim.runPending();
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (sim.scheduler.pending === 0) return;
  }
  throw new Error('deliverRound: the simulation did not go idle');
}

/**
 * One broadcast from `sender` among nodes 1-3; `victim` dies after `rounds`
 * delivery rounds; the survivors recover. Returns null when the broadcast
 * was already over after `rounds` rounds (the sweep's end). Node 1 joined
 * first, so it masters token, message and ack.
 */
async function broadcastWithDeath(sender: number, victim: number, rounds: number) {
  const { sim, nodes } = await array(3);
  const ids = [1, 2, 3];
  for (const [a, b] of pairsOf(ids)) sim.hold(a, b);
  let done = false;
  void nodes[sender - 1]!.broadcast(MSG.RESYNCING, { low: 7n, high: 9n }).then(() => (done = true));
  for (let r = 0; r < rounds; r++) await deliverRound(sim, ids);
  if (done) return null;
  kill(sim, nodes, victim);
  const live = ids.filter((id) => id !== victim);
  for (const [a, b] of pairsOf(live)) sim.release(a, b);
  const generation = nodes[live[0]! - 1]!.ls.raw.generation;
  recover(nodes, live);
  await sim.settle();
  for (const id of live) expect(nodes[id - 1]!.ls.raw.generation, 'recovery ran').toBeGreaterThan(generation);
  return { sim, nodes, live, done: () => done };
}

/** Kill `victim` at every delivery round of a broadcast from `sender`; `check` each case. Returns the number of cases. */
async function sweep(sender: number, victim: number, check: (r: NonNullable<Awaited<ReturnType<typeof broadcastWithDeath>>>, where: string) => Promise<void>): Promise<number> {
  for (let rounds = 0; rounds < 200; rounds++) {
    const r = await broadcastWithDeath(sender, victim, rounds);
    if (!r) return rounds;
    await check(r, `sender ${sender}, node ${victim} killed after ${rounds} delivery rounds`);
  }
  throw new Error('sweep: the broadcast never ended without a kill');
}

/** After recovery: the two survivors broadcast to each other. */
async function survivorsCarryOn(sim: DlmSim, nodes: readonly MdNode[], live: readonly number[], where: string): Promise<void> {
  const [a, b] = live.map((id) => nodes[id - 1]!) as [MdNode, MdNode];
  const seen = b.received.length;
  const lost = b.lost;
  await settled(sim, a.broadcast(MSG.METADATA_UPDATED));
  expect(b.received.slice(seen).map((m) => [m.type, m.slot]), where).toEqual([[MSG.METADATA_UPDATED, a.mdSlot]]);
  expect(b.lost, `${where}: the new message's LVB is valid again`).toBe(lost);
  for (const n of [a, b]) {
    expect(n.errors, where).toEqual([]);
    expect(n.rejected, where).toBe(0);
    expect(n.modes(), where).toMatchObject({ token: 'NL', message: 'NL', ack: 'CR', 'no-new-dev': 'CR' });
  }
}

describe('examples/md-cluster: node death and DLM recovery', () => {
  it('a receiver killed mid-broadcast (at every delivery round; also the master of token/message/ack): the sender completes once recovery purges its ack lock; the survivors carry on', async () => {
    for (const [sender, victim] of [
      [1, 3],
      [2, 1], // the victim masters the broadcast resources: they are remastered
    ] as const) {
      const cases = await sweep(sender, victim, async ({ sim, nodes, live, done }, where) => {
        expect(done(), `${where}: the broadcast completed after recovery`).toBe(true);
        // The surviving receiver processed the message exactly once.
        const receiver = nodes[live.find((id) => id !== sender)! - 1]!;
        expect(receiver.received.map((m) => [m.type, m.slot, m.low, m.high]), where).toEqual([[MSG.RESYNCING, sender - 1, 7n, 9n]]);
        expect(receiver.lost, where).toBe(0);
        expect(nodes[victim - 1]!.received.length, where).toBeLessThanOrEqual(1);
        await survivorsCarryOn(sim, nodes, live, where);
      });
      expect(cases, `sender ${sender}: kill points before the broadcast ended`).toBeGreaterThan(2);
    }
  });

  it('the sender killed mid-broadcast (at every delivery round; master or not): recovery purges its token/message/ack locks; each receiver processes the message at most once (or finds it lost) and the survivors carry on', async () => {
    let lost = 0;
    let processed = 0;
    for (const sender of [1, 2]) {
      const cases = await sweep(sender, sender, async ({ sim, nodes, live }, where) => {
        for (const id of live) {
          const n = nodes[id - 1]!;
          // Processed (the message had reached it), lost with the sender (the `message` LVB flagged
          // VALNOTVALID by recovery: never processed), or never seen; at most once.
          expect(n.received.length + n.lost, where).toBeLessThanOrEqual(1);
          for (const m of n.received) expect([m.type, m.slot, m.low, m.high], where).toEqual([MSG.RESYNCING, sender - 1, 7n, 9n]);
          lost += n.lost;
          processed += n.received.length;
        }
        await survivorsCarryOn(sim, nodes, live, where);
      });
      expect(cases, `sender ${sender}: kill points before the broadcast ended`).toBeGreaterThan(2);
    }
    // The sweep covers both outcomes: a message already processed and one lost with its sender.
    expect(processed).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
  });

  it("the DLM's recover_slot drives the bitmap recovery: a failed node's dirty range is resynced by exactly one survivor, its suspend entry dropped everywhere, with no call from the test", async () => {
    const bitmaps = new SharedBitmaps();
    const recovered: Array<[number, number, bigint]> = [];
    const { sim, nodes } = await array(3, { recovered, bitmaps });
    await settled(sim, nodes[2]!.resyncing(4096n, 8192n));
    for (const id of [1, 2]) expect(nodes[id - 1]!.suspended.get(2)).toEqual({ low: 4096n, high: 8192n });
    recovered.length = 0;
    kill(sim, nodes, 3);
    recover(nodes, [1, 2]);
    for (const id of [1, 2]) expect(nodes[id - 1]!.suspendReadBalancing, 'recover_prep .. recover_done').toBe(true);
    await sim.settle();
    await settled(sim, Promise.all([nodes[0]!.recoveriesDone(), nodes[1]!.recoveriesDone()]));
    // Both survivors were told (recover_slot, DLM slot 3 = md slot 2) and recovered it; one found the range.
    for (const id of [1, 2]) {
      const n = nodes[id - 1]!;
      expect(n.slotRecoveries.map((r) => r.mdSlot)).toEqual([2]);
      expect(n.suspended.has(2)).toBe(false);
      expect(n.suspendReadBalancing).toBe(false);
      expect(n.errors).toEqual([]);
      expect(n.ls.slots.map((s) => [s.nodeid, s.slot])).toEqual([
        [1, 1],
        [2, 2],
      ]);
    }
    expect(nodes.slice(0, 2).flatMap((n) => n.slotRecoveries.filter((r) => r.high > 0n))).toEqual([{ mdSlot: 2, low: 4096n, high: 8192n }]);
    expect(recovered.map(([, slot, high]) => [slot, high])).toEqual([[2, 8192n]]);
    expect(bitmaps.read(2)).toEqual({ low: 0n, high: 0n });
    // The survivors carry on.
    await settled(sim, nodes[1]!.broadcast(MSG.METADATA_UPDATED));
    expect(nodes[0]!.received.at(-1)).toMatchObject({ type: MSG.METADATA_UPDATED, slot: 1 });
  });

  it("a node whose lockspace has no slot yet joins the array once recover_done gives it one (md-cluster's join waits for it)", async () => {
    const sim = new DlmSim({ nodes: [1, 2] });
    const a = await sim.node(1).join('md-late', { lvblen: MD_LVBLEN, members: [1, 2] });
    const b = await sim.node(2).join('md-late', { lvblen: MD_LVBLEN, members: [1, 2] });
    b.raw.fence(); // node 2 restarted: no slot until it is recovered back in
    const late = new MdNode(b, { slots: 2 });
    expect(late.slot).toBe(0);
    let joined = false;
    const p = late.join().then(() => (joined = true));
    await sim.settle();
    expect(joined).toBe(false);
    for (const ls of [a, b]) ls.raw.stop();
    for (const ls of [a, b]) ls.raw.start([1, 2], { departed: [2] });
    await settled(sim, p);
    expect(late.slot).toBe(2);
    expect(late.modes()).toMatchObject({ bitmap0001: 'PW', ack: 'CR' });
  });

  it("recovery of a failed node's bitmap slot (recover_slot): a survivor takes its bitmap PW once recovery purged the dead node's, resyncs its range; the other finds it clean; a later joiner finds the slot free", async () => {
    // 4 DLM members, 4 md slots; nodes 1-3 are in the array, node 4 joins it later.
    const bitmaps = new SharedBitmaps();
    const recovered: Array<[number, number, bigint]> = [];
    const { sim, nodes } = await array(4, { slots: 4, join: 3, recovered, bitmaps });
    await settled(sim, nodes[2]!.resyncing(1000n, 2000n));
    for (const id of [1, 2]) expect(nodes[id - 1]!.suspended.get(2)).toEqual({ low: 1000n, high: 2000n });
    expect(bitmaps.read(2)).toEqual({ low: 1000n, high: 2000n });
    recovered.length = 0;

    kill(sim, nodes, 3);
    // Before recovery the dead node's PW on bitmap0002 stands: node 1's recover_slot waits.
    let first: { low: bigint; high: bigint } | undefined;
    const p1 = nodes[0]!.recoverSlot(2).then((r) => (first = r));
    await sim.settle();
    expect(first).toBeUndefined();
    expect(recovered).toEqual([]);

    const live = [1, 2, 4];
    recover(nodes, live);
    const p2 = nodes[1]!.recoverSlot(2);
    const [r1, r2] = await settled(sim, Promise.all([p1, p2]));
    // Exactly one of them took the dirty range over and resynced it; the other found it clean.
    expect([r1, r2].filter((r) => r.high > 0n)).toEqual([{ low: 1000n, high: 2000n }]);
    expect(recovered.map(([, slot, high]) => [slot, high])).toEqual([[2, 2000n]]);
    expect(bitmaps.read(2)).toEqual({ low: 0n, high: 0n });
    for (const id of [1, 2]) {
      expect(nodes[id - 1]!.suspended.has(2)).toBe(false);
      expect(nodes[id - 1]!.errors).toEqual([]);
      expect(nodes[id - 1]!.modes()).toMatchObject({ token: 'NL', ack: 'CR', [bitmapName(id - 1)]: 'PW' });
    }
    // Node 4 joins the array: slots 0 and 1 are alive, the dead node's slot 2 is free (granted, clean).
    const probes = await settled(sim, nodes[3]!.join());
    expect(probes.map((p) => [p.mdSlot, p.state, p.high])).toEqual([
      [0, 'alive', 0n],
      [1, 'alive', 0n],
      [2, 'recovered', 0n],
    ]);
    const seen = nodes[1]!.received.length;
    await settled(sim, nodes[0]!.broadcast(MSG.METADATA_UPDATED));
    expect(nodes[1]!.received.slice(seen).map((m) => [m.type, m.slot])).toEqual([[MSG.METADATA_UPDATED, 0]]);
    expect(nodes[3]!.received.map((m) => [m.type, m.slot])).toEqual([[MSG.METADATA_UPDATED, 0]]);
  });
});
