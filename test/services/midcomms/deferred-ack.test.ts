/**
 * An ACK that arrives in front of a message in one batch (a transmit-threshold
 * ACK joined to its message) is applied to the send queue after that message
 * went to the reader (`Sender.deferAck`): its bookkeeping runs after the
 * reply's write. Nothing may tell the difference: a reply that finds the
 * window full applies it first, so do a rewind, a reset, our FIN and the
 * stats; an ACK alone, an implausible ACK and an ACK while our FIN is queued
 * are applied at once, as before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeAck, encodeOpts } from '../../../src/services/midcomms/frame-encoder.ts';
import { SendQueue } from '../../../src/services/midcomms/send-queue.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { msg, msgNumber, twoNodes } from './fake-net.ts';

const V32 = 0x00030002;

/** A message from node `nodeid` carrying `n` (the session checks the inner h_nodeid). */
function msgFrom(n: number, nodeid: number): Uint8Array {
  const m = msg(n);
  new DataView(m.buffer).setUint32(8, nodeid, true);
  return m;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** a (nodeid 1) opened the channel to b (nodeid 2); `a` sent `count` messages that b read, unacknowledged. */
async function withUnacked(count: number, opts: Parameters<typeof twoNodes>[0] = {}) {
  const t = twoNodes({ ...opts, b: { ackDelayMs: 0, ...opts.b } });
  for (let i = 0; i < count; i++) await t.a.send(msg(i));
  t.net.deliverAll();
  expect(t.gotB.length).toBe(count);
  expect(t.a.stats().queueMessages).toBe(count);
  const link = t.net.links[0]!;
  /** What b would send: straight into a's receive sink, as one batch. */
  const toA = (bytes: Uint8Array): void => link.rev.sink!.data(bytes);
  return { ...t, link, toA };
}

/** Records SendQueue.ack calls in `calls` (as `ack N`), in order with whatever else the test records there. */
function spyAcks(calls: string[]): void {
  const original = SendQueue.prototype.ack;
  vi.spyOn(SendQueue.prototype, 'ack').mockImplementation(function (this: SendQueue, n: number) {
    calls.push(`ack ${n}`);
    return original.call(this, n);
  });
}

afterEach(() => vi.restoreAllMocks());

describe('an ACK in front of a message in one batch', () => {
  it('is applied after the message went to the reader; the queue and stats end up as with the ACK first', async () => {
    const { a, toA } = await withUnacked(5);
    const calls: string[] = [];
    spyAcks(calls);
    a.read((m) => calls.push(`read ${msgNumber(m)}`), () => {});
    const framesBefore = a.stats().framesReceived;
    toA(join(encodeAck(V32, 2, 5), encodeOpts(V32, 2, 0, msgFrom(77, 2))));
    expect(calls).toEqual(['read 77', 'ack 5']);
    const s = a.stats();
    expect(s.queueMessages).toBe(0);
    expect(s.firstUnacked).toBe(5);
    expect(s.acksReceived).toBe(1);
    expect(s.framesReceived).toBe(framesBefore + 2);
    expect(s.drops.badAck).toBe(0);
  });

  it('an ACK alone in its batch, or the last of it, is applied at once', async () => {
    const { a, toA } = await withUnacked(3);
    const calls: string[] = [];
    spyAcks(calls);
    a.read((m) => calls.push(`read ${msgNumber(m)}`), () => {});
    toA(join(encodeOpts(V32, 2, 0, msgFrom(1, 2)), encodeAck(V32, 2, 2)));
    expect(calls).toEqual(['read 1', 'ack 2']);
    toA(encodeAck(V32, 2, 3));
    expect(calls).toEqual(['read 1', 'ack 2', 'ack 3']);
    expect(a.stats().queueMessages).toBe(0);
    expect(a.stats().acksReceived).toBe(2);
  });

  it('an ACK for what was never sent is a badAck when it arrives, even if the reader sends that much meanwhile', async () => {
    const { a, toA } = await withUnacked(2);
    // ACK(4) acknowledges 2 messages a has not sent yet; the reader sends two more before the batch ends.
    a.read(() => {
      expect(a.tryPost(msg(100), () => {})).toBe(true);
      expect(a.tryPost(msg(101), () => {})).toBe(true);
    }, () => {});
    toA(join(encodeAck(V32, 2, 4), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    const s = a.stats();
    expect(s.drops.badAck).toBe(1);
    expect(s.acksReceived).toBe(0);
    expect(s.queueMessages).toBe(4); // nothing acknowledged: the peer has none of the two new ones
  });

  it('a reply that finds the window full applies the deferred ACK first and goes out at once (window 2)', async () => {
    const { a, toA, link } = await withUnacked(2, { a: { windowMessages: 2 } });
    const posted: boolean[] = [];
    a.read(() => posted.push(a.tryPost(msg(500), () => {})), () => {});
    const before = link.fwd.batches.length;
    toA(join(encodeAck(V32, 2, 2), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    expect(posted).toEqual([true]);
    expect(link.fwd.batches.length).toBe(before + 1); // written during the delivery, not held
    expect(a.stats().queueMessages).toBe(1);
    expect(a.stats().acksReceived).toBe(1);
    expect(a.waiting).toBe(0);
  });

  it('a sendAcked() covered by the deferred ACK resolves even if the reader fences the session during the delivery', async () => {
    const { a, net, toA } = await withUnacked(1);
    let acked = 'pending';
    const p = a.sendAcked(msg(9)).then(
      () => (acked = 'resolved'),
      (e: { code?: string }) => (acked = `rejected ${e.code}`),
    );
    net.deliverAll();
    expect(a.stats().queueMessages).toBe(2);
    // b's ACK of both comes back joined to a message, and a's reader fences at that message.
    a.read(() => a.close(), () => {});
    toA(join(encodeAck(V32, 2, 2), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    await p;
    expect(acked).toBe('resolved');
  });

  it('the stats a reader reads during the delivery already include the ACK', async () => {
    const { a, toA } = await withUnacked(4);
    const seen: Array<[number, number]> = [];
    a.read(() => {
      const s = a.stats();
      seen.push([s.queueMessages, s.acksReceived]);
    }, () => {});
    toA(join(encodeAck(V32, 2, 4), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    expect(seen).toEqual([[0, 1]]);
  });

  it('a frame after the ACK that takes the general path sees the ACK applied first (a bad-version frame here)', async () => {
    const { a, toA } = await withUnacked(3);
    const calls: string[] = [];
    spyAcks(calls);
    a.read((m) => calls.push(`read ${msgNumber(m)}`), () => {});
    const bad = encodeOpts(V32, 2, 0, msgFrom(1, 2));
    bad[0] = 0x09; // h_version neither 3.1 nor 3.2
    toA(join(encodeAck(V32, 2, 3), bad, encodeOpts(V32, 2, 0, msgFrom(2, 2))));
    expect(calls).toEqual(['ack 3', 'read 2']);
    expect(a.stats().drops.badVersion).toBe(1);
  });

  it('while our FIN is queued, an ACK is applied at once (its ACK of the FIN is a FIN event)', async () => {
    const { a, toA } = await withUnacked(2);
    a.addMember();
    void a.shutdown().catch(() => {});
    expect(a.stats().stopTx).toBe(true);
    const calls: string[] = [];
    spyAcks(calls);
    a.read((m) => calls.push(`read ${msgNumber(m)}`), () => {});
    toA(join(encodeAck(V32, 2, 2), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    expect(calls).toEqual(['ack 2', 'read 1']);
  });

  it('a new channel after a deferred ACK resends only what it did not acknowledge', async () => {
    const { a, net, toA, link } = await withUnacked(4);
    a.read(() => {
      // The channel is lost during the delivery: the rewind must not resend what the ACK covers.
      net.cut(link);
    }, () => {});
    toA(join(encodeAck(V32, 2, 3), encodeOpts(V32, 2, 0, msgFrom(1, 2))));
    // The new channel opened at once and took message 3 again, only it.
    expect(a.stats().queueMessages).toBe(1);
    expect(a.stats().retransmits).toBe(1);
    net.settle();
    expect(a.stats().retransmits).toBe(1);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('framesReceived and delivered count a message once the reader returned (off the path to its reply)', async () => {
    const { a, toA } = await withUnacked(1);
    const seen: Array<[number, number]> = [];
    a.read(() => {
      const s = a.stats();
      seen.push([s.framesReceived, s.delivered]);
    }, () => {});
    const before = a.stats();
    toA(encodeOpts(V32, 2, 0, msgFrom(1, 2)));
    toA(encodeOpts(V32, 2, 1, msgFrom(2, 2)));
    expect(seen).toEqual([
      [before.framesReceived, before.delivered],
      [before.framesReceived + 1, before.delivered + 1],
    ]);
    expect(a.stats().framesReceived).toBe(before.framesReceived + 2);
    expect(a.stats().delivered).toBe(before.delivered + 2);
  });
});
