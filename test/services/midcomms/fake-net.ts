/**
 * In-memory channels between midcomms sessions, driven by the test: bytes
 * written wait in flight until `deliver*()` moves them; `cut()` loses what is
 * in flight and reports the channel lost on both ends; a high-water mark makes
 * `write()` push back. Nothing moves by itself, so every run is reproducible.
 */
import { ManualClock } from '../../../src/util/clock.ts';
import type { Channel, ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { resolveMidcommsOptions } from '../../../src/services/midcomms/options.ts';
import type { MidcommsOptions } from '../../../src/services/midcomms/options.ts';
import { Session } from '../../../src/services/midcomms/session.ts';

/** A deterministic PRNG (LCG, 32-bit state). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Direction {
  readonly batches: Uint8Array[];
  bytes: number;
  /** The writer closed gracefully: report lost to the reader after the last batch. */
  closing: boolean;
  /** The reader's sink (set when the first batch reaches an acceptor). */
  sink: ChannelSink | null;
  /** The writer's sink, told `writable()` when bytes drain below the mark. */
  writerSink: ChannelSink | null;
  blocked: boolean;
}

export class FakeLink {
  static #ids = 0;
  readonly id = ++FakeLink.#ids;
  /** opener → acceptor, acceptor → opener */
  readonly fwd: Direction = { batches: [], bytes: 0, closing: false, sink: null, writerSink: null, blocked: false };
  readonly rev: Direction = { batches: [], bytes: 0, closing: false, sink: null, writerSink: null, blocked: false };
  dead = false;
  acceptorEnd!: Channel;

  readonly net: FakeNet;
  readonly from: FakeNode;
  readonly to: FakeNode;

  constructor(net: FakeNet, from: FakeNode, to: FakeNode) {
    this.net = net;
    this.from = from;
    this.to = to;
  }

  pending(): number {
    return this.fwd.batches.length + this.rev.batches.length;
  }
}

export class FakeNode {
  readonly sessions = new Map<string, Session>();
  options: MidcommsOptions;
  #gen = 0;

  readonly net: FakeNet;
  readonly name: string;

  constructor(net: FakeNet, name: string, options: MidcommsOptions) {
    this.net = net;
    this.name = name;
    this.options = options;
  }

  /** This node's session with `peer` (made on first use). */
  session(peer: string): Session {
    let s = this.sessions.get(peer);
    if (s === undefined) {
      const resolved = resolveMidcommsOptions({ clock: this.net.clock, ...this.options });
      s = new Session(peer, { open: (sink) => this.net.open(this, peer, sink), awaitsReply: this.net.awaitsReply }, resolved, {
        address: this.name,
        nextGen: () => ++this.#gen,
        onFenced: () => this.sessions.delete(peer),
      });
      this.sessions.set(peer, s);
    }
    return s;
  }

  /** Simulates a restart: every session forgotten, a new incarnation. */
  restart(incarnation: number): void {
    // The old process is gone: its sessions do nothing more (fenced without a word on the wire).
    for (const s of [...this.sessions.values()]) s.close();
    this.sessions.clear();
    this.options = { ...this.options, incarnation };
    for (const link of [...this.net.links]) if (link.from === this || link.to === this) this.net.cut(link);
  }
}

export class FakeNet {
  readonly clock = new ManualClock(0);
  readonly nodes = new Map<string, FakeNode>();
  readonly links: FakeLink[] = [];
  /** Pairs (a|b) that cannot open channels now. */
  readonly partitioned = new Set<string>();
  /** In-flight bytes per direction past which write() returns false. */
  highWaterMark = Number.POSITIVE_INFINITY;
  opened = 0;
  /**
   * Hand every batch to the receiving session in one buffer used again for
   * each delivery and overwritten (0xee) as soon as `data()` returns: what
   * a session keeps of a batch must be its own copy.
   */
  reuseReceiveBuffer = false;
  readonly #shared = new Uint8Array(64 * 1024);
  /** Sessions made from now on write only the HELLO on a channel they open until the peer answers it (the router binding's mode, `ChannelOpener.awaitsReply`). */
  awaitsReply = false;

  node(name: string, options: MidcommsOptions): FakeNode {
    const n = new FakeNode(this, name, options);
    this.nodes.set(name, n);
    return n;
  }

  open(from: FakeNode, to: string, sink: ChannelSink): Channel | null {
    const target = this.nodes.get(to);
    if (target === undefined || this.partitioned.has(`${from.name}|${to}`) || this.partitioned.has(`${to}|${from.name}`)) return null;
    const link = new FakeLink(this, from, target);
    this.opened++;
    link.rev.sink = sink;
    link.fwd.writerSink = sink;
    this.links.push(link);
    link.acceptorEnd = this.#end(link, link.rev);
    return this.#end(link, link.fwd);
  }

