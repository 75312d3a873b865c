/**
 * One midcomms session with one peer (spec §5): sequencing, cumulative ACK,
 * duplicate suppression, retransmission of every committed unacknowledged
 * message after a new channel opens, the FIN close, member counting, version
 * detection and session incarnations. It runs over abstract channels
 * (`channel.ts`) and an injected clock, so the whole engine is testable with
 * in-memory fakes and virtual time.
 *
 * Nothing a peer sends throws out of here: malformed frames are counted in
 * `stats().drops` and dropped, framing errors close that one channel.
 *
 * The Session composes the parts, each in its own file: the sender with its
 * retransmit queue (`sender.ts`), the receiver with duplicate suppression and
 * ACK counting (`receiver.ts`), the channels (`channel-set.ts`), who the
 * session is with (`session-identity.ts`), HELLO handling (`session-hello.ts`),
 * where ACKs go (`ack-placement.ts`) and the FIN close, members, reset and
 * fence (`fin-driver.ts`). Here: the public API, the pump, and the dispatch
 * of received frames.
 */
import type { Observable } from 'rxjs';
import type { Channel, ChannelOpener, ChannelSink } from './channel.ts';
import { AckPlacement } from './ack-placement.ts';
import { ChannelSet } from './channel-set.ts';
import type { ChannelState } from './channel-set.ts';
import { DLM_CMD, DLM_VERSION, MC_STATE, stateName } from './constants.ts';
import type { McState } from './constants.ts';
import { FinDriver, midcommsErr } from './fin-driver.ts';
import { encodeHello } from './frame-encoder.ts';
import { frameLengthAt, frameLengthOrFail, nodeidAt, optsInnerStart, parseFrame, u32At } from './frame-reader.ts';
import type { DropReason, ParsedFrame } from './frame-reader.ts';
import { describeSessionId } from './hello.ts';
import type { ResolvedMidcommsOptions } from './options.ts';
import { Receiver } from './receiver.ts';
import type { ReadOptions } from './receiver.ts';
import { Sender } from './sender.ts';
import type { SessionContext } from './session-context.ts';
import { onHello } from './session-hello.ts';
import type { HelloHost } from './session-hello.ts';
import { SessionIdentity } from './session-identity.ts';
import { SessionStats } from './session-stats.ts';
import type { SessionStatsSnapshot } from './session-stats.ts';

export interface SendOptions {
  /** Abort waiting for room in the window (the message is then not sent). */
  signal?: AbortSignal;
}

export type { SessionContext } from './session-context.ts';

export class Session {
  /** The peer's mesh address (the key its owner files it under). */
  readonly peer: string;
  readonly #o: ResolvedMidcommsOptions;

  /** Our id, the peer's, its node id and version (`session-identity.ts`). */
  readonly #id: SessionIdentity;
  /** FIN state, members, reset, fence, shutdown (`fin-driver.ts`). */
  readonly #fin: FinDriver;
  /** What HELLO handling (`session-hello.ts`) reaches of this session. */
  readonly #helloHost: HelloHost;

  readonly #tx: Sender;
  readonly #rx: Receiver<ChannelState>;

  readonly #chans: ChannelSet;
  /** Where ACKs go: owed, joined ahead of a frame, or alone (`ack-placement.ts`). */
  readonly #acks: AckPlacement;
  #pumping = false;
  /** The resume ticket the peer gave us (TICKET on a channel we opened): our next channel's HELLO carries it. */
  #ticket: Uint8Array | null = null;

  readonly #stats = new SessionStats();

  /** FIN state changes (§5.8), starting with the current one. */
  readonly state$: Observable<McState>;
  /**
   * Messages from the peer: complete inner DLM messages (header included),
   * owned by the subscriber (a view into a private copy of the batch it came
   * in, small batches copied into a 16 KiB receive slab that nothing writes
   * again: `slice()` it to keep only the message). Sequenced messages come in
   * order, exactly once; stateless RCOM and 3.1 messages come as received. Without a subscriber
   * (or while paused) messages wait, bounded, and are not acknowledged.
   */
  readonly messages$: Observable<Uint8Array>;

