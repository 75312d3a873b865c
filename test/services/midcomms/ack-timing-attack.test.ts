/**
 * Adversarial review (session 9) of when midcomms acknowledges (spec §5.5,
 * §5.6): ACK placement moved out of session.ts, and the receive path reads
 * the clock less. Whatever the trims, a delivered message must be covered by
 * an ACK written no later than `ackDelayMs` after its delivery (the timer),
 * at once when the receive threshold is passed, and on the first write after
 * the transmit threshold (joined ahead of the reply or alone) — and the
 * peer's window must never stall for lack of one.
 *
 * Two sessions over FakeNet, virtual time (ManualClock), no cuts: A sends
 * bursts at random virtual times; B reads (sometimes replying from inside
 * the delivery, sometimes pausing and resuming its reading), and every frame
 * B writes is parsed where it is written (its virtual time noted): ACK
 * frames alone and ACKs joined ahead of messages. Checked per delivered
 * message: an ACK reaching past it was written by delivery time +
 * ackDelayMs; when the receive threshold was passed, by the delivery time
 * itself. Also: every message is read once, in order, and A's queue drains.
 *
 * Seeds fixed, in the test names; MC_ACK_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import { DLM_CMD } from '../../../src/services/midcomms/constants.ts';
import { FakeNet, lcg, msg, msgNumber } from './fake-net.ts';

interface Delivery {
  n: number;
  at: number;
  /** The ACK value once it is read (seq_next less what is still buffered): an ACK of at least this covers it. */
  need: number;
  /** Deliveries not yet acknowledged, this one included, when it was read. */
  unacked: number;
}

async function ackRun(seed: number, total: number) {
  const rand = lcg(Math.imul(seed, 0x9e3779b1) >>> 0);
  rand();
  rand();
  const net = new FakeNet();
  const ackDelayMs = 5 + Math.floor(rand() * 60);
  const rxAckThreshold = Math.floor(rand() * 6);
  const txAckThreshold = Math.floor(rand() * 4);
  const windowMessages = 2 + Math.floor(rand() * 12);
  const opts = { ackDelayMs, rxAckThreshold, txAckThreshold, windowMessages };
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1, ...opts });
  const B = net.node('b', { nodeid: 2, incarnation: 0xb1, ...opts });
  const a = A.session('b');
  const b = B.session('a');

  // Every batch B writes, parsed when it is written (at the virtual time of the write: a timer
  // firing inside advance() runs at its due time).
  const acks: Array<{ at: number; value: number }> = [];
  const parse = (batch: Uint8Array, at: number): void => {
    let off = 0;
    while (off + 16 <= batch.length) {
      const dv = new DataView(batch.buffer, batch.byteOffset + off);
      const len = dv.getUint16(12, true);
      if (batch[off + 14] === DLM_CMD.ACK) acks.push({ at, value: dv.getUint32(4, true) });
      if (len < 16) break;
      off += len;
    }
  };
  const watch = (batches: Uint8Array[]): void => {
    for (const batch of batches) parse(batch, net.clock.now());
    const push = batches.push.bind(batches);
    batches.push = (...items: Uint8Array[]): number => {
      for (const batch of items) parse(batch, net.clock.now());
      return push(...items);
    };
  };
  const open = net.open.bind(net);
  net.open = (from, to, sink) => {
    const ch = open(from, to, sink);
    const link = net.links[net.links.length - 1];
    // B writes on the reverse direction of A's channels and the forward one of its own.
    if (ch !== null && link !== undefined) watch(from.name === 'b' ? link.fwd.batches : link.rev.batches);
    return ch;
  };
  const deliveries: Delivery[] = [];
  const gotA: number[] = [];
  let sinceAck = 0;
  let ackedUpTo = -1;
  let replies = 0;
  let paused = false;
  b.read(
    (m) => {
      // What our ACK says once this one is read: seq_next less the messages still buffered (ackValue).
      const st = b.stats();
      const need = (st.seqNext - st.inboundMessages) >>> 0;
      if (acks.length > 0 && acks[acks.length - 1]!.value !== ackedUpTo) {
        ackedUpTo = acks[acks.length - 1]!.value;
        sinceAck = 0;
      }
      sinceAck++;
      deliveries.push({ n: msgNumber(m), at: net.clock.now(), need, unacked: sinceAck });
      if (rand() < 0.3) b.post(msg(100000 + replies++), () => {});
      if (rand() < 0.05 && !paused) {
        paused = true;
        ev('pause');
        b.pauseReading();
      }
    },
    () => {},
  );
  a.read((m) => void gotA.push(msgNumber(m)), () => {});

  let next = 0;
  const events: Array<{ at: number; e: string }> = [];
  const ev = (e: string): void => void events.push({ at: net.clock.now(), e });
  for (let step = 0; step < total * 60 && (deliveries.length < total || a.stats().queueMessages > 0); step++) {
    const r = rand();
    if (r < 0.15 && next < total) {
      for (let k = 1 + Math.floor(rand() * 4); k > 0 && next < total; k--) a.post(msg(next++), () => {});
    } else if (r < 0.35) net.clock.advance(1 + Math.floor(rand() * ackDelayMs));
    else if (r < 0.4 && paused) {
      ev('resume');
      paused = false;
      b.resumeReading();
    } else if (!net.deliverRandom(rand)) net.clock.advance(1 + Math.floor(rand() * 10));
    for (let i = 0; i < 4; i++) await null;
  }
  if (paused) b.resumeReading();
  net.settle(10 * ackDelayMs + 1000);
  return { events, deliveries, acks, ackDelayMs, rxAckThreshold, txAckThreshold, queueA: a.stats().queueMessages, gotA, replies, a, b };
}