  #end(link: FakeLink, out: Direction): Channel {
    return {
      write: (bytes) => {
        if (link.dead || out.closing) return true;
        out.batches.push(bytes.slice());
        out.bytes += bytes.length;
        if (out.bytes > this.highWaterMark) out.blocked = true;
        return !out.blocked;
      },
      close: () => {
        if (link.dead) return;
        out.closing = true;
        // The closing end stops hearing the other side.
        const back = out === link.fwd ? link.rev : link.fwd;
        back.batches.length = 0;
        back.bytes = 0;
        back.sink = null;
        this.#maybeFinish(link, out);
      },
    };
  }

  #maybeFinish(link: FakeLink, dir: Direction): void {
    if (!dir.closing || dir.batches.length > 0 || link.dead) return;
    link.dead = true;
    this.#remove(link);
    dir.sink?.lost('closed by peer');
  }

  #remove(link: FakeLink): void {
    const i = this.links.indexOf(link);
    if (i >= 0) this.links.splice(i, 1);
  }

  /** Delivers the oldest batch of one direction; returns false when nothing was pending. */
  deliverOne(link: FakeLink, forward: boolean): boolean {
    const dir = forward ? link.fwd : link.rev;
    const batch = dir.batches.shift();
    if (batch === undefined) return false;
    dir.bytes -= batch.length;
    if (forward && dir.sink === null && !link.dead) dir.sink = link.to.session(link.from.name).accept(link.acceptorEnd);
    if (forward && dir.sink !== null && link.rev.writerSink === null) link.rev.writerSink = dir.sink;
    if (this.reuseReceiveBuffer && batch.length <= this.#shared.length) {
      // Like a socket reader that reads into one buffer again: the bytes are valid during data() only.
      this.#shared.set(batch);
      dir.sink?.data(this.#shared.subarray(0, batch.length));
      this.#shared.fill(0xee);
    } else dir.sink?.data(batch);
    if (dir.blocked && dir.bytes <= this.highWaterMark) {
      dir.blocked = false;
      dir.writerSink?.writable();
    }
    if (dir.closing) this.#maybeFinish(link, dir);
    return true;
  }

  /** Delivers everything in flight (round robin over links), including what deliveries cause. */
  deliverAll(limit = 10_000_000): number {
    let n = 0;
    for (;;) {
      let moved = false;
      for (const link of [...this.links]) {
        if (this.deliverOne(link, true)) moved = true;
        if (this.deliverOne(link, false)) moved = true;
      }
      if (!moved) return n;
      if (++n > limit) throw new Error('deliverAll: traffic does not settle');
    }
  }

  /** Delivers one random pending batch; false when nothing is pending. */
  deliverRandom(rand: () => number): boolean {
    const busy = this.links.filter((l) => l.pending() > 0);
    if (busy.length === 0) return false;
    const link = busy[Math.floor(rand() * busy.length)]!;
    const forward = link.fwd.batches.length > 0 && (link.rev.batches.length === 0 || rand() < 0.5);
    return this.deliverOne(link, forward);
  }

  /** Loses what is in flight and reports the channel lost at both ends. */
  cut(link: FakeLink): void {
    if (link.dead) return;
    link.dead = true;
    this.#remove(link);
    link.fwd.batches.length = 0;
    link.rev.batches.length = 0;
    link.fwd.bytes = 0;
    link.rev.bytes = 0;
    const a = link.rev.sink;
    const b = link.fwd.sink;
    a?.lost('cut');
    b?.lost('cut');
  }

  /** Settle: deliver everything and run timers falling due within `budgetMs` of virtual time. */
  settle(budgetMs = 1000): void {
    const end = this.clock.now() + budgetMs;
    for (let i = 0; i < 100_000; i++) {
      this.deliverAll();
      const next = this.clock.delays[0];
      if (next === undefined || this.clock.now() + next > end) return;
      this.clock.advance(next);
    }
    throw new Error('settle: timers keep firing');
  }
}

/** An inner MSG carrying `n` (88 bytes, the MSG minimum), lockspace 7. */
export function msg(n: number, size = 88): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x00030002, true);
  dv.setUint32(4, 7, true);
  dv.setUint16(12, size, true);
  b[14] = 1;
  dv.setUint32(16, n >>> 0, true);
  return b;
}

/** The number a `msg()` carries. */
export function msgNumber(m: Uint8Array): number {
  return new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(16, true);
}

/** Two nodes `a` (nodeid 1) and `b` (nodeid 2), their sessions with each other, and what each received. */
export function twoNodes(extra: { a?: MidcommsOptions; b?: MidcommsOptions; awaitsReply?: boolean } = {}) {
  const net = new FakeNet();
  net.awaitsReply = extra.awaitsReply ?? false;
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1, ...extra.a });
  const B = net.node('b', { nodeid: 2, incarnation: 0xb1, ...extra.b });
  const a = A.session('b');
  const b = B.session('a');
  const gotA: number[] = [];
  const gotB: number[] = [];
  a.messages$.subscribe((m) => gotA.push(msgNumber(m)));
  b.messages$.subscribe((m) => gotB.push(msgNumber(m)));
  return { net, A, B, a, b, gotA, gotB };
}
