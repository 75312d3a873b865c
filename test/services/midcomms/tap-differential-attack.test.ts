/**
 * Adversarial review (session 9) of the receive tap (src/iocom/raw-observer.ts,
 * ReceiveDispatch.passThrough) and the midcomms channel's raw receive path:
 * a differential fuzz. A hand-driven peer sends random streams of messages
 * on the transactions of a link whose midcomms channels are raw observers:
 * mostly plain mid-stream data, mixed with hostile variants (CREATE, DELETE,
 * ABORT, REPLY, REVTRANS or REVCIRC flipped; a msgid of 0, of another
 * transaction, unknown, or of 2^32 and more; circuits unknown, of a
 * transaction, of 2^32; a nonzero reserved18, error or reserved02; an
 * extended header; PAD, PING and one-way messages; a stale salt last),
 * written in chunks cut at random (messages split across chunks take the
 * decoder's assembled path). Between chunks the link's reading is paused and
 * resumed, a second rx$ subscriber comes and goes; from inside a delivery a
 * channel closes itself, or its observer throws.
 *
 * Each stream runs twice: with the tap (each channel its transaction's only
 * rx$ observer) and without it (a second, silent rx$ observer on every
 * channel's transaction makes the tap decline everything), and everything
 * observable must be identical: the bytes each channel got (recorded as the
 * views it was handed and read only at the end: a reused read buffer would
 * show), what ended each channel, the link's fate and close code, its
 * messagesIn/dropped counters, and every message the iocom wrote back.
 *
 * Directed cases add each hostile variant first in its read and behind
 * messages the tap took in the same read.
 *
 * Checked against mutants of the tap's gates (each removed in turn): every
 * one whose removal changes what a midcomms channel sees fails here. Those
 * that survive are equivalent for a channel: reserved18 and rxDeleted (a
 * channel closes its side when the peer's DELETE comes, so the transaction
 * is freed), LNK_AUTH (its cmd carries an extended-header size), msgid 0
 * (never in a table), the decoder's `out.length === 0` (the sequence check
 * refuses a message behind an undelivered one).
 *
 * Seeds fixed, in the test names; TAP_FUZZ_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import type { Transaction } from '../../../src/iocom/transaction.ts';
import type { ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { TransactionChannel } from '../../../src/services/midcomms/transaction-channel.ts';
import { DMSG, DMSGF } from '../../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../../src/wire/frame-encoder.ts';
import type { Header } from '../../../src/wire/header.ts';
import { rawLink, reasonCode } from '../../helpers/raw-peer.ts';
import type { PairKind } from '../../helpers/iocom-pair.ts';
import { lcg } from './fake-net.ts';

const CMD = DMSG.DBG_SHELL;

class FuzzChannel extends TransactionChannel {
  sink: KeepingSink | null = null;
  raw = 0;
  throwAt = -1;
  closeAt = -1;
  /** From inside this delivery: close the whole link (graceful: 'closing'). */
  linkCloseAt = -1;
  onLinkClose: (() => void) | null = null;
  /** From inside this delivery: unsubscribe from rx$ and hand over to a new raw observer (a tap that caches its observer must follow). */
  swapAt = -1;
  onSwap: (() => void) | null = null;
  seen = 0;
  override rawNext(cmd: number, error: number, aux: Uint8Array): void {
    this.raw++;
    super.rawNext(cmd, error, aux);
  }
  override receive(aux: Uint8Array): void {
    const k = this.seen++;
    super.receive(aux);
    if (k === this.closeAt) {
      this.sink?.events.push('closed');
      this.close();
    }
    if (k === this.swapAt && !this.isEnded) {
      this.sink?.events.push('swap');
      this.onSwap?.();
    }
    if (k === this.linkCloseAt) {
      this.sink?.events.push('link-close');
      this.onLinkClose?.();
    }
    if (k === this.throwAt) throw new Error('planted reader throw');
  }
}