  /**
   * `messages$.subscribe({ next, complete })` for a reader on the hot path
   * (the DLM's endpoint): the same messages, order and ownership, without
   * rxjs per message. What `next` throws goes to `onError`, or without one
   * is thrown later on a timer as rxjs does; never into the receive path.
   * `options.borrow`: the reader consumes each message during the call and
   * copies what it keeps, so messages need not be copied for it (see
   * `ReadOptions`).
   */
  read(next: (bytes: Uint8Array) => void, complete: () => void, onError?: (err: unknown) => void, options?: ReadOptions): { unsubscribe(): void } {
    return this.#rx.read(next, complete, onError, options);
  }

  constructor(peer: string, opener: ChannelOpener | null, options: ResolvedMidcommsOptions, ctx: SessionContext) {
    this.peer = peer;
    this.#o = options;
    const id = new SessionIdentity(options, ctx);
    this.#id = id;
    this.#chans = new ChannelSet(
      {
        data: (cs, bytes) => this.#onData(cs, bytes),
        becameCurrent: () => {
          this.#tx.rewind();
          this.#acks.channelBecameCurrent();
          this.#pump();
        },
        writable: () => this.#pump(),
        needChannel: () => this.#needChannel(),
        hello: (channel) => encodeHello(this.#o.version, this.#o.nodeid, id.local, id.remote, 0, ctx.address, channel.token, this.#ticket ?? undefined),
        ended: (cs) => {
          this.#acks.channelEnded(cs);
          this.#rx.channelEnded(cs);
        },
      },
      opener,
      options,
      this.#stats,
    );
    const session = this;
    this.#tx = new Sender(
      {
        sequenced: () => this.#sequenced(),
        beforeSequenced: () => {
          // Transmit threshold (§5.6 step 1): an ACK before the message.
          if (this.#rx.txThresholdReached) this.#acks.beforeNext();
        },
        pump: () => this.#pump(),
        transmit: () => this.#transmit(),
        peer,
      },
      options,
      this.#stats,
    );
    this.#rx = new Receiver<ChannelState>(
      {
        sendAck: (threshold) => this.#acks.send(threshold),
        finReceived: () => this.#fin.apply('finReceived'),
        resync: (cs) => this.#chans.close(cs, 'receive buffer overflowed; resend'),
        get closed() {
          return session.closed;
        },
      },
      options,
      this.#stats,
    );
    this.messages$ = this.#rx.messages$;
    this.#acks = new AckPlacement({
      o: options,
      id,
      tx: this.#tx,
      rx: this.#rx,
      chans: this.#chans,
      stats: this.#stats,
      pumping: () => this.#pumping,
    });
    this.#fin = new FinDriver(
      {
        peer,
        tx: this.#tx,
        rx: this.#rx,
        chans: this.#chans,
        sendAck: () => this.#acks.send(false),
        forgetAcks: () => this.#acks.forget(),
      },
      options,
      ctx,
      id,
      this.#stats,
    );
    this.state$ = this.#fin.state$;
    this.#helloHost = {
      peer,
      o: options,
      ctx,
      id,
      chans: this.#chans,
      fin: this.#fin,
      stats: this.#stats,
      drop: (reason) => this.#drop(reason),
      becomeUnsequenced: () => this.#becomeUnsequenced(),
    };
  }

  get state(): McState {
    return this.#fin.state;
  }
  get users(): number {
    return this.#fin.users;
  }
  get closed(): boolean {
    return this.#fin.closed;
  }
  /** `send()` calls waiting for room in the window. */
  get waiting(): number {
    return this.#tx.waiting;
  }

  /** Replaces how channels to the peer are opened (the router binding learns the path late). */
  setOpener(opener: ChannelOpener | null): void {
    this.#chans.setOpener(opener);
    if (opener !== null) this.pathAvailable();
  }

  stats(): SessionStatsSnapshot {
    const id = this.#id;
    return this.#stats.snapshot({
      state: stateName(this.#fin.state),
      version: id.peerVersion,
      peerNodeid: id.peerNodeid,
      local: describeSessionId(id.local),
      remote: describeSessionId(id.remote),
      seqSend: this.#tx.seqSend,
      firstUnacked: this.#tx.firstUnacked,
      seqNext: this.#rx.seqNext,
      queueMessages: this.#tx.queueMessages,
      queueBytes: this.#tx.queueBytes,
      inboundMessages: this.#rx.inboundMessages,
      inboundBytes: this.#rx.inboundBytes,
      waiting: this.#tx.waiting,
      windowMessages: this.#o.windowMessages,
      windowBytes: this.#o.windowBytes,
      users: this.#fin.users,
      stopTx: this.#tx.stopTx,
      stopRx: this.#fin.stopRx,
      channels: this.#chans.size,
    });
  }

  // ---------------------------------------------------------------- sending

  /** Queues `message` (a complete MSG or RCOM inner message); resolves once it is committed. */
  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    return this.#tx.send(message, false, options?.signal);
  }

  /**
   * `send()` for a caller that does not wait for the commit (the DLM's
   * endpoint): the same checks and window, but no promise per message.
   * `onError` hears, asynchronously, of a refused message or of a wait for
   * room that failed (e.g. FENCED).
   */
  post(message: Uint8Array, onError: (err: Error) => void): void {
    this.#tx.post(message, onError);
  }

  /**
   * `post()` that never waits: true when the message was committed (or
   * refused: `onError` hears why); false, with nothing queued, when the
   * window is full or other sends wait for room — the caller keeps it and
   * `send()`s it later, in order.
   */
  tryPost(message: Uint8Array, onError: (err: Error) => void): boolean {
    return this.#tx.tryPost(message, onError);
  }

  /** Like `send()`, but resolves when the peer acknowledged the message. */
  sendAcked(message: Uint8Array, options: SendOptions = {}): Promise<void> {
    if (this.#id.peerVersion === DLM_VERSION.V3_1 || this.#o.version === DLM_VERSION.V3_1) {
      return Promise.reject(midcommsErr('UNSEQUENCED', 'a 3.1 peer acknowledges nothing'));
    }
    return this.#tx.send(message, true, options.signal);
  }

  /**
   * Sends a stateless RCOM (STATUS, STATUS_REPLY, NAMES, NAMES_REPLY) raw,
   * outside the sequence (§5.3). Best effort: lost with a broken channel.
   */
  sendStateless(message: Uint8Array): void {
    this.#tx.sendStateless(message);
  }

  #sequenced(): boolean {
    return this.#o.version === DLM_VERSION.V3_2 && this.#id.peerVersion !== DLM_VERSION.V3_1;
  }

  /**
   * A sequenced frame was just committed. The common case, the pump idle,
   * the current channel open and nothing else due on it (no ACK owed or
   * joined, nothing before the frame), writes it at once: what the pump
   * would do, without its loop. Anything else pumps.
   */
  #transmit(): void {
    const cs = this.#chans.current;
    if (cs !== null && !cs.blocked && !this.#pumping && !this.#acks.owed && this.#acks.ahead < 0 && !this.#fin.closed) {
      const frame = this.#tx.nextAlone();
      if (frame !== undefined) {
        this.#pumping = true;
        try {
          this.#chans.write(cs, frame);
        } finally {
          this.#pumping = false;
        }
        // The write lost the channel and another one became current meanwhile: it takes what is due now.
        if (this.#chans.current !== cs && this.#chans.current !== null) this.#pump();
        return;
      }
    }
    this.#pump();
  }

  /** Writes what is due on the current channel, in order, until it pushes back. */
  #pump(): void {
    // (A pump already running writes a waiting ACK in its own loop or finally.)
    if (this.#pumping) return;
    const acks = this.#acks;
    if (this.#fin.closed) {
      acks.ahead = -1;
      return;
    }
    const cs = this.#chans.current;
    if (cs === null) {
      acks.noChannel();
      if (this.#needChannel()) this.#chans.ensure();
      return;
    }
    this.#pumping = true;
    try {
      if (acks.owed) acks.send(false);
      while (!cs.blocked && !cs.dead && this.#chans.current === cs) {
        const frame = this.#tx.next();
        if (frame === undefined) break;
        if (acks.ahead >= 0) acks.writeAhead(cs, frame);
        else this.#chans.write(cs, frame);
      }
    } finally {
      this.#pumping = false;
      // The message did not follow (nothing to write after all): the ACK goes alone.
      if (acks.ahead >= 0) acks.writeAhead(cs, null);
    }
    // A write lost the channel and another one became current meanwhile (its
    // own pump found this one running): it takes what is due now.
    const now = this.#chans.current;
    if (now !== cs && now !== null) this.#pump();
  }

  // ---------------------------------------------------------------- channels

  /** A channel the peer opened; feed its events to the returned sink. */
  accept(channel: Channel): ChannelSink {
    return this.#chans.accept(channel);
  }

  /** A path to the peer may exist now: retry a pending open at once. */
  pathAvailable(): void {
    this.#chans.pathAvailable();
  }

  #needChannel(): boolean {
    return !this.#fin.closed && (this.#tx.pending || this.#acks.owed || this.#rx.ackDue);
  }

  // ---------------------------------------------------------------- receiving

  #onData(cs: ChannelState, bytes: Uint8Array): void {
    try {
      this.#onBatch(cs, bytes);
    } finally {
      // The caller may reuse `bytes`: never match it against a later batch.
      this.#rx.endBatch();
      // An ACK that came in front of a message is applied once that message was read (and its reply written).
      this.#tx.settle();
    }
  }

  #onBatch(cs: ChannelState, bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length && !cs.dead) {
      const length = frameLengthOrFail(bytes, off);
      if (length < 0) {
        const check = frameLengthAt(bytes, off);
        const code = check.ok ? 'TRUNCATED' : check.code;
        this.#stats.channelErrors[code]++;
        this.#chans.close(cs, check.ok ? 'framing check disagreed' : check.reason);
        return;
      }
      const at = off;
      off += length;
      // The frames of the data path, an OPTS or an ACK frame on a channel
      // that said HELLO from the session's 3.2 peer, go straight to #onOpts
      // or the ACK: the checks of #onFrame they would pass, without a
      // parsed-frame object.
      if (cs.helloSeen && !cs.refused && this.#id.peerVersion === DLM_VERSION.V3_2 && u32At(bytes, at + 8) === this.#id.peerNodeid) {
        const start = optsInnerStart(bytes, at, length);
        if (start >= 0) {
          cs.productive = true;
          this.#onOpts(cs, bytes, u32At(bytes, at + 4), bytes[start + 14]!, start, at + length);
          // (Counted after the message went to the reader: off the path to its reply.)
          this.#stats.framesReceived++;
          continue;
        }
        if (bytes[at + 14] === DLM_CMD.ACK && u32At(bytes, at) === DLM_VERSION.V3_2) {
          this.#stats.framesReceived++;
          cs.productive = true;
          const n = u32At(bytes, at + 4);
          // An ACK in front of more frames (a transmit-threshold ACK joined to
          // its message) is applied after them, once the batch is done
          // (`Sender.deferAck` says why that is safe); else now.
          if (off >= bytes.length || !this.#tx.deferAck(n)) this.#onAck(n);
          continue;
        }
      }
      // Anything else may depend on the send queue's state (a HELLO may reset the session).
      this.#tx.settle();
      this.#onFrame(cs, bytes, at, length);
    }
  }

  #drop(reason: DropReason): void {
    this.#stats.drops[reason]++;
  }

  #onFrame(cs: ChannelState, buf: Uint8Array, at: number, length: number): void {
    this.#stats.framesReceived++;
    const p = parseFrame(buf, at, length);
    if (p.kind === 'hello') {
      if (cs.helloSeen) this.#drop('helloAgain');
      else onHello(this.#helloHost, cs, p);
      return;
    }
    // A PROOF for the channel verifier (a repeated challenge's answer, after the channel was verified): not session traffic.
    if (p.kind === 'proof') return;
    if (p.kind === 'ticket') {
      // Only from the peer on a channel we opened (what comes back on it is the peer's).
      if (cs.opener && cs.helloSeen) this.#ticket = buf.slice(p.at + 16, p.at + 24);
      else this.#drop('badCmd');
      return;
    }
    if (!cs.helloSeen) {
      this.#stats.channelErrors.HELLO_EXPECTED++;
      this.#chans.close(cs, 'the first frame on a channel must be HELLO');
      return;
    }
    if (cs.refused) return this.#drop('staleChannel');
    // §5.4 order: the version (item 2), the recorded version (item 3), then the command (item 4).
    if (p.kind === 'drop' && p.reason === 'badVersion') return this.#drop('badVersion');
    if (p.version !== this.#id.peerVersion) return this.#drop('versionMismatch');
    if (p.kind === 'drop') return this.#drop(p.reason);
    if (p.nodeid !== this.#id.peerNodeid) return this.#drop('nodeidMismatch');
    cs.productive = true;
    if (p.kind === 'ack') this.#onAck(p.ack);
    else if (p.kind === 'opts') this.#onOpts(cs, buf, p.seq, p.innerCmd, p.start, p.end);
    else if (p.kind === 'raw') this.#onRaw(buf.slice(p.start, p.end));
    else this.#drop('badCmd'); // a CHALLENGE belongs on its own transaction
  }

  /** The peer speaks 3.1: what was queued as sequenced goes out bare, without FIN (§5.10). */
  #becomeUnsequenced(): void {
    // An active close toward a 3.1 peer has nothing to do (§5.8).
    if (this.#tx.becomeUnsequenced()) this.#fin.setState(MC_STATE.CLOSED);
    this.#pump();
  }

  #onAck(n: number): void {
    if (this.#id.peerVersion !== DLM_VERSION.V3_2) return this.#drop('wrongGeneration');
    const done = this.#tx.ack(n);
    if (done === null) return this.#drop('badAck');
    this.#stats.acksReceived++;
    for (const e of done) if (e.fin) this.#fin.apply('finAcked');
  }

  /** An OPTS frame: sequence `seq`, inner message `buf[start, end)` with `h_cmd` `innerCmd`. */
  #onOpts(cs: ChannelState, buf: Uint8Array, seq: number, innerCmd: number, start: number, end: number): void {
    if (this.#id.peerVersion !== DLM_VERSION.V3_2 || this.#o.version !== DLM_VERSION.V3_2) return this.#drop('wrongGeneration');
    let kind: 'fin' | 'skip' | 'msg' = 'msg';
    if (innerCmd === DLM_CMD.FIN) kind = 'fin';
    // The upper layer's check (§5.4 item 6): consumed in sequence, not delivered.
    else if (nodeidAt(buf, start) !== this.#id.peerNodeid) kind = 'skip';
    this.#acks.received(cs);
    const verdict = this.#rx.sequenced(seq, kind, buf, start, end, cs);
    if (verdict !== 'taken') return this.#drop(verdict);
    if (kind === 'skip') this.#drop('nodeidMismatch');
    else if (kind === 'msg' && this.#fin.stopRx) this.#stats.rxAfterStopRx++;
  }

  #onRaw(message: Uint8Array): void {
    if (!this.#rx.unsequenced(message)) this.#drop('overflow');
  }

  /** Stop handing messages to the reader; they wait (bounded) and are not acknowledged. */
  pauseReading(): void {
    this.#rx.pause();
  }

  resumeReading(): void {
    this.#rx.resume();
  }

  // ---------------------------------------------------------------- FIN, members (fin-driver.ts)

  /** users += 1 (§5.9); on 0 → 1 the session is ESTABLISHED. */
  addMember(): void {
    this.#fin.addMember();
  }

  /** users -= 1 (§5.9); on reaching 0 a passive close may send our FIN. */
  removeMember(): void {
    this.#fin.removeMember();
  }

  /**
   * Active close (§5.8): send FIN, wait for CLOSED at most
   * `shutdownTimeoutMs`; on timeout the session is reset and this rejects
   * with SHUTDOWN_TIMEOUT. Resolves at once with a 3.1 peer or when CLOSED.
   */
  shutdown(): Promise<void> {
    return this.#fin.shutdown();
  }

  /** Fence the peer (`midcomms_close`): CLOSED at once, everything pending fails with FENCED, the session is forgotten. */
  close(): void {
    this.#fin.close();
  }
}
