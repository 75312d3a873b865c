/**
 * ChannelVerifier alone (src/services/midcomms/channel-verifier.ts), with
 * fake channels and a fake challenge transport on a ManualClock: the
 * CHALLENGE/PROOF exchange, retries, timeouts, the bounds, resume tickets and
 * the answering side.
 */
import { describe, expect, it } from 'vitest';
import { CHALLENGE_RETRY_MS, ChannelVerifier, PENDING_PER_ADDRESS } from '../../../src/services/midcomms/channel-verifier.ts';
import type { ChannelRefusal, VerifiableChannel } from '../../../src/services/midcomms/channel-verifier.ts';
import type { ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { DLM_CMD, DLM_VERSION } from '../../../src/services/midcomms/constants.ts';
import { CHALLENGE_DENIED, encodeAck, encodeChallengeFrame, encodeHello } from '../../../src/services/midcomms/frame-encoder.ts';
import { parseFrame } from '../../../src/services/midcomms/frame-reader.ts';
import { ManualClock } from '../../../src/util/clock.ts';

const V32 = DLM_VERSION.V3_2;

class FakeChannel implements VerifiableChannel {
  sink: ChannelSink | null = null;
  written: Uint8Array[] = [];
  closed = false;
  bind(sink: ChannelSink): void {
    this.sink = sink;
  }
  receive(bytes: Uint8Array): void {
    if (!this.closed) this.sink?.data(bytes);
  }
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes.slice());
    return true;
  }
  close(): void {
    this.closed = true;
  }
  get isEnded(): boolean {
    return this.closed;
  }
}

interface Sent {
  address: string;
  token: Uint8Array;
  nonce: Uint8Array;
  answer: (aux: Uint8Array) => void;
  closed: boolean;
}

function harness(opts: { maxPending?: number; members?: string[] } = {}) {
  const clock = new ManualClock(0);
  const members = new Set(opts.members ?? ['x', 'y']);
  const sent: Sent[] = [];
  const handed: { address: string; channel: FakeChannel; hello: Uint8Array }[] = [];
  let refusedTotal = 0;
  const v = new ChannelVerifier({
    clock,
    version: V32,
    nodeid: 9,
    maxPending: opts.maxPending ?? 64,
    verifyTimeoutMs: 5000,
    self: 'me',
    challenge: (address, frame, answer) => {
      if (!members.has(address)) return null;
      const s: Sent = { address, token: frame.slice(16, 24), nonce: frame.slice(24, 32), answer, closed: false };
      sent.push(s);
      return { close: () => (s.closed = true) };
    },
    isMember: (a) => members.has(a),
    verified: (address, channel, hello) => {
      handed.push({ address, channel: channel as FakeChannel, hello });
      return null;
    },
    refused: (_r: ChannelRefusal) => {
      refusedTotal++;
    },
  });
  /** A peer opens a channel claiming `address` with `token` (and `ticket`). */
  const open = (address: string, token: number, ticket?: Uint8Array): { channel: FakeChannel; hello: Uint8Array } => {
    const channel = new FakeChannel();
    const hello = encodeHello(V32, 5, { inc: 1, gen: 1 }, null, 0, address, tok(token), ticket);
    v.admit(channel, hello, hello.length, address, true);
    return { channel, hello };
  };
  return { clock, members, sent, handed, v, open, refused: () => refusedTotal };
}

const tok = (k: number): Uint8Array => Uint8Array.from([0xc0, 0, 0, 0, 0, 0, k & 0xff, (k >>> 8) & 0xff]);
const proof = (token: Uint8Array, nonce: Uint8Array): Uint8Array => encodeChallengeFrame(DLM_CMD.PROOF, V32, 5, token, nonce);

