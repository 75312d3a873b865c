/**
 * A hostile node on the mesh opens transactions on our midcomms instance and
 * sends garbage; a 3.1 node talks to a 3.2 node. The bystander session keeps
 * delivering exactly once and in order; nothing throws.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DLM_VERSION } from '../../../src/services/midcomms/constants.ts';
import { encodeAck, encodeHello, encodeOpts } from '../../../src/services/midcomms/frame-encoder.ts';
import { MIDCOMMS_FRAME_CMD, MIDCOMMS_SESSION_CMD, midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Midcomms } from '../../../src/services/midcomms/midcomms.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { createMesh, turn, until } from '../../helpers/mesh.ts';
import type { Mesh } from '../../helpers/mesh.ts';
import { msg, msgNumber } from './fake-net.ts';
import { closeMidcomms, midcommsReachable } from '../../helpers/midcomms-mesh.ts';

let mesh: Mesh | null = null;
const services: Midcomms[] = [];

afterEach(async () => {
  await closeMidcomms(services, mesh);
  mesh = null;
});


describe('midcomms over routers, hostile and mixed peers', () => {
  it('garbage from a hostile node costs only its own channels, makes no session; a bystander session is unaffected', async () => {
    // 0: us; 1: a well-behaved peer; 2: hostile (no midcomms, raw transactions)
    mesh = createMesh(3, [
      [0, 1],
      [0, 2],
    ]);
    const clock = new ManualClock();
    const m0 = midcomms(mesh.routers[0]!, { clock });
    const m1 = midcomms(mesh.routers[1]!, { clock });
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0) && midcommsReachable(mesh!, 2, 0), 'spans');
    const good = m1.session(mesh.routers[0]!.nodeId);
    const got: number[] = [];
    m0.session(mesh.routers[1]!.nodeId).messages$.subscribe((m) => got.push(msgNumber(m)));
    const hostile = mesh.routers[2]!;
    const target = { node: mesh.routers[0]!.nodeId };
    const V32 = 0x00030002;
    const token = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const attacks: Uint8Array[][] = [
      [new Uint8Array(3)], // not even a header
      [encodeAck(V32, 9, 0)], // no HELLO first
      [encodeHello(V32, 9, { inc: 1, gen: 1 }, null, 0, mesh.routers[0]!.nodeId)], // claims to be us
      [encodeHello(V32, 9, { inc: 1, gen: 1 }, null, 0, 'evil', token), new Uint8Array(64).fill(0xff)], // framing error after a HELLO
      [encodeHello(V32, 9, { inc: 1, gen: 1 }, null, 0, 'evil2', token), encodeOpts(V32, 9, 5, msg(1)), encodeAck(V32, 9, 12345)], // frames before any proof
      [encodeHello(V32, 9, { inc: 0, gen: 0 }, null, 0, 'evil3')], // a HELLO without a session id
    ];
    let n = 0;
    for (const frames of attacks) {
      const tx = hostile.open('midcomms', MIDCOMMS_SESSION_CMD, target);
      tx.rx$.subscribe({ error: () => {} });
      for (const f of frames) if (tx.canSend) tx.send(MIDCOMMS_FRAME_CMD, { aux: f });
      for (let i = 0; i < 20; i++) {
        await good.send(msg(n++));
        await turn();
      }
    }
    // and one that tries to open many sessions under invented names (HELLOs without a channel token)
    for (let k = 0; k < 50; k++) {
      const tx = hostile.open('midcomms', MIDCOMMS_SESSION_CMD, target);
      tx.rx$.subscribe({ error: () => {} });
      tx.send(MIDCOMMS_FRAME_CMD, { aux: encodeHello(V32, 9, { inc: 7, gen: k + 1 }, null, 0, `fake-${k}`) });
    }
    for (let i = 0; i < 50; i++) await good.send(msg(n++));
    for (let i = 0; i < 500 && (got.length < n || good.stats().queueMessages > 0); i++) {
      clock.advance(20);
      await turn();
    }
    expect(got).toEqual([...Array(n).keys()]);
    expect(good.stats().queueMessages).toBe(0);
    // No channel of the hostile node was ever proven to be anyone's: no session was made for it, every channel refused.
    expect([...m0.sessions().keys()]).toEqual([mesh.routers[1]!.nodeId]);
    const v = m0.verification();
    expect(v.refused).toMatchObject({ notHello: 2, badHello: 52, unverifiedFrame: 2 });
    expect(m0.refusedChannels).toBe(56);
    expect(v.pending).toBe(0);
  });

  it('a 3.1 node and a 3.2 node exchange bare messages', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const clock = new ManualClock();
    const m0 = midcomms(mesh.routers[0]!, { clock });
    const m1 = midcomms(mesh.routers[1]!, { clock, version: DLM_VERSION.V3_1 });
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans');
    const s0 = m0.session(mesh.routers[1]!.nodeId);
    const s1 = m1.session(mesh.routers[0]!.nodeId);
    const got0: number[] = [];
    const got1: number[] = [];
    s0.messages$.subscribe((m) => got0.push(msgNumber(m)));
    s1.messages$.subscribe((m) => got1.push(msgNumber(m)));
    for (let i = 0; i < 100; i++) await s0.send(msg(i));
    for (let i = 0; i < 100; i++) await s1.send(msg(500 + i));
    await until(() => got1.length === 100 && got0.length === 100, 'both ways');
    expect(got1).toEqual([...Array(100).keys()]);
    expect(got0).toEqual([...Array(100).keys()].map((i) => 500 + i));
    expect(s0.stats().version).toBe(DLM_VERSION.V3_1);
    expect(s0.stats().acksSent + s1.stats().acksSent).toBe(0);
    await expect(s0.sendAcked(msg(1))).rejects.toMatchObject({ code: 'UNSEQUENCED' });
  });
});
