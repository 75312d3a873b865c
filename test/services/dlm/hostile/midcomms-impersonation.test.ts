/**
 * The gap the views transport closed, closed in midcomms too (and so for the
 * DLM's lock and recovery messages): a channel a peer opened is read only
 * once the node its HELLO names has proven it opened it
 * (src/services/midcomms/channel-verifier.ts, docs/midcomms.md
 * "Authenticated channels"). Before, an attacker router attached to router 0
 * that opened a channel on router 0's midcomms with a HELLO claiming router
 * 1 had its sequenced DLM message delivered to the DLM as node 1's (the DLM's
 * h_nodeid check passes: the attacker writes node 1's id), and its new
 * session id reset router 0's live session with router 1. Here the attack is
 * performed against a live session and refused: counted, the attacker's
 * channel closed, nothing delivered, the session not reset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MidcommsEndpoint } from '../../../../src/services/dlm/index.ts';
import { DLM_CMD, DLM_VERSION, encodeDlmMessage, encodeHello, encodeOpts, midcomms, MIDCOMMS_FRAME_CMD, MIDCOMMS_SESSION_CMD, MIDCOMMS_SIZE, nodeidOf, type Midcomms } from '../../../../src/services/midcomms/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, until, type Mesh } from '../../../helpers/mesh.ts';
import { virtualTime } from '../../../helpers/virtual-time.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

describe('midcomms: a HELLO names the session only once its sender proved it opened the channel', () => {
  it('an attacker router opening midcomms channels with HELLOs claiming router 1 gets no DLM message delivered as node 1 and does not reset the real session', async () => {
    const clock = new ManualClock();
    const { run, runUntil } = virtualTime(clock, 5000);
    mesh = createMesh(3, [
      [0, 1],
      [0, 2],
    ]);
    const [r0, r1, attacker] = mesh.routers as [typeof mesh.routers[0], typeof mesh.routers[0], typeof mesh.routers[0]];
    const mcs: Midcomms[] = [r0, r1].map((r) => midcomms(r, { clock }));
    await until(() => attacker.members('midcomms').length === 2 && r0.members('midcomms').length === 2 && r1.members('midcomms').length === 2, 'midcomms spans everywhere');
    const endpoint = new MidcommsEndpoint(r0, mcs[0]!);
    const endpoint1 = new MidcommsEndpoint(r1, mcs[1]!);
    cleanup.push(() => {
      endpoint.close();
      endpoint1.close();
      mcs.forEach((m) => m.destroy());
    });
    const seen: { from: number; bytes: Uint8Array }[] = [];
    endpoint.setReceiver((from, bytes) => seen.push({ from, bytes: bytes.slice() }));
    const id0 = nodeidOf(r0.nodeId);
    const id1 = nodeidOf(r1.nodeId);
    const marked = (mark: number): Uint8Array => encodeDlmMessage(DLM_CMD.MSG, 0x1234, new Uint8Array(MIDCOMMS_SIZE.MIN_MSG - MIDCOMMS_SIZE.HEADER).fill(mark), id1, DLM_VERSION.V3_2);
    const from1 = (mark: number): number => seen.filter((m) => m.from === id1 && m.bytes[MIDCOMMS_SIZE.HEADER] === mark).length;

    // The real session: router 1 sends node 0 a DLM message.
    endpoint1.send(id0, marked(0x11));
    await runUntil(() => from1(0x11) === 1, "router 1's message delivered");
    const session = mcs[0]!.sessions().get(r1.nodeId)!;
    const before = session.stats();

    // The attack, twice: without a channel token (as before this fix), and with an invented one.
    const inner = marked(0xa7);
    const closed: boolean[] = [];
    for (const [k, token] of [undefined, Uint8Array.from([7, 7, 7, 7, 7, 7, 7, 7])].entries()) {
      const hello = encodeHello(DLM_VERSION.V3_2, id1, { inc: 0x5eed, gen: 1 + k }, null, 0, r1.nodeId, token);
      const tx = attacker.open('midcomms', MIDCOMMS_SESSION_CMD, { aux: hello, node: r0.nodeId });
      tx.rx$.subscribe({ complete: () => (closed[k] = true), error: () => (closed[k] = true) });
      // Sequence 0: what a session that took the new session id would expect next.
      if (tx.canSend) tx.send(MIDCOMMS_FRAME_CMD, { aux: encodeOpts(DLM_VERSION.V3_2, id1, 0, inner) });
    }
    await run(300);

    expect(from1(0xa7), 'a message the attacker wrote was delivered to the DLM as node 1').toBe(0);
    expect(closed, "the attacker's channels closed").toEqual([true, true]);
    const v = mcs[0]!.verification();
    expect(v.refused.badHello).toBe(1); // no token: nothing to prove
    expect(v.refused.unverifiedFrame + v.refused.denied).toBe(1); // its forged message came before any proof (or router 1 denied the token first)
    expect(v.pending).toBe(0);
    const after = session.stats();
    expect({ remote: after.remote, local: after.local, resets: after.resets, peerResets: after.peerResets }).toEqual({ remote: before.remote, local: before.local, resets: 0, peerResets: 0 });

    // The real session carries on.
    endpoint1.send(id0, marked(0x12));
    await runUntil(() => from1(0x12) === 1, "router 1's next message delivered");
    expect(seen.every((m) => m.from === id1 && m.bytes[MIDCOMMS_SIZE.HEADER] !== 0xa7)).toBe(true);
  });
});
