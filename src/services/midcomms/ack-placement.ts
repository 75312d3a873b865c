/**
 * Where a session's ACKs go (spec §5.6): the channel they are written on
 * (the one the peer's latest sequenced frame came on while it is usable,
 * else the current one), an ACK owed until a channel can take it, and the
 * transmit-threshold ACK joined ahead of the message that triggered it (one
 * channel write for both) or written alone when that message does not
 * follow. The session's pump (`session.ts`) asks this part what is due and
 * hands it the frame to join; the counting that decides when an ACK is due
 * is the receiver's (`receiver.ts`).
 */
import type { ChannelSet, ChannelState } from './channel-set.ts';
import { DLM_CMD, DLM_VERSION, SIZE } from './constants.ts';
import { encodeAck, writeHeader } from './frame-encoder.ts';
import { FrameSlab } from './frame-slab.ts';
import type { ResolvedMidcommsOptions } from './options.ts';
import type { Receiver } from './receiver.ts';
import type { Sender } from './sender.ts';
import type { SessionIdentity } from './session-identity.ts';
import type { SessionStats } from './session-stats.ts';

/** What ACK placement reaches of its session. */
export interface AckHost {
  readonly o: ResolvedMidcommsOptions;
  readonly id: SessionIdentity;
  readonly tx: Sender;
  readonly rx: Receiver<ChannelState>;
  readonly chans: ChannelSet;
  readonly stats: SessionStats;
  /** The session's pump is running (a joined ACK is then left to it). */
  pumping(): boolean;
}

export class AckPlacement {
  readonly #h: AckHost;
  /** An ACK is due but no channel could take it yet: the pump writes it first. */
  owed = false;
  /**
   * A transmit-threshold ACK (§5.6 step 1) waiting to go out in the same
   * channel write as the message that triggered it, right before it (one
   * DMSG message for both, not two): the ACK value, or -1 for none. Set
   * only when that message is the next frame the pump writes on the
   * current channel; the pump writes it alone if the message does not follow.
   */
  ahead = -1;
  /** Where an ACK and its message are joined (a typed array with a buffer of its own costs about a µs; once per `txAckThreshold` messages). */
  readonly #joinSlab = new FrameSlab(16 * 1024);
  /**
   * The channel the peer's latest sequenced frame came on: the peer transmits
   * on its current channel, so that one is alive at its end, and our ACKs go
   * there (ours may be a channel the peer already lost without our knowing).
   */
  #rxChannel: ChannelState | null = null;
  /** A sequenced frame arrived in this session (an ACK may have been lost with a channel). */
  #rxAny = false;

  constructor(host: AckHost) {
    this.#h = host;
  }

  /** A sequenced frame from the peer came on `cs`: our ACKs go there now. */
  received(cs: ChannelState): void {
    this.#rxChannel = cs;
    this.#rxAny = true;
  }

  /**
   * A new channel became current: ACKs written on the old one may have died
   * with it, so say again where we are (on the new one, until the peer's next
   * frame shows which channel it transmits on).
   */
  channelBecameCurrent(): void {
    if (this.#rxAny) {
      this.#rxChannel = null;
      this.owed = true;
    }
  }

  /** Channel `cs` ended. */
  channelEnded(cs: ChannelState): void {
    if (this.#rxChannel === cs) this.#rxChannel = null;
  }

  /** The session was reset: nothing is owed, nothing was received. */
  forget(): void {
    this.owed = false;
    this.#rxAny = false;
    this.#rxChannel = null;
  }

  /** There is no current channel: a joined ACK waiting becomes an owed one. */
  noChannel(): void {
    if (this.ahead >= 0) {
      this.ahead = -1;
      this.owed = true;
    }
  }

  /** ACK(seq_next). `threshold`: a threshold or timer ACK, which clears the delivered count. */
  send(threshold: boolean): void {
    const h = this.#h;
    if (h.id.peerVersion !== DLM_VERSION.V3_2 || h.o.version !== DLM_VERSION.V3_2) return;
    if (threshold) h.rx.acked();
    const cs = this.#channel();
    if (cs === null) {
      this.owed = true;
      h.chans.ensure();
      return;
    }
    this.owed = false;
    h.stats.acksSent++;
    h.chans.write(cs, encodeAck(DLM_VERSION.V3_2, h.o.nodeid, h.rx.ackValue));
  }

  /**
   * The transmit-threshold ACK before the message being committed: in the
   * same channel write as that message when it is the next frame the pump
   * will write on the channel the ACK goes to (`ahead`), else now, alone.
   */
  beforeNext(): void {
    const h = this.#h;
    const cs = h.chans.current;
    if (cs === null || h.pumping() || cs.blocked || this.#channel() !== cs || !h.tx.allTransmitted || !this.#acking()) {
      this.send(true);
      return;
    }
    h.rx.acked();
    this.owed = false;
    h.stats.acksSent++;
    this.ahead = h.rx.ackValue;
  }

  /** The waiting joined ACK, and `frame` after it in the same write (null: the ACK alone). */
  writeAhead(cs: ChannelState, frame: Uint8Array | null): void {
    const h = this.#h;
    const ack = this.ahead;
    this.ahead = -1;
    if (cs.dead) {
      this.owed = true;
      return;
    }
    if (frame === null) {
      h.chans.write(cs, encodeAck(DLM_VERSION.V3_2, h.o.nodeid, ack));
      return;
    }
    const both = this.#joinSlab.alloc(SIZE.HEADER + frame.length);
    writeHeader(both, 0, DLM_VERSION.V3_2, ack, h.o.nodeid, SIZE.HEADER, DLM_CMD.ACK);
    both.set(frame, SIZE.HEADER);
    h.stats.framesSent++; // the ACK; the write counts the message
    h.chans.write(cs, both);
  }

  /** Both ends speak 3.2: ACKs are sent. */
  #acking(): boolean {
    const h = this.#h;
    return h.id.peerVersion === DLM_VERSION.V3_2 && h.o.version === DLM_VERSION.V3_2;
  }

  /** Where an ACK goes now: the channel the peer's latest sequenced frame came on while it is usable, else the current one. */
  #channel(): ChannelState | null {
    const rx = this.#rxChannel;
    return rx !== null && !rx.dead && rx.helloSeen && !rx.refused ? rx : this.#h.chans.current;
  }
}
