/**
 * Attacks on the views driver's transport over real Routers (memory links,
 * ManualClock): three voters fully connected, and an attacker router 3, a
 * non-voter attached to voter 2, that opens what it likes on
 * `dlm-views:app`. A voter takes voter X's messages only from the channel it
 * opened itself on X's router (driver-channels.ts), so:
 * - a one-shot message naming a voter as `from` (with a term at the cap) is
 *   refused as unknown-sender;
 * - a channel whose HELLO claims to be a voter gets copies of that voter's
 *   messages, but what the attacker sends on it is ignored;
 * - messages captured from such a channel and forwarded verbatim (relay)
 *   are refused the same ways;
 * - a router whose uuid hashes to a voter's DLM node id (an FNV-1a
 *   collision) makes that id ambiguous: nobody believes either router, the
 *   attacker's messages are never taken, the other two carry on.
 * After each attack the terms are unchanged and elections still work.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startMeshViews, viewsService, VIEWS_CHANNEL_CMD, VIEWS_CMD, type MeshViews } from '../../../../src/services/dlm/views/driver-mesh.ts';
import { VIEWS_MAX_TERM } from '../../../../src/services/dlm/views/driver-codec.ts';
import { encodeViewsMessage, MemoryViewsStore, type ViewsTarget } from '../../../../src/services/dlm/views/index.ts';
import type { Message } from '../../../../src/services/dlm/views/types.ts';
import { nodeidOf } from '../../../../src/services/midcomms/index.ts';
import type { Router, Transaction } from '../../../../src/span/index.ts';
import { memoryPair } from '../../../../src/transport/memory.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, nodeIdOf, until, type Mesh } from '../../../helpers/mesh.ts';
import { virtualTime } from '../../../helpers/virtual-time.ts';

const clock = new ManualClock();
const { run, runUntil } = virtualTime(clock, 20_000);
const enc = new TextEncoder();
const dec = new TextDecoder();

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

/** A stand-in lockspace (the transport is under test, not the lockspace). */
const target: ViewsTarget = { stop: () => {}, start: () => {}, setGate: () => {}, fence: () => {} };

/**
 * A uuid whose FNV-1a hash (nodeidOf) equals nodeidOf(nodeIdOf(1)): found by
 * brute force over the last 12 hex digits (a 32-bit hash: seconds to minutes
 * in C). The test checks the collision before relying on it.
 */
const COLLIDES_WITH_1 = '00000000-0000-4000-8000-0004fe0c28cf';

interface Cluster {
  mesh: Mesh;
  views: MeshViews[];
  voters: number[];
  attacker: Router;
}

/** Voters 0, 1, 2 (a triangle) and the attacker, router 3, attached to 2; all elected and granting. */
async function cluster(attackerNodeId?: string): Promise<Cluster> {
  mesh = createMesh(4, [[0, 1], [1, 2], [0, 2], [2, 3]], attackerNodeId ? { perRouter: (i) => (i === 3 ? { nodeId: attackerNodeId } : {}) } : {});
  const voters = [0, 1, 2].map((i) => nodeidOf(mesh!.routers[i]!.nodeId));
  const views = [0, 1, 2].map((i) => startMeshViews(mesh!.routers[i]!, 'app', 'dlm:app', voters[i]!, { voters: [...voters].sort((a, b) => a - b), store: new MemoryViewsStore(), clock }, target));
  cleanup.push(() => views.forEach((v) => v.close()));
  await until(() => mesh!.routers.every((r) => r.members(viewsService('app')).length === 3), 'views service everywhere');
  await runUntil(() => healthy(views), 'a leader, every voter granting');
  return { mesh, views, voters, attacker: mesh.routers[3]! };
}

function healthy(views: MeshViews[]): boolean {
  return views.some((v) => v.driver.stats.role === 'leader') && views.every((v) => v.driver.granting);
}

function voteReq(from: number, to: number, term: number): Message {
  return { type: 'vote-req', from, to, term, lastLogIndex: 0, lastLogTerm: 0 };
}

/** HELLO of a channel, as driver-channels.ts writes it: "DVC1", subscriber, voter asked (u32 LE). */
function hello(from: number, to: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x31435644, true);
  v.setUint32(4, from, true);
  v.setUint32(8, to, true);
  return b;
}