describe('ChannelVerifier', () => {
  it('challenges the claimed node; only a PROOF with this channel\'s nonce hands it on, HELLO first, then a TICKET on it', () => {
    const h = harness();
    const a = h.open('x', 1);
    const b = h.open('x', 2);
    expect(h.sent.map((s) => s.address)).toEqual(['x', 'x']);
    expect([...h.sent[0]!.token]).toEqual([...tok(1)]);
    expect(h.v.stats().pending).toBe(2);
    // b's nonce arriving on a's channel (a relayed HELLO's challenge answered on the real channel): ignored.
    a.channel.receive(proof(tok(1), h.sent[1]!.nonce));
    expect(h.v.stats()).toMatchObject({ proofsUnmatched: 1, pending: 2, verified: 0 });
    expect(h.handed).toEqual([]);
    a.channel.receive(new Uint8Array([...proof(tok(1), h.sent[0]!.nonce), ...encodeAck(V32, 5, 0)]));
    expect(h.handed.map((x) => [x.address, x.channel === a.channel, x.hello.length])).toEqual([['x', true, a.hello.length]]);
    expect(h.v.stats()).toMatchObject({ verified: 1, pending: 1 });
    expect(h.sent[0]!.closed).toBe(true);
    const ticket = a.channel.written.map((w) => parseFrame(w)).find((f) => f.kind === 'ticket');
    expect(ticket).toBeDefined();
    expect(a.channel.closed).toBe(false);
  });

  it('any other frame before the proof, or a broken stream, closes the channel', () => {
    const h = harness();
    const a = h.open('x', 1);
    a.channel.receive(encodeAck(V32, 5, 0));
    const b = h.open('x', 2);
    b.channel.receive(new Uint8Array(8).fill(0xff));
    expect([a.channel.closed, b.channel.closed]).toEqual([true, true]);
    expect(h.v.stats().refused.unverifiedFrame).toBe(2);
    expect(h.v.stats().pending).toBe(0);
    expect(h.sent.every((s) => s.closed)).toBe(true);
  });

  it('a denial on our own challenge transaction refuses at once; a denial naming another nonce does not', () => {
    const h = harness();
    const a = h.open('x', 1);
    const s = h.sent[0]!;
    s.answer(encodeChallengeFrame(DLM_CMD.CHALLENGE, V32, 5, s.token, tok(99), CHALLENGE_DENIED));
    expect(a.channel.closed).toBe(false);
    s.answer(encodeChallengeFrame(DLM_CMD.CHALLENGE, V32, 5, s.token, s.nonce, CHALLENGE_DENIED));
    expect(a.channel.closed).toBe(true);
    expect(h.v.stats().refused.denied).toBe(1);
    expect(h.refused()).toBe(1);
  });

  it('unanswered challenges go again every CHALLENGE_RETRY_MS; a node without a span is asked when it joins; no proof by verifyTimeoutMs: refused', () => {
    const h = harness({ members: ['x'] });
    h.open('x', 1);
    const z = h.open('z', 2);
    expect(h.sent.length).toBe(1);
    h.clock.advance(CHALLENGE_RETRY_MS);
    expect(h.sent.length).toBe(2);
    expect(h.sent[0]!.closed).toBe(true); // the previous try's transaction is closed
    h.members.add('z');
    h.v.memberJoined('z');
    expect(h.sent.map((s) => s.address)).toEqual(['x', 'x', 'z']);
    z.channel.receive(proof(tok(2), h.sent[2]!.nonce));
    expect(h.handed.map((x) => x.address)).toEqual(['z']);
    h.clock.advance(5000);
    expect(h.v.stats()).toMatchObject({ pending: 0, refused: { timeout: 1 } });
    const tries = h.sent.length;
    h.clock.advance(5000);
    expect(h.sent.length).toBe(tries); // nothing runs for a refused channel
  });

  it(`bounds: ${PENDING_PER_ADDRESS} per claimed address (oldest evicted); a full table evicts the oldest non-member claim, else refuses the newcomer`, () => {
    const h = harness({ maxPending: 6, members: ['x'] });
    const xs = Array.from({ length: PENDING_PER_ADDRESS + 1 }, (_, k) => h.open('x', k + 1));
    expect(xs.map((c) => c.channel.closed)).toEqual([true, false, false, false, false]);
    expect(h.v.stats()).toMatchObject({ pending: PENDING_PER_ADDRESS, refused: { evicted: 1 } });
    const g1 = h.open('ghost1', 10);
    const g2 = h.open('ghost2', 11);
    expect(h.v.stats().pending).toBe(6);
    const y = h.open('x2', 12); // full: ghost1, the oldest claim of an address without a span, goes
    expect([g1.channel.closed, g2.channel.closed, y.channel.closed]).toEqual([true, false, false]);
    const w = h.open('x3', 13); // full again: ghost2 goes
    expect(g2.channel.closed).toBe(true);
    const last = h.open('x4', 14); // full again: x2 (no span either, and older than x3) goes
    expect([y.channel.closed, w.channel.closed, last.channel.closed]).toEqual([true, false, false]);
    h.members.add('x3');
    const fifth = h.open('x', 20); // a fifth claim of x evicts the oldest x (per address), so it fits
    expect(fifth.channel.closed).toBe(false);
    expect(xs.map((c) => c.channel.closed)).toEqual([true, true, false, false, false]);
    expect(h.v.stats()).toMatchObject({ pending: 6, refused: { evicted: 2, pendingFull: 3 } });
    const big = harness({ maxPending: 2, members: ['x', 'y'] });
    big.open('x', 1);
    big.open('y', 2);
    const n = big.open('y', 3);
    expect(n.channel.closed).toBe(true); // all claims name members: the newcomer is refused
    expect(big.v.stats()).toMatchObject({ pending: 2, refused: { pendingFull: 1 } });
  });

  it('a resume ticket proves a channel at once, once', () => {
    const h = harness();
    const a = h.open('x', 1);
    a.channel.receive(proof(tok(1), h.sent[0]!.nonce));
    const t = a.channel.written.map((w) => parseFrame(w)).findIndex((f) => f.kind === 'ticket');
    const ticket = a.channel.written[t]!.slice(16, 24);
    const b = h.open('x', 2, ticket);
    expect(h.handed.map((x) => x.channel)).toEqual([a.channel, b.channel]);
    expect(h.v.stats()).toMatchObject({ verified: 2, byTicket: 1 });
    expect(h.sent.length).toBe(1); // no challenge for b
    // The same ticket again (a replay): a challenge, and it is pending.
    const c = h.open('x', 3, ticket);
    expect(h.sent.length).toBe(2);
    expect(h.v.stats()).toMatchObject({ verified: 2, pending: 1 });
    expect(c.channel.closed).toBe(false);
    // Another address cannot use x's ticket either (b's new one).
    const t2 = b.channel.written.map((w) => parseFrame(w)).findIndex((f) => f.kind === 'ticket');
    h.open('y', 4, b.channel.written[t2]!.slice(16, 24));
    expect(h.v.stats()).toMatchObject({ verified: 2, byTicket: 1, pending: 2 });
    // Forgotten with the session.
    h.v.forgetAddress('x');
    h.open('x', 5, b.channel.written[t2]!.slice(16, 24));
    expect(h.v.stats()).toMatchObject({ verified: 2, pending: 3 });
  });

  it('answers: a PROOF on our channel with that token; else false (the caller denies); a forgotten or ended channel proves nothing', () => {
    const h = harness();
    const own = new FakeChannel();
    h.v.registerOwn('c000000000000700', own);
    const ch = encodeChallengeFrame(DLM_CMD.CHALLENGE, V32, 7, tok(7), tok(0x77));
    expect(h.v.answer(ch, 0)).toBe(true);
    expect(parseFrame(own.written[0]!)).toMatchObject({ kind: 'proof' });
    expect([...own.written[0]!.subarray(24, 32)]).toEqual([...tok(0x77)]);
    expect(h.v.answer(encodeChallengeFrame(DLM_CMD.CHALLENGE, V32, 7, tok(8), tok(0x77)), 0)).toBe(false);
    own.close();
    expect(h.v.answer(ch, 0)).toBe(false);
    h.v.forgetOwn('c000000000000700', own);
    expect(h.v.ownChannels).toBe(0);
    expect(h.v.stats()).toMatchObject({ proofsWritten: 1, denialsSent: 2 });
    const denial = h.v.denial(ch, 0);
    expect(parseFrame(denial)).toMatchObject({ kind: 'challenge', flags: CHALLENGE_DENIED });
  });

  it('refuses HELLOs without a token, naming us, or without an address; after close() everything', () => {
    const h = harness();
    const c1 = new FakeChannel();
    const noToken = encodeHello(V32, 5, { inc: 1, gen: 1 }, null, 0, 'x');
    h.v.admit(c1, noToken, noToken.length, 'x', true);
    const c2 = new FakeChannel();
    const us = encodeHello(V32, 5, { inc: 1, gen: 1 }, null, 0, 'me', tok(1));
    h.v.admit(c2, us, us.length, 'me', true);
    const c3 = new FakeChannel();
    h.v.admit(c3, us, us.length, 'x', false);
    expect([c1.closed, c2.closed, c3.closed]).toEqual([true, true, true]);
    expect(h.v.stats().refused.badHello).toBe(3);
    const p = h.open('x', 2);
    h.v.close();
    expect(p.channel.closed).toBe(true);
    expect(h.open('x', 3).channel.closed).toBe(true);
    expect(h.v.stats().refused.closed).toBe(2);
  });
});
