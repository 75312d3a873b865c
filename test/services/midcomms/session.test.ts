import { describe, expect, it } from 'vitest';
import { MC_STATE } from '../../../src/services/midcomms/constants.ts';
import { msg, twoNodes } from './fake-net.ts';

describe('midcomms session over fake channels', () => {
  it('delivers in order both ways and empties both queues', async () => {
    const { net, a, b, gotA, gotB } = twoNodes();
    for (let i = 0; i < 100; i++) {
      await a.send(msg(i));
      await b.send(msg(1000 + i));
    }
    net.settle();
    expect(gotB).toEqual([...Array(100).keys()]);
    expect(gotA).toEqual([...Array(100).keys()].map((i) => 1000 + i));
    expect(a.stats().queueMessages).toBe(0);
    expect(b.stats().queueMessages).toBe(0);
    expect(a.state).toBe(MC_STATE.ESTABLISHED);
    expect(b.state).toBe(MC_STATE.ESTABLISHED);
    expect(a.stats().channels + b.stats().channels).toBeLessThanOrEqual(2);
  });

  it('sendAcked resolves when the ACK arrives (ACK timer on a quiet pair)', async () => {
    const { net, a } = twoNodes();
    let acked = false;
    const p = a.sendAcked(msg(1)).then(() => (acked = true));
    net.deliverAll();
    await Promise.resolve();
    expect(acked).toBe(false);
    net.clock.advance(49);
    net.deliverAll();
    await Promise.resolve();
    expect(acked).toBe(false);
    net.clock.advance(1);
    net.deliverAll();
    await p;
    expect(acked).toBe(true);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('retransmits every unacknowledged message in order after a cut', async () => {
    const { net, a, b, gotB } = twoNodes();
    for (let i = 0; i < 10; i++) await a.send(msg(i));
    // deliver the HELLO and the first 3 frames only
    const link = net.links[0]!;
    for (let i = 0; i < 4; i++) net.deliverOne(link, true);
    net.cut(link);
    net.settle();
    expect(gotB).toEqual([...Array(10).keys()]);
    expect(a.stats().retransmits).toBeGreaterThan(0);
    expect(a.stats().queueMessages).toBe(0);
    expect(b.stats().drops.duplicate + b.stats().drops.gap).toBeGreaterThanOrEqual(0);
  });

  it('an opener that awaits the answer (the router binding) writes only its HELLO until the peer answers it, then transmits', async () => {
    const { net, a, gotB } = twoNodes({ awaitsReply: true });
    for (let i = 0; i < 5; i++) await a.send(msg(i));
    const link = net.links[0]!;
    expect(link.fwd.batches.map((f) => f[14])).toEqual([0x48]); // the HELLO alone
    expect(a.stats().channels).toBe(1);
    net.clock.advance(5000); // no second channel while the first waits for its answer
    expect(net.links.length).toBe(1);
    net.deliverOne(link, true);
    const reply = link.rev.batches[0]!;
    expect([reply[14], reply[32]! & 1]).toEqual([0x48, 1]); // the acceptor's answer (REPLY)
    expect(link.fwd.batches.length).toBe(0);
    net.deliverOne(link, false);
    expect(link.fwd.batches.length).toBeGreaterThan(0); // now the messages
    net.settle();
    expect(gotB).toEqual([...Array(5).keys()]);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('both sides opening at once while awaiting answers end on one channel, the one the lower node id opened', async () => {
    const { net, A, a, b, gotA, gotB } = twoNodes({ awaitsReply: true });
    for (let i = 0; i < 20; i++) {
      await a.send(msg(i));
      await b.send(msg(100 + i));
    }
    expect(net.links.length).toBe(2);
    net.settle();
    expect(gotB).toEqual([...Array(20).keys()]);
    expect(gotA).toEqual([...Array(20).keys()].map((i) => 100 + i));
    expect(net.links.map((l) => l.from)).toEqual([A]); // a has node id 1
    expect([a.stats().channels, b.stats().channels]).toEqual([1, 1]);
  });
});
