/** The FIN close driven through two live sessions (§5.8), with virtual time. */
import { describe, expect, it } from 'vitest';
import { MC_STATE, stateName } from '../../../src/services/midcomms/constants.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { msg, twoNodes } from './fake-net.ts';

function trace(s: Session): string[] {
  const states: string[] = [];
  s.state$.subscribe((st) => states.push(stateName(st)));
  return states;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('FIN close between two sessions', () => {
  it('active close, passive peer without users: FIN_WAIT1 -> FIN_WAIT2 -> CLOSED and ESTABLISHED -> LAST_ACK -> CLOSED', async () => {
    const { net, a, b, gotB } = twoNodes();
    await a.send(msg(1));
    net.settle();
    const ta = trace(a);
    const tb = trace(b);
    const done = a.shutdown();
    await expect(a.send(msg(2))).rejects.toMatchObject({ code: 'STOP_TX' });
    net.settle();
    await done;
    expect(ta).toEqual(['ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSED']);
    expect(tb).toEqual(['ESTABLISHED', 'LAST_ACK', 'CLOSED']);
    expect(gotB).toEqual([1]);
  });

  it('passive peer with users: CLOSE_WAIT, half-close sending, then LAST_ACK on member removal', async () => {
    const { net, a, b, gotA } = twoNodes();
    b.addMember();
    a.addMember();
    await a.send(msg(1));
    net.settle();
    const tb = trace(b);
    const ta = trace(a);
    const done = a.shutdown();
    net.settle();
    expect(b.state).toBe(MC_STATE.CLOSE_WAIT);
    expect(a.state).toBe(MC_STATE.FIN_WAIT2);
    // half-close: b may still send, a still delivers
    await b.send(msg(50));
    net.settle();
    expect(gotA).toEqual([50]);
    b.removeMember();
    net.settle();
    await done;
    expect(tb).toEqual(['ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSED']);
    expect(ta).toEqual(['ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSED']);
  });

  it('both sides close at once: FIN_WAIT1 -> CLOSING -> CLOSED on both', async () => {
    const { net, a, b } = twoNodes();
    await a.send(msg(1));
    await b.send(msg(2));
    net.settle();
    const ta = trace(a);
    const tb = trace(b);
    const da = a.shutdown();
    const db = b.shutdown();
    // Each FIN crosses the other before any ACK: deliver both FINs first.
    const link = net.links[0]!;
    net.deliverOne(link, true);
    net.deliverOne(link, false);
    expect(a.state).toBe(MC_STATE.CLOSING);
    expect(b.state).toBe(MC_STATE.CLOSING);
    net.settle();
    await Promise.all([da, db]);
    expect(ta).toEqual(['ESTABLISHED', 'FIN_WAIT1', 'CLOSING', 'CLOSED']);
    expect(tb).toEqual(['ESTABLISHED', 'FIN_WAIT1', 'CLOSING', 'CLOSED']);
  });

  it('a FIN lost in a cut is sent again on the next channel', async () => {
    const { net, a, b } = twoNodes();
    await a.send(msg(1));
    net.settle();
    const done = a.shutdown();
    expect(net.links[0]!.pending()).toBeGreaterThan(0);
    net.cut(net.links[0]!);
    net.settle();
    await done;
    expect(a.state).toBe(MC_STATE.CLOSED);
    expect(b.state).toBe(MC_STATE.CLOSED);
    expect(a.stats().retransmits).toBeGreaterThanOrEqual(1);
  });

  it('an ACK of the passive FIN lost in a cut: the stale LAST_ACK side learns of the new session and resets', async () => {
    const { net, a, b } = twoNodes();
    await a.send(msg(1));
    net.settle();
    const done = a.shutdown();
    const link = net.links[0]!;
    net.deliverOne(link, true); // a's FIN reaches b: b sends ACK + its FIN
    while (a.state !== MC_STATE.CLOSED) expect(net.deliverOne(link, false)).toBe(true); // ... they reach a: a ACKs, resets, CLOSED
    await done;
    expect(a.state).toBe(MC_STATE.CLOSED);
    expect(b.state).toBe(MC_STATE.LAST_ACK);
    net.cut(link); // a's last ACK is lost
    net.settle();
    expect(b.state).toBe(MC_STATE.CLOSED);
  });

  it('the shutdown wait is bounded: no answer in 5 s -> SHUTDOWN_TIMEOUT, CLOSED', async () => {
    const { net, a } = twoNodes();
    await a.send(msg(1));
    net.settle();
    net.partitioned.add('a|b');
    net.cut(net.links[0]!);
    let outcome: unknown = 'pending';
    a.shutdown().then(
      () => (outcome = 'resolved'),
      (e) => (outcome = e),
    );
    net.clock.advance(4999);
    await flush();
    expect(outcome).toBe('pending');
    net.clock.advance(1);
    await flush();
    expect(outcome).toMatchObject({ code: 'SHUTDOWN_TIMEOUT' });
    expect(a.state).toBe(MC_STATE.CLOSED);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('a member added in a stuck closing state resets to ESTABLISHED (§5.9)', async () => {
    const { net, a } = twoNodes();
    await a.send(msg(1));
    net.settle();
    net.partitioned.add('a|b');
    net.cut(net.links[0]!);
    a.shutdown().catch(() => {});
    expect(a.state).toBe(MC_STATE.FIN_WAIT1);
    a.addMember();
    expect(a.state).toBe(MC_STATE.ESTABLISHED);
    expect(a.stats().stopTx).toBe(false);
    await expect(a.send(msg(2))).resolves.toBeUndefined();
  });

  it('after a completed close the next session starts from sequence 0', async () => {
    const { net, a, b, gotB } = twoNodes();
    for (let i = 0; i < 5; i++) await a.send(msg(i));
    net.settle();
    const done = a.shutdown();
    net.settle();
    await done;
    expect(a.stats().seqSend).toBe(0);
    await a.send(msg(100));
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3, 4, 100]);
    expect(b.stats().seqNext).toBe(1);
    expect(b.state).toBe(MC_STATE.ESTABLISHED);
  });
});