class KeepingSink implements ChannelSink {
  /** The views handed over, read only at the end. */
  readonly kept: Uint8Array[] = [];
  readonly events: string[] = [];
  data(bytes: Uint8Array): void {
    this.kept.push(bytes);
    this.events.push(`d${this.kept.length - 1}`);
  }
  writable(): void {}
  lost(reason: string): void {
    this.events.push(`lost:${reason}`);
  }
  dump(): string[] {
    return [...this.events, ...this.kept.map((b) => Buffer.from(b).toString('hex'))];
  }
}

type Target = 0 | 1 | 2 | 3 | 'unknown' | 'zero';
interface Spec {
  target: Target;
  flip: number;
  bigMsgid: boolean;
  circuit: 'none' | 'ours' | 'oursNoRev' | 'peers' | 'peersRev' | 'unknown' | 'big';
  reserved18: boolean;
  error: number;
  reserved02: number;
  ext: boolean;
  base: number;
  auxLen: number;
  fill: number;
}

interface Plan {
  chunks: Spec[][];
  /** Per chunk: after which messages a write ends (a message then starts a read: the tap is offered it). */
  alone: boolean[][];
  /** Byte cuts inside each chunk's encoding (fractions), so messages split across writes. */
  splits: number[][];
  pauseBefore: boolean[];
  extraSubAt: number;
  closeAt: number[];
  throwAt: number[];
  /** Which channel closes the link from inside its delivery, at which of its messages (-1: none). */
  linkClose: [number, number];
  /** Which channel hands over to a new raw observer from inside its delivery, at which of its messages. */
  swap: [number, number];
  staleSaltLast: boolean;
}

function makePlan(seed: number): Plan {
  const rand = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const flags = [DMSGF.CREATE, DMSGF.DELETE, DMSGF.ABORT, DMSGF.REPLY, DMSGF.REVTRANS, DMSGF.REVCIRC];
  const chunks: Spec[][] = [];
  const alone: boolean[][] = [];
  const splits: number[][] = [];
  const pauseBefore: boolean[] = [];
  const nChunks = 3 + Math.floor(rand() * 5);
  for (let c = 0; c < nChunks; c++) {
    const specs: Spec[] = [];
    const ends: boolean[] = [];
    const n = 2 + Math.floor(rand() * 8);
    for (let i = 0; i < n; i++) {
      const hostile = rand() < 0.3;
      // A hostile message changes one thing (sometimes two).
      const what = hostile ? Math.floor(rand() * 9) : -1;
      const also = hostile && rand() < 0.3 ? Math.floor(rand() * 9) : -1;
      const is = (k: number): boolean => what === k || also === k;
      specs.push({
        target: is(0) ? pick(['unknown', 'zero'] as const) : pick([0, 1, 2, 3] as const),
        flip: is(1) ? pick(flags) : 0,
        bigMsgid: is(2),
        circuit: is(3) ? pick(['ours', 'oursNoRev', 'peers', 'peersRev', 'unknown', 'big'] as const) : 'none',
        reserved18: is(4),
        error: is(5) ? 1 + Math.floor(rand() * 0x30) : 0,
        reserved02: is(5) ? 1 + Math.floor(rand() * 0xffff) : 0,
        ext: is(6),
        base: is(7) ? pick([DMSG.LNK_PAD, DMSG.LNK_PING, DMSG.LNK_AUTH, DMSG.LNK_SPAN]) : CMD,
        auxLen: pick([0, 8, 16, 40, 64, 200, 1000]),
        fill: Math.floor(rand() * 256),
      });
      // A hostile message mostly ends a write, and the one before it too: a read then starts with it, so the tap is offered it.
      if (hostile && i > 0 && rand() < 0.7) ends[i - 1] = true;
      ends.push(hostile ? rand() < 0.7 : rand() < 0.4);
    }
    chunks.push(specs);
    alone.push(ends);
    const cuts: number[] = [];
    const k = Math.floor(rand() * 3);
    for (let j = 0; j < k; j++) cuts.push(rand());
    splits.push(cuts.sort());
    pauseBefore.push(rand() < 0.12);
  }
  const at = (p: number): number => (rand() < p ? Math.floor(rand() * 8) : -1);
  return {
    chunks,
    alone,
    splits,
    pauseBefore,
    extraSubAt: rand() < 0.3 ? Math.floor(rand() * nChunks) : -1,
    closeAt: [at(0.3), at(0.3), at(0.3), at(0.3)],
    throwAt: [at(0.2), at(0.2), at(0.2), at(0.2)],
    staleSaltLast: rand() < 0.5,
    linkClose: rand() < 0.15 ? [Math.floor(rand() * 4), Math.floor(rand() * 8)] : [-1, -1],
    swap: rand() < 0.4 ? [Math.floor(rand() * 4), Math.floor(rand() * 6)] : [-1, -1],
  };
}

