/**
 * Adversarial review of the receive tap (src/iocom/raw-observer.ts): the
 * gates the tap must apply exactly as the general path does, driven by a
 * hand-written peer over loopback TCP. Each case runs twice: with the tap on
 * (the channel is its transaction's only rx$ observer) and with it off (a
 * second rx$ observer makes the tap decline), and the observable outcome must
 * be the same.
 *
 * - The auth handshake: a link with a key pair but no allowed keys (auth
 *   active, not required) runs a deadline; the first plain message from the
 *   peer ends it (AuthPhase.plainMessage: the peer takes no part), which
 *   opens our write gate and resolves `ready`. A peer whose first plain
 *   message is mid-stream data on a transaction we opened (its REPLY, which
 *   the state rules deliver before the REPLY|CREATE) must end the handshake
 *   through the tap as well.
 * - Required auth: the same data before the peer authenticated fails the
 *   link (AUTH_REQUIRED) either way; nothing reaches the channel.
 * - A second rx$ subscriber added, then removed, from inside the channel's
 *   delivery, and the raw observer unsubscribing itself mid-stream: the
 *   same bytes reach each observer as on the general path.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import type { Transaction } from '../../../src/iocom/transaction.ts';
import type { ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { TransactionChannel } from '../../../src/services/midcomms/transaction-channel.ts';
import { DMSG, DMSGF } from '../../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../../src/wire/frame-encoder.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { rawLink, reasonCode } from '../../helpers/raw-peer.ts';

const CMD = DMSG.DBG_SHELL;
const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

class CountingChannel extends TransactionChannel {
  raw = 0;
  override rawNext(cmd: number, error: number, aux: Uint8Array): void {
    this.raw++;
    super.rawNext(cmd, error, aux);
  }
}

class Sink implements ChannelSink {
  readonly data_: string[] = [];
  onData: ((bytes: Uint8Array) => void) | null = null;
  data(bytes: Uint8Array): void {
    this.data_.push(Buffer.from(bytes).toString('hex'));
    this.onData?.(bytes);
  }
  writable(): void {}
  lost(): void {}
}

function aux(n: number, fill: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (fill + i * 5) & 0x7f;
  return a;
}

describe('receive tap gates (adversarial review)', () => {
  it('auth active, not required: mid-stream data on a tapped transaction is the peer\'s first plain message and ends the handshake, as on the general path', async () => {
    const once = async (general: boolean) => {
      const clock = new ManualClock();
      const l = await rawLink('tcp', { name: 'rx', keyPair: generateKeyPairSync('ed25519'), authTimeoutMs: 60_000, clock });
      try {
        const io = l.io;
        let ready = false;
        void io.ready.then(() => (ready = true), () => {});
        // Our HELLO goes out; the peer never answers it.
        await l.peer.until(() => l.peer.received.length >= 1, 'HELLO');
        expect(l.peer.received[0]!.header.cmd & DMSGF.BASECMDMASK).toBe(DMSG.LNK_AUTH);
        const u = io.open(CMD, { aux: aux(64, 1) }); // its CREATE waits behind the write gate
        const sink = new Sink();
        const ch = new CountingChannel(u, { frameCmd: CMD, maxBatchBytes: 65536 });
        ch.bind(sink);
        ch.observe();
        if (general) u.rx$.subscribe({ error: () => {} });
        await turn();
        const before = l.peer.received.length;
        expect(ready).toBe(false);
        // The peer's first plain message: a REPLY in our transaction (guessing its msgid is easy).
        l.peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: BigInt(u._id) }, undefined, aux(88, 9));
        for (let i = 0; i < 2000 && sink.data_.length < 1 && io.isOpen; i++) await turn();
        // Give the link a bounded number of turns to write what the handshake's end released.
        for (let i = 0; i < 200 && l.peer.received.length === before && io.isOpen; i++) await turn();
        const wrote = l.peer.received.slice(before).map((m) => (m.header.cmd >>> 0).toString(16));
        return { data: sink.data_, ready, wrote, open: io.isOpen, raw: ch.raw, stats: io.stats().messagesIn };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(slow.raw).toBe(0);
    // The general path: the handshake ended at the plain message, our CREATE went out, ready resolved.
    expect(slow.ready).toBe(true);
    expect(slow.wrote.length).toBeGreaterThan(0);
    expect(slow.data.length).toBe(1);
    expect({ ...fast, raw: 0 }).toEqual({ ...slow, raw: 0 });
  });

  it('auth required, peer not authenticated: mid-stream data on a tapped transaction fails the link (AUTH_REQUIRED) and reaches nobody, tap on or off', async () => {
    const once = async (general: boolean) => {
      const clock = new ManualClock();
      const peerKey = generateKeyPairSync('ed25519');
      const l = await rawLink('tcp', { name: 'rx', keyPair: generateKeyPairSync('ed25519'), allowedPeerKeys: [peerKey.publicKey], authTimeoutMs: 60_000, clock });
      try {
        const io = l.io;
        const u = io.open(CMD, { aux: aux(64, 1) });
        const sink = new Sink();
        const ch = new CountingChannel(u, { frameCmd: CMD, maxBatchBytes: 65536 });
        ch.bind(sink);
        ch.observe();
        if (general) u.rx$.subscribe({ error: () => {} });
        await turn();
        l.peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: BigInt(u._id) }, undefined, aux(88, 9));
        const reason = await l.closed;
        return { data: sink.data_, code: reasonCode(reason), raw: ch.raw };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(slow.code).toBe('AUTH_REQUIRED');
    expect(fast).toEqual(slow);
  });

  it('a second rx$ subscriber added and removed from inside the delivery, then the channel closed while the peer still sends: the same bytes to each observer as on the general path', async () => {
    const once = async (general: boolean) => {
      const l = await rawLink('tcp', { name: 'rx' });
      try {
        const io = l.io;
        const peer = l.peer;
        const u = io.open(CMD);
        const sink = new Sink();
        const ch = new CountingChannel(u, { frameCmd: CMD, maxBatchBytes: 65536 });
        ch.bind(sink);
        ch.observe();
        let generalSub: Subscription | undefined;
        if (general) generalSub = u.rx$.subscribe({ error: () => {} });
        const second: string[] = [];
        let extra: Subscription | undefined;
        const uid = BigInt(u._id);
        peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS, msgid: uid }, undefined, aux(64, 2));
        await peer.roundTrip();
        // Message k: on 3 a second subscriber joins (from inside the delivery); on 7 it leaves; on 10 the
        // general run's extra observer leaves too (so from then on only the raw observer is left in both runs).
        sink.onData = (bytes) => {
          const k = bytes[0]!;
          if (k === 3) extra = u.rx$.subscribe({ next: (m) => second.push(Buffer.from(m.aux).toString('hex')), error: () => {} });
          if (k === 7) extra?.unsubscribe();
          if (k === 10) generalSub?.unsubscribe();
        };
        const n = 16;
        const frames: Uint8Array[] = [];
        for (let k = 0; k < n; k++) {
          const a = aux(40 + k * 3, k);
          a[0] = k;
          frames.push(concatBytes(encodeMessage({ header: { cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: uid, salt: peer.seq }, aux: a })));
          peer.skipSeq();
        }
        // All in one write: one read, the tap's per-message decision inside one chunk.
        peer.writeRaw(concatBytes(frames));
        await peer.roundTrip();
        // close() ends the channel (our DELETE); the peer still sends: nothing more reaches the sink, the link stays up.
        ch.close();
        for (let k = 0; k < 4; k++) peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: uid }, undefined, aux(50, 100 + k));
        await peer.roundTrip();
        const st = io.stats();
        return { data: sink.data_, second, open: io.isOpen, raw: ch.raw, stats: `${st.messagesIn}/${st.dropped}` };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(slow.raw).toBe(0);
    // 0..3 through the tap; once a second subscriber has joined, rx$ stays on its many-subscriber form and the tap declines (a cost, not a bug).
    expect(fast.raw).toBeGreaterThanOrEqual(4);
    expect(fast.data.length).toBe(17);
    expect(fast.second.length).toBeGreaterThan(0);
    expect({ ...fast, raw: 0 }).toEqual({ ...slow, raw: 0 });
  });

  it('the raw observer unsubscribed from rx$ mid-stream (its Subscription): later messages reach nobody, the same counters as the general path', async () => {
    const once = async (general: boolean) => {
      const l = await rawLink('tcp', { name: 'rx' });
      try {
        const io = l.io;
        const peer = l.peer;
        const u = io.open(CMD);
        const got: string[] = [];
        let late = 0;
        let sub: Subscription | undefined;
        const observer = {
          rawNext(_c: number, _e: number, a: Uint8Array): void {
            got.push(Buffer.from(a).toString('hex'));
            if (a[0] === 5) sub!.unsubscribe();
          },
          next(m: { aux: Uint8Array }): void {
            got.push(Buffer.from(m.aux).toString('hex'));
            if (m.aux[0] === 5) sub!.unsubscribe();
          },
          error(): void {
            late++;
          },
          complete(): void {
            late++;
          },
        };
        sub = u.subscribeRaw(observer);
        if (general) u.rx$.subscribe({ error: () => {} });
        const uid = BigInt(u._id);
        peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS, msgid: uid }, undefined, aux(64, 2));
        await peer.roundTrip();
        const frames: Uint8Array[] = [];
        for (let k = 0; k < 10; k++) {
          const a = aux(48, k);
          a[0] = k;
          frames.push(concatBytes(encodeMessage({ header: { cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: uid, salt: peer.seq }, aux: a })));
          peer.skipSeq();
        }
        peer.writeRaw(concatBytes(frames));
        peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.DELETE | DMSGF.REVTRANS, msgid: uid });
        await peer.roundTrip();
        const st = io.stats();
        return { got, late, open: io.isOpen, stats: `${st.messagesIn}/${st.dropped}` };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(fast.got.length).toBe(6 + 1);
    expect(fast).toEqual(slow);
  });

  it('two raw observers on two transactions of one link, messages interleaved in one read: each transaction\'s messages reach its own observer, in order', async () => {
    // The tap picks each message's observer by its transaction (the relay + channel case with a real relay is below in relay-tap-mix).
    const l = await rawLink('tcp', { name: 'rx' });
    try {
      const io = l.io;
      const peer = l.peer;
      const a = io.open(CMD);
      const b = io.open(CMD);
      const gotA: number[] = [];
      const gotB: number[] = [];
      const mk = (into: number[]) => ({
        rawNext(_c: number, _e: number, x: Uint8Array): void {
          into.push(x[0]!);
        },
        next(m: { aux: Uint8Array }): void {
          into.push(m.aux[0]!);
        },
        error(): void {},
      });
      a.subscribeRaw(mk(gotA));
      b.subscribeRaw(mk(gotB));
      const ids = [BigInt(a._id), BigInt(b._id)];
      const first = new Uint8Array(8).fill(200);
      for (const id of ids) peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS, msgid: id }, undefined, first);
      await peer.roundTrip();
      const frames: Uint8Array[] = [];
      for (let k = 0; k < 60; k++) {
        const x = aux(16 + (k % 7), k);
        x[0] = k;
        frames.push(concatBytes(encodeMessage({ header: { cmd: CMD | DMSGF.REPLY | DMSGF.REVTRANS, msgid: ids[(k * 7) % 3 === 0 ? 1 : 0]!, salt: peer.seq }, aux: x })));
        peer.skipSeq();
      }
      peer.writeRaw(concatBytes(frames));
      await peer.roundTrip();
      const wantA: number[] = [];
      const wantB: number[] = [];
      for (let k = 0; k < 60; k++) ((k * 7) % 3 === 0 ? wantB : wantA).push(k);
      expect([...gotA]).toEqual([200, ...wantA]);
      expect([...gotB]).toEqual([200, ...wantB]);
      expect(io.isOpen).toBe(true);
    } finally {
      await l.close();
    }
  });
  it('odd mid-stream messages on a tapped transaction (extended header, msgid or circuit of 2^32 and more, nonzero reserved18, another transaction\'s REPLY flag): the same outcome with the tap on and off', async () => {
    type Odd = 'ext' | 'bigMsgid' | 'bigCircuit' | 'reserved18' | 'noReplyFlag';
    const once = async (odd: Odd, general: boolean) => {
      const l = await rawLink('tcp', { name: 'rx' });
      try {
        const io = l.io;
        const peer = l.peer;
        const u = io.open(CMD);
        const sink = new Sink();
        const ch = new CountingChannel(u, { frameCmd: CMD, maxBatchBytes: 65536 });
        ch.bind(sink);
        ch.observe();
        if (general) u.rx$.subscribe({ error: () => {} });
        const uid = BigInt(u._id);
        peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS, msgid: uid }, undefined, aux(64, 2));
        await peer.roundTrip();
        const base = CMD | DMSGF.REPLY | DMSGF.REVTRANS;
        const frames: Uint8Array[] = [];
        const add = (h: Parameters<typeof encodeMessage>[0]['header'], a: Uint8Array, ext?: Uint8Array): void => {
          frames.push(concatBytes(encodeMessage({ header: { ...h, salt: peer.seq }, aux: a, ext })));
          peer.skipSeq();
        };
        add({ cmd: base, msgid: uid }, aux(40, 1));
        if (odd === 'ext') add({ cmd: ((base & ~DMSGF.SIZE) | 2) >>> 0, msgid: uid }, aux(40, 2), new Uint8Array(16).fill(7));
        if (odd === 'bigMsgid') add({ cmd: base, msgid: (1n << 32n) + uid }, aux(40, 2));
        if (odd === 'bigCircuit') add({ cmd: base, msgid: uid, circuit: 1n << 32n }, aux(40, 2));
        if (odd === 'reserved18') add({ cmd: base, msgid: uid, reserved18: 1n }, aux(40, 2));
        if (odd === 'noReplyFlag') add({ cmd: CMD | DMSGF.REVTRANS, msgid: uid }, aux(40, 2));
        add({ cmd: base, msgid: uid }, aux(40, 3));
        peer.writeRaw(concatBytes(frames));
        await Promise.race([peer.roundTrip().catch(() => {}), l.closed]);
        const st = io.stats();
        return { data: sink.data_, link: io.isOpen ? 'open' : reasonCode(await l.closed), stats: `${st.messagesIn}/${st.dropped}`, raw: ch.raw };
      } finally {
        await l.close();
      }
    };
    let tapped = 0;
    for (const odd of ['ext', 'bigMsgid', 'bigCircuit', 'reserved18', 'noReplyFlag'] as const) {
      const fast = await once(odd, false);
      const slow = await once(odd, true);
      expect(slow.raw, odd).toBe(0);
      tapped += fast.raw;
      expect({ ...fast, raw: 0 }, odd).toEqual({ ...slow, raw: 0 });
    }
    // Not vacuous: the plain messages around the odd one went through the tap.
    expect(tapped).toBeGreaterThan(3);
  });
});