/** Cut the leader off; the other two must elect one of them and grant again. */
async function electionsStillWork(c: Cluster): Promise<void> {
  const li = c.views.findIndex((v) => v.driver.stats.role === 'leader');
  expect(li).toBeGreaterThanOrEqual(0);
  const term = c.views[li]!.driver.stats.term;
  for (const l of c.mesh.links) if ((l.a === li || l.b === li) && l.up) l.cut();
  const rest = c.views.filter((_, i) => i !== li);
  await runUntil(() => rest.some((v) => v.driver.stats.role === 'leader' && v.driver.stats.term > term) && rest.every((v) => v.driver.granting), 'the other two elect a leader and grant');
  for (const v of rest) expect(v.driver.stats.term).toBeLessThan(term + 100);
}

describe('views transport attacks over real routers (authenticated senders)', () => {
  it('a one-shot forged message at the term cap is refused (unknown-sender); a channel claiming a voter gets copies, but what it sends is ignored, and forwarding the copies verbatim is refused; elections still work', async () => {
    const c = await cluster();
    // The attacker impersonates the leader L toward a follower F (which sends L its append replies), and relays to L.
    const li = c.views.findIndex((v) => v.driver.stats.role === 'leader');
    const fi = [0, 1, 2].find((i) => i !== li)!;
    const [vF, vL] = [c.views[fi]!, c.views[li]!];
    const [idF, idL] = [c.voters[fi]!, c.voters[li]!];
    const [nodeF, nodeL] = [c.mesh.routers[fi]!.nodeId, c.mesh.routers[li]!.nodeId];
    const terms = c.views.map((v) => v.driver.stats.term);

    // 1. One-shot messages claiming the leader, at the term cap, to F.
    for (let i = 0; i < 5; i++) {
      const tx = c.attacker.open(viewsService('app'), VIEWS_CMD, { aux: encodeViewsMessage(voteReq(idL, idF, VIEWS_MAX_TERM)), delete: true, node: nodeF });
      tx.rx$.subscribe({ error: () => {} });
    }
    // 2. A channel whose HELLO claims the leader, opened on F: F sends it what it sends the leader.
    const copies: Uint8Array[] = [];
    const ch = c.attacker.open(viewsService('app'), VIEWS_CHANNEL_CMD, { aux: hello(idL, idF), node: nodeF });
    ch.rx$.subscribe({ next: (m) => void (m.aux.length > 0 && copies.push(m.aux.slice())), error: () => {} });
    await run(300);
    expect(copies.length).toBeGreaterThan(0);
    expect(JSON.parse(dec.decode(copies[0]!))).toMatchObject({ type: 'append-rep', from: idF, to: idL });
    // What the attacker sends on it is ignored (a channel carries messages one way).
    for (let i = 0; i < 5; i++) ch.send(VIEWS_CMD, { aux: encodeViewsMessage(voteReq(idL, idF, VIEWS_MAX_TERM)) });
    // 3. Relay: F's captured genuine replies, forwarded verbatim to the leader, one-shot and on a channel whose
    // HELLO claims F.
    const relayed = copies.slice(0, 5);
    for (const aux of relayed) {
      const tx = c.attacker.open(viewsService('app'), VIEWS_CMD, { aux, delete: true, node: nodeL });
      tx.rx$.subscribe({ error: () => {} });
    }
    const ch1 = c.attacker.open(viewsService('app'), VIEWS_CHANNEL_CMD, { aux: hello(idF, idL), node: nodeL });
    ch1.rx$.subscribe({ error: () => {} });
    for (const aux of relayed) ch1.send(VIEWS_CMD, { aux });
    await run(300);

    expect(vF.driver.stats.dropReasons['unknown-sender']).toBe(5);
    expect(vF.channels.refused.ignored).toBe(5);
    expect(vL.driver.stats.dropReasons['unknown-sender']).toBe(relayed.length);
    expect(vL.channels.refused.ignored).toBe(relayed.length);
    expect(c.views.every((v) => v.driver.stats.dropReasons['forged-sender'] === 0)).toBe(true); // nothing reached a driver as someone else's
    expect(c.views.map((v) => v.driver.stats.term)).toEqual(terms);
    expect(healthy(c.views)).toBe(true);
    // The genuine traffic runs on channels each voter opened on the others.
    for (const v of c.views) expect(v.channels.opened).toBeGreaterThanOrEqual(2);
    await electionsStillWork(c);
  });

  it('garbage HELLOs (bad bytes, naming a non-voter, naming another node as the one asked) are refused and counted', async () => {
    const c = await cluster();
    const [v0] = c.views;
    const [id0, id1] = c.voters;
    const node0 = c.mesh.routers[0]!.nodeId;
    const bad = [new Uint8Array([1, 2, 3]), hello(12345, id0!), hello(id1!, id1!), hello(id0!, id0!), enc.encode('{"hello":1}')];
    const txs: Transaction[] = [];
    for (const aux of bad) {
      const tx = c.attacker.open(viewsService('app'), VIEWS_CHANNEL_CMD, { aux, node: node0 });
      tx.rx$.subscribe({ error: () => {} });
      txs.push(tx);
    }
    await run(100);
    expect(v0!.channels.refused['bad-hello']).toBe(bad.length);
    // Refused channels are closed by voter 0, not kept.
    expect(txs.every((tx) => tx.rxDeleted)).toBe(true);
    expect(healthy(c.views)).toBe(true);
  });

  it('channels claiming one voter are bounded (newest kept): a flood costs that voter its channel for a while, never memory; the views recover', async () => {
    const c = await cluster();
    const [v0] = c.views;
    const [id0, id1] = c.voters;
    const node0 = c.mesh.routers[0]!.nodeId;
    for (let i = 0; i < 50; i++) {
      const tx = c.attacker.open(viewsService('app'), VIEWS_CHANNEL_CMD, { aux: hello(id1!, id0!), node: node0 });
      tx.rx$.subscribe({ error: () => {} });
    }
    await run(50);
    expect(v0!.channels.refused.evicted).toBeGreaterThanOrEqual(49);
    expect(v0!.channels.accepted - v0!.channels.refused.evicted).toBeLessThanOrEqual(2 * 2 + 1); // at most 2 per subscriber voter, plus one in flight
    await runUntil(() => healthy(c.views), 'healthy again after the flood');
  });

  it('a router whose uuid hashes to voter 1 (FNV-1a collision) serving dlm-views: voter 1 is believed of neither, the forgeries never land, the other two grant; once it leaves, voter 1 is back', async () => {
    expect(nodeidOf(COLLIDES_WITH_1)).toBe(nodeidOf(nodeIdOf(1)));
    const c = await cluster();
    const id1 = c.voters[1]!;
    const terms = c.views.map((v) => v.driver.stats.term);
    // The impostor serves the views service and sends a forged vote request at the cap down every channel opened on it.
    const impostorMesh = createMesh(1, [], { nodeId: COLLIDES_WITH_1, name: 'impostor' });
    const impostor = impostorMesh.routers[0]!;
    cleanup.push(() => void impostorMesh.close());
    let channelsOpenedOnImpostor = 0;
    impostor.serve(viewsService('app'), (tx) => {
      let first = true;
      tx.rx$.subscribe({
        next: (m) => {
          if (!first || m.aux.length !== 12) return;
          first = false;
          channelsOpenedOnImpostor++;
          const to = new DataView(m.aux.buffer, m.aux.byteOffset).getUint32(4, true);
          if (tx.canSend) tx.send(VIEWS_CMD, { aux: encodeViewsMessage(voteReq(id1, to, VIEWS_MAX_TERM)) });
        },
        error: () => {},
      });
    });
    // Attach it to voter 2.
    const [sa, sb] = memoryPair();
    const la = c.mesh.routers[2]!.attach(sa);
    impostor.attach(sb);
    await until(() => c.mesh.routers[0]!.members(viewsService('app')).length === 4, 'the impostor is seen');
    await run(3000);
    // Nobody took a message at the cap; voters 0 and 2 grant (voter 1, unreachable for the views, loses its lease).
    for (const v of c.views) expect(v.driver.stats.term).toBeLessThan(VIEWS_MAX_TERM);
    expect(c.views.map((v) => v.driver.stats.term).every((t, i) => t < terms[i]! + 100)).toBe(true);
    await runUntil(() => c.views[0]!.driver.granting && c.views[2]!.driver.granting, 'voters 0 and 2 grant');
    expect(channelsOpenedOnImpostor).toBe(0); // an ambiguous id is never dialled
    // The impostor leaves: voter 1 is believed again and everyone grants.
    la.iocom.destroy();
    await runUntil(() => healthy(c.views), 'all three granting again');
  });
});