function auxOf(len: number, fill: number): Uint8Array {
  const a = new Uint8Array(len);
  for (let i = 0; i < len; i++) a[i] = (fill + i * 7) & 0xff;
  return a;
}

async function runPlan(plan: Plan, kind: PairKind, general: boolean) {
  const l = await rawLink(kind, { name: 'rx' });
  try {
    const io = l.io;
    const peer = l.peer;
    // Two transactions we open, one the peer opens (accepted from transactions$), and one we
    // open whose REPLY|CREATE never comes (mid-stream messages before it: the state rules' rxCreated cases).
    const peerTx: Transaction[] = [];
    io.transactions$.subscribe((t) => void peerTx.push(t));
    const ours = [io.open(CMD), io.open(CMD)];
    const PEER_ID = 0x51n;
    peer.send({ cmd: CMD | DMSGF.CREATE, msgid: PEER_ID }, undefined, auxOf(32, 9));
    for (const u of ours) peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS, msgid: BigInt(u._id) }, undefined, auxOf(24, 3));
    await peer.roundTrip();
    expect(peerTx.length).toBe(1);
    const txs = [ours[0]!, ours[1]!, peerTx[0]!, io.open(CMD)];
    const sinks = txs.map(() => new KeepingSink());
    const handedOver: FuzzChannel[] = [];
    const chans = txs.map((t, i) => {
      const ch = new FuzzChannel(t, { frameCmd: CMD, maxBatchBytes: 65536 });
      ch.closeAt = plan.closeAt[i]!;
      ch.throwAt = plan.throwAt[i]!;
      if (plan.linkClose[0] === i) {
        ch.linkCloseAt = plan.linkClose[1];
        ch.onLinkClose = () => void io.close().catch(() => {});
      }
      ch.bind(sinks[i]!);
      ch.sink = sinks[i]!;
      let sub = t.subscribeRaw(ch);
      if (plan.swap[0] === i) {
        ch.swapAt = plan.swap[1];
        ch.onSwap = () => {
          sub.unsubscribe();
          const next = new FuzzChannel(t, { frameCmd: CMD, maxBatchBytes: 65536 });
          next.bind(sinks[i]!);
          next.sink = sinks[i]!;
          handedOver.push(next);
          // (Half the time nobody takes over: later messages reach nobody.)
          if (plan.swap[1] % 2 === 0) sub = t.subscribeRaw(next);
        };
      }
      return ch;
    });
    const silent: Subscription[] = [];
    if (general) for (const t of txs) silent.push(t.rx$.subscribe({ error: () => {} }));
    let extra: Subscription | null = null;
    const heldWhilePaused: string[] = [];

    const idOf = (t: Target): bigint => (t === 'unknown' ? 0x7777n : t === 'zero' ? 0n : BigInt(txs[t]!._id));
    const build = (s: Spec): Uint8Array => {
      const oursTarget = s.target === 0 || s.target === 1 || s.target === 3;
      let cmd = s.base | (oursTarget ? DMSGF.REPLY | DMSGF.REVTRANS : 0);
      cmd ^= s.flip;
      let msgid = s.target === 2 ? PEER_ID : idOf(s.target);
      if (s.bigMsgid) msgid += 1n << 32n;
      let circuit = 0n;
      if (s.circuit === 'ours') {
        circuit = BigInt(txs[0]!._id);
        cmd |= DMSGF.REVCIRC;
      } else if (s.circuit === 'oursNoRev') circuit = BigInt(txs[0]!._id);
      else if (s.circuit === 'peersRev') {
        circuit = PEER_ID;
        cmd |= DMSGF.REVCIRC;
      } else if (s.circuit === 'peers') circuit = PEER_ID;
      else if (s.circuit === 'unknown') circuit = 0x4242n;
      else if (s.circuit === 'big') circuit = 1n << 32n;
      let ext: Uint8Array | undefined;
      if (s.ext) {
        cmd = ((cmd & ~DMSGF.SIZE) | 2) >>> 0;
        ext = new Uint8Array(64).fill(s.fill);
      }
      const h: Partial<Header> = { cmd: cmd >>> 0, msgid, circuit, salt: peer.seq, error: s.error, reserved02: s.reserved02 };
      if (s.reserved18) h.reserved18 = 1n;
      peer.skipSeq();
      return concatBytes(encodeMessage({ header: h, ext, aux: auxOf(s.auxLen, s.fill) }));
    };

    const settle = async (): Promise<void> => {
      if (!io.isOpen) return;
      await Promise.race([peer.roundTrip().catch(() => {}), l.closed]);
    };
    for (let c = 0; c < plan.chunks.length && io.isOpen; c++) {
      // A second rx$ observer for a while: it records what it gets (the tap must stand aside for it).
      if (c === plan.extraSubAt) extra = txs[0]!.rx$.subscribe({ next: (m) => void sinks[0]!.events.push(`x${Buffer.from(m.aux).toString('hex')}`), error: () => {} });
      else if (extra !== null && c === plan.extraSubAt + 1) {
        extra.unsubscribe();
        extra = null;
      }
      const encoded = plan.chunks[c]!.map(build);
      const paused = plan.pauseBefore[c]!;
      if (paused) io.pauseReading();
      // Writes: messages alone or together, some cut at random bytes.
      const writes: Uint8Array[] = [];
      let group: Uint8Array[] = [];
      encoded.forEach((m, i) => {
        group.push(m);
        if (plan.alone[c]![i] || i === encoded.length - 1) {
          writes.push(concatBytes(group));
          group = [];
        }
      });
      const bytes = concatBytes(writes);
      const bounds = new Set<number>();
      let end = 0;
      for (const w of writes) bounds.add((end += w.length));
      for (const f of plan.splits[c]!) bounds.add(Math.max(1, Math.floor(f * bytes.length)));
      let from = 0;
      for (const to of [...bounds].sort((x, y) => x - y)) {
        if (to > from) {
          peer.writeRaw(bytes.slice(from, to));
          from = to;
          // One read per write (the memory link delivers each write as it comes).
          if (kind === 'memory') await new Promise<void>((r) => setImmediate(r));
        }
      }
      if (paused) {
        // Let the bytes arrive and be held: nothing reaches a channel while the link's reading is paused.
        await new Promise<void>((r) => setImmediate(r));
        heldWhilePaused.push(sinks.map((s) => s.events.length).join(','));
        io.resumeReading();
      }
      await settle();
    }
    if (plan.staleSaltLast && io.isOpen) {
      // A wrong sequence number on a transaction whose channel still reads (the same one in both runs).
      const live = chans.findIndex((ch) => !ch.isEnded);
      const t = live < 0 ? 0 : live;
      const cmd = t === 2 ? CMD : CMD | DMSGF.REPLY | DMSGF.REVTRANS;
      peer.writeRaw(concatBytes(encodeMessage({ header: { cmd, msgid: t === 2 ? PEER_ID : BigInt(txs[t]!._id), salt: (peer.seq + 5) & 0xff }, aux: auxOf(16, 1) })));
      await Promise.race([l.closed, settle()]);
    }
    const st = io.stats();
    const link = io.isOpen ? 'open' : reasonCode(await l.closed);
    return {
      outcome: {
        channels: sinks.map((s) => s.dump()),
        link,
        stats: `${st.messagesIn}/${st.dropped}`,
        heldWhilePaused,
        wrote: peer.received.map((m) => `${m.header.cmd.toString(16)}:${m.header.msgid}:${m.header.circuit}:${m.header.error}:${Buffer.from(m.aux).toString('hex')}`),
      },
      raw: [...chans, ...handedOver].reduce((n, ch) => n + ch.raw, 0),
    };
  } finally {
    await l.close();
  }
}

