/** Peer restart mid-stream, fencing, and a 3.1 peer (§5.10, §5.12 item 8). */
import { describe, expect, it } from 'vitest';
import { DLM_VERSION, MC_STATE } from '../../../src/services/midcomms/constants.ts';
import { msg, msgNumber, twoNodes } from './fake-net.ts';

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('peer restart', () => {
  it('a peer that restarts mid-stream gets a new session from seq 0; nothing is lost silently or delivered twice', async () => {
    const { net, B, a, gotB } = twoNodes({ a: { windowMessages: 2000 } });
    const outcome = new Map<number, string>();
    const track = (i: number): void => {
      a.sendAcked(msg(i)).then(
        () => outcome.set(i, 'acked'),
        (e) => outcome.set(i, e.code),
      );
    };
    for (let i = 0; i < 300; i++) track(i);
    // b gets part of the stream, then restarts (its sessions and channels are gone)
    const link = net.links[0]!;
    for (let k = 0; k < 120; k++) net.deliverOne(link, true);
    net.settle(20);
    const before = [...gotB];
    expect(before.length).toBeGreaterThan(0);
    B.restart(0xb2);
    const b2 = B.session('a');
    const gotB2: number[] = [];
    b2.messages$.subscribe((m) => gotB2.push(msgNumber(m)));
    for (let i = 300; i < 400; i++) track(i);
    net.settle(5000);
    await flush();
    // The old b got a prefix, exactly once.
    expect(before).toEqual([...Array(before.length).keys()]);
    // Every message was acknowledged or reported lost with PEER_RESET; none is left pending.
    expect(outcome.size).toBe(400);
    const reset = [...outcome].filter(([, v]) => v === 'PEER_RESET').map(([k]) => k);
    const acked = [...outcome].filter(([, v]) => v === 'acked').map(([k]) => k);
    expect(reset.length + acked.length).toBe(400);
    // What the new b got is exactly the messages acknowledged after the restart, in order, none of them seen before.
    const ackedAfter = acked.filter((i) => !before.includes(i));
    expect(gotB2).toEqual(ackedAfter);
    expect(gotB2.some((i) => before.includes(i))).toBe(false);
    expect(reset.length).toBeGreaterThan(0);
    expect(a.stats().peerResets).toBe(1);
    expect(b2.stats().seqNext).toBe(gotB2.length);
    expect(a.stats().queueMessages).toBe(0);
  });
});

describe('fencing', () => {
  it('close() fences: CLOSED at once, pending fails with FENCED, the session is forgotten; the peer resets when we come back', async () => {
    const { net, A, a, b, gotB } = twoNodes();
    await a.send(msg(1));
    net.settle();
    b.pauseReading();
    const pending = a.sendAcked(msg(2));
    net.settle();
    a.close();
    await expect(pending).rejects.toMatchObject({ code: 'FENCED' });
    expect(a.state).toBe(MC_STATE.CLOSED);
    expect(A.sessions.has('b')).toBe(false);
    await expect(a.send(msg(3))).rejects.toMatchObject({ code: 'CLOSED' });
    // b still holds message 2 for its reader: it was received once and is delivered.
    b.resumeReading();
    expect(gotB).toEqual([1, 2]);
    // a new session from a: b sees a new session id, resets, and takes seq 0 again
    const a2 = A.session('b');
    await a2.send(msg(10));
    net.settle();
    expect(gotB).toEqual([1, 2, 10]);
    expect(b.stats().peerResets).toBe(1);
    expect(b.stats().seqNext).toBe(1);
  });
});

describe('a 3.1 peer', () => {
  it('gets bare, unsequenced messages, no ACK and no FIN; both generations talk', async () => {
    const { net, a, b, gotA, gotB } = twoNodes({ b: { version: DLM_VERSION.V3_1 } });
    for (let i = 0; i < 5; i++) await a.send(msg(i));
    for (let i = 0; i < 3; i++) await b.send(msg(100 + i));
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3, 4]);
    expect(gotA).toEqual([100, 101, 102]);
    expect(a.stats().version).toBe(DLM_VERSION.V3_1);
    expect(b.stats().version).toBe(DLM_VERSION.V3_1);
    expect(a.stats().acksSent + b.stats().acksSent).toBe(0);
    expect(a.stats().queueMessages).toBe(0);
    await expect(a.sendAcked(msg(9))).rejects.toMatchObject({ code: 'UNSEQUENCED' });
    await expect(a.shutdown()).resolves.toBeUndefined();
    expect(a.stats().stopTx).toBe(false);
  });

  it('messages queued before the version is known go out bare once it is', async () => {
    const { net, a, gotB } = twoNodes({ b: { version: DLM_VERSION.V3_1 } });
    const acked = a.sendAcked(msg(7));
    await a.send(msg(8));
    net.settle();
    await expect(acked).rejects.toMatchObject({ code: 'UNSEQUENCED' });
    expect(gotB).toEqual([7, 8]);
  });

  it('3.1: no retransmission, so a cut loses what was in flight (Linux behaviour)', async () => {
    const { net, a, gotB } = twoNodes({ b: { version: DLM_VERSION.V3_1 } });
    await a.send(msg(1));
    net.settle();
    await a.send(msg(2));
    net.cut(net.links[0]!);
    await a.send(msg(3));
    net.settle();
    expect(gotB).toEqual([1, 3]);
  });

  it('a 3.2 frame from a peer recorded as 3.1 is dropped (version mismatch)', async () => {
    const { net, a, b } = twoNodes({ b: { version: DLM_VERSION.V3_1 } });
    await a.send(msg(1));
    net.settle();
    const link = net.links[0]!;
    const sink = link.rev.sink!; // a's side of the channel
    const bad = msg(5);
    bad[8] = 2; // nodeid 2
    sink.data(bad); // a 3.2-stamped bare MSG from b
    expect(a.stats().drops.versionMismatch).toBe(1);
    expect(b.state).toBe(MC_STATE.CLOSED);
  });
});