const covers = (value: number, need: number): boolean => ((value - need) | 0) >= 0;

const SEEDS = [61, 62, 63, 64, 65, 66];
for (let i = 0; i < Number(process.env.MC_ACK_SEEDS ?? 0); i++) SEEDS.push(700 + i);

describe('midcomms ACK timing under random traffic (review9)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: each delivery acknowledged within ackDelayMs (at once past the receive threshold); every message read once, in order; the window drains`, async () => {
      const total = 120;
      const r = await ackRun(seed, total);
      const what = `seed ${seed} (ackDelayMs ${r.ackDelayMs}, rx threshold ${r.rxAckThreshold}, tx threshold ${r.txAckThreshold})`;
      expect(r.deliveries.map((d) => d.n), `${what}: B reads each once, in order`).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(r.queueA, `${what}: A's queue drains`).toBe(0);
      for (const d of r.deliveries) {
        const ack = r.acks.find((x) => x.at >= d.at && covers(x.value, d.need));
        if (ack === undefined) expect.fail(`${what}: message ${d.n} (delivered at ${d.at}, seq_next ${d.need}) never acknowledged`);
        if (process.env.ACK_DEBUG && ack.at - d.at > r.ackDelayMs) {
          console.log(what, 'delivery', JSON.stringify(d));
          console.log('acks', JSON.stringify(r.acks.filter((x) => x.at >= d.at - 100 && x.at <= ack.at + 5)));
          console.log('deliveries', JSON.stringify(r.deliveries.filter((x) => x.at >= d.at - 100 && x.at <= ack.at + 5)));
          console.log('events', r.events.filter((e) => e.at >= d.at - 100 && e.at <= ack.at + 5).map((e) => `${e.at}:${e.e}`).join(' '));
        }
        expect(ack.at - d.at, `${what}: message ${d.n} acknowledged ${ack.at - d.at} ms after its delivery`).toBeLessThanOrEqual(r.ackDelayMs);
        if (d.unacked > r.rxAckThreshold + 1) expect.fail(`${what}: message ${d.n} was the ${d.unacked}th delivery without an ACK (threshold ${r.rxAckThreshold})`);
      }
      expect(r.gotA.length, `${what}: A reads B's replies`).toBe(r.replies);
    });
  }
});