const SEEDS = Array.from({ length: 16 }, (_, i) => 101 + i * 7);
for (let i = 0; i < Number(process.env.TAP_FUZZ_SEEDS ?? 0); i++) SEEDS.push(1000 + i);

/** A plain message to `target`, with `over` changed. */
function spec(target: Target, over: Partial<Spec> = {}): Spec {
  return { target, flip: 0, bigMsgid: false, circuit: 'none', reserved18: false, error: 0, reserved02: 0, ext: false, base: CMD, auxLen: 24, fill: 0x31, ...over };
}

/** One write of `specs` (after a write of plain messages that the tap takes), with nothing else going on. */
function directed(specs: Spec[], hostileFirstInRead: boolean): Plan {
  const lead = [spec(0, { fill: 1 }), spec(1, { fill: 2 }), spec(3, { fill: 3 })];
  const tail = [spec(0, { fill: 4 }), spec(1, { fill: 5 }), spec(2, { fill: 6 }), spec(3, { fill: 7 })];
  // Each in its own read (the lead in a write of its own, then each message of the case). Else one write: the tap takes the lead, then meets the case.
  const mid = hostileFirstInRead ? specs : [...lead, ...specs];
  return {
    chunks: hostileFirstInRead ? [lead, mid, tail] : [mid, tail],
    alone: hostileFirstInRead ? [lead.map(() => false), mid.map(() => true), tail.map(() => false)] : [mid.map(() => false), tail.map(() => false)],
    splits: hostileFirstInRead ? [[], [], []] : [[], []],
    pauseBefore: hostileFirstInRead ? [false, false, false] : [false, false],
    extraSubAt: -1,
    closeAt: [-1, -1, -1, -1],
    throwAt: [-1, -1, -1, -1],
    staleSaltLast: false,
    linkClose: [-1, -1],
    swap: [-1, -1],
  };
}

const DIRECTED: Array<[string, Spec[]]> = [
  ['ABORT on a transaction whose REPLY|CREATE has not come', [spec(3, { flip: DMSGF.ABORT }), spec(3)]],
  ['ABORT mid-stream on an open transaction', [spec(0, { flip: DMSGF.ABORT }), spec(0)]],
  ['LNK_AUTH mid-stream on a transaction', [spec(0, { base: DMSG.LNK_AUTH }), spec(0)]],
  ['extended header, then plain data of the same transaction', [spec(0, { ext: true }), spec(0), spec(1)]],
  ['nonzero error and reserved02', [spec(1, { error: 5, reserved02: 0x1234 }), spec(1)]],
  ['msgid 0 with REPLY|REVTRANS', [spec('zero'), spec(0)]],
  ['REVTRANS dropped from a reply', [spec(0, { flip: DMSGF.REVTRANS }), spec(0)]],
  ['REVTRANS added to the peer-opened transaction', [spec(2, { flip: DMSGF.REVTRANS }), spec(2)]],
  ['circuit of our transaction without REVCIRC', [spec(1, { circuit: 'oursNoRev' }), spec(1)]],
  ['circuit of the peer transaction with REVCIRC', [spec(1, { circuit: 'peersRev' }), spec(1)]],
  ['circuit 2^32', [spec(2, { circuit: 'big' }), spec(2)]],
  ['msgid 2^32 + id', [spec(1, { bigMsgid: true }), spec(1)]],
  ['reserved18 nonzero', [spec(0, { reserved18: true }), spec(0)]],
  ['DELETE mid-stream, then more data', [spec(1, { flip: DMSGF.DELETE }), spec(1), spec(0)]],
  ['CREATE flipped on an open transaction', [spec(0, { flip: DMSGF.CREATE }), spec(0)]],
  // A tap that remembers its observer: handed over to a new raw observer from inside a delivery, mid-read.
  ['the raw observer hands over to a new one from inside its delivery', [spec(1), spec(1), spec(1), spec(0), spec(1)]],
  ['a second rx$ observer subscribes between two reads of the transaction the tap took last', [spec(0), spec(0), spec(1)]],
  ['the raw observer unsubscribes from inside its delivery, nobody after it', [spec(1), spec(1), spec(1), spec(1), spec(0), spec(1)]],
  // A tap that remembers its last circuit (mc9): the same circuit id with and without REVCIRC, and a circuit freed meanwhile.
  ['one circuit id with REVCIRC, then without', [spec(1, { circuit: 'ours' }), spec(1, { circuit: 'oursNoRev' }), spec(1)]],
  ['one circuit id without REVCIRC, then with', [spec(1, { circuit: 'peers' }), spec(1, { circuit: 'peersRev' }), spec(1)]],
  ['a circuit whose transaction is freed between two messages naming it', [spec(1, { circuit: 'peers' }), spec(2, { flip: DMSGF.DELETE }), spec(1, { circuit: 'peers' }), spec(1)]],
  ['a remembered transaction freed, then named again', [spec(2), spec(2, { flip: DMSGF.DELETE }), spec(2), spec(1)]],
];

describe('receive tap, directed hostile cases, tap on and off give the same result (review9)', () => {
  it(`${DIRECTED.length} cases, each message in its own read, and all behind tapped messages in one read`, async () => {
    for (const [what, specs] of DIRECTED) {
      for (const first of [true, false]) {
        const plan = directed(specs, first);
        // Channel 1's third message (the lead's, then the case's first two) hands over; its fourth unsubscribes with nobody after it.
        if (what.includes('hands over')) plan.swap = [1, 2];
        if (what.includes('unsubscribes')) plan.swap = [1, 3];
        if (what.includes('second rx$ observer')) {
          // The tap last took transaction 0's message; a second observer subscribes before the next read.
          plan.chunks = [[spec(0, { fill: 1 }), spec(0, { fill: 2 })], specs];
          plan.alone = [[false, false], specs.map(() => first)];
          plan.splits = [[], []];
          plan.pauseBefore = [false, false];
          plan.extraSubAt = 1;
        }
        const fast = await runPlan(plan, 'memory', false);
        const slow = await runPlan(plan, 'memory', true);
        // Not vacuous: the tap took messages (here the two before the second observer came).
        expect(fast.raw, what).toBeGreaterThan(what.includes('second rx$') ? 1 : 2);
        expect(fast.outcome, `${what} (${first ? 'one read each' : 'behind tapped messages'})`).toEqual(slow.outcome);
      }
    }
  });
});

describe('receive tap, differential fuzz: hostile mid-stream traffic, tap on and off give the same result (review9)', () => {
  it(`seeds ${SEEDS.join(',')}: memory link, the same bytes, endings, counters and replies`, async () => {
    let tapped = 0;
    for (const seed of SEEDS) {
      const plan = makePlan(seed);
      const fast = await runPlan(plan, 'memory', false);
      const slow = await runPlan(plan, 'memory', true);
      expect(slow.raw, `seed ${seed}`).toBe(0);
      // Absolute, not only differential: nothing reaches a channel's owner once it closed or was lost.
      for (const ch of fast.outcome.channels) {
        const end = ch.findIndex((e) => e === 'closed' || e.startsWith('lost:'));
        if (end >= 0) expect(ch.slice(end + 1).filter((e) => /^d[0-9]+$/.test(e)), `seed ${seed}: data after the end`).toEqual([]);
      }
      tapped += fast.raw;
      if (process.env.TAP_FUZZ_DEBUG) console.log(seed, fast.raw, fast.outcome.link, fast.outcome.stats, fast.outcome.channels.map((c) => c.length), fast.outcome.wrote.length);
      expect(fast.outcome, `seed ${seed}`).toEqual(slow.outcome);
    }
    // Not vacuous: the tap took many messages.
    expect(tapped).toBeGreaterThan(SEEDS.length * 3);
  });
  it('seeds 7, 77: loopback TCP (the reused socket read buffer): views kept by the reader stay intact', async () => {
    let tapped = 0;
    for (const seed of [7, 77]) {
      const plan = makePlan(seed);
      const fast = await runPlan(plan, 'tcp', false);
      const slow = await runPlan(plan, 'tcp', true);
      tapped += fast.raw;
      expect(fast.outcome, `seed ${seed}`).toEqual(slow.outcome);
    }
    expect(tapped).toBeGreaterThan(3);
  });
});
