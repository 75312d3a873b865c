/**
 * The channels of one session: which one we transmit on, opening a new one
 * when it is lost (at once, then with back-off while opens fail), accepting
 * the peer's, and writing with backpressure. What the frames mean is the
 * session's business (`ChannelSetHost`).
 */
import type { Clock } from '../../util/clock.ts';
import type { Channel, ChannelOpener, ChannelSink } from './channel.ts';
import type { SessionStats } from './session-stats.ts';

/** One channel as the session sees it. */
export interface ChannelState {
  readonly id: number;
  channel: Channel | null;
  /** We opened it (else the peer did). */
  readonly opener: boolean;
  helloSeen: boolean;
  refused: boolean;
  dead: boolean;
  blocked: boolean;
  /** A valid frame arrived on it (resets the reconnect back-off). */
  productive: boolean;
}

/** What the channel set asks of its session. */
export interface ChannelSetHost {
  /** Bytes (whole frames) arrived on `cs`. */
  data(cs: ChannelState, bytes: Uint8Array): void;
  /** `cs` is now the channel we transmit on: resend what is unacknowledged, in order. */
  becameCurrent(cs: ChannelState): void;
  /** The current channel can take more. */
  writable(): void;
  /** Something waits for a channel (unacknowledged or unsent messages, an ACK owed). */
  needChannel(): boolean;
  /** The HELLO we write first on a channel we open (`channel`: its token). */
  hello(channel: Channel): Uint8Array;
  /** `cs` ended. */
  ended(cs: ChannelState): void;
}

export interface ChannelSetOptions {
  readonly clock: Clock;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
}

/** Channels kept per session (normally one or two: ours and the peer's, for a moment). */
export const MAX_CHANNELS = 8;

export class ChannelSet {
  readonly #host: ChannelSetHost;
  readonly #o: ChannelSetOptions;
  readonly #stats: SessionStats;
  #opener: ChannelOpener | null;
  readonly #channels = new Set<ChannelState>();
  #current: ChannelState | null = null;
  /** A channel we opened whose HELLO awaits the peer's answer (`ChannelOpener.awaitsReply`). */
  #opening: ChannelState | null = null;
  #nextId = 1;
  #failures = 0;
  #retryTimer: unknown = null;
  #closed = false;

  constructor(host: ChannelSetHost, opener: ChannelOpener | null, options: ChannelSetOptions, stats: SessionStats) {
    this.#host = host;
    this.#opener = opener;
    this.#o = options;
    this.#stats = stats;
  }

  /** The channel we transmit on (null when none is up). */
  get current(): ChannelState | null {
    return this.#current !== null && !this.#current.dead ? this.#current : null;
  }

  get size(): number {
    return this.#channels.size;
  }

  setOpener(opener: ChannelOpener | null): void {
    this.#opener = opener;
  }

  /**
   * A channel the peer opened; feed its events to the returned sink. At most
   * MAX_CHANNELS are kept: a peer that opens more loses its oldest idle ones.
   */
  accept(channel: Channel): ChannelSink {
    const cs = this.#newState(false);
    cs.channel = channel;
    if (this.#closed) {
      cs.dead = true;
      channel.close('fenced');
    } else {
      for (const old of this.#channels) {
        if (this.#channels.size < MAX_CHANNELS) break;
        if (old !== this.#current) this.close(old, 'too many channels');
      }
      this.#channels.add(cs);
      this.#stats.channelsAccepted++;
    }
    return this.#sinkFor(cs);
  }

  /** A path may exist now: retry a pending open at once. */
  pathAvailable(): void {
    if (this.#retryTimer !== null) {
      this.#o.clock.clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    this.#failures = 0;
    if (this.#host.needChannel()) this.ensure();
  }

  /** Make sure a channel is up or being retried. */
  ensure(): void {
    if (this.#closed || this.#opener === null || this.#retryTimer !== null || this.current !== null) return;
    if (this.#opening !== null && !this.#opening.dead) return;
    if (this.#failures === 0) {
      this.#openNow();
      return;
    }
    const delay = Math.min(this.#o.reconnectMaxMs, this.#o.reconnectMinMs * 2 ** Math.min(this.#failures - 1, 20));
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = null;
      if (this.#host.needChannel() && this.current === null) this.#openNow();
    }, delay);
  }

  /** Writes on `cs`; a false return of the channel marks it blocked until `writable`. */
  write(cs: ChannelState, bytes: Uint8Array): void {
    if (cs.channel === null || cs.dead) return;
    let ok: boolean;
    try {
      ok = cs.channel.write(bytes);
    } catch (e) {
      this.lost(cs, `write failed: ${(e as Error).message}`);
      return;
    }
    this.#stats.framesSent++;
    if (!ok) cs.blocked = true;
  }

  /** Transmit on `cs` from now on (everything unacknowledged goes again, §5.7). */
  makeCurrent(cs: ChannelState): void {
    if (this.#opening === cs) this.#opening = null;
    this.#current = cs;
    this.#host.becameCurrent(cs);
  }

  /** The peer answered the HELLO of `cs`, a channel we opened: it no longer counts as being opened. */
  answered(cs: ChannelState): void {
    if (this.#opening === cs) this.#opening = null;
  }

  /** Close the channel we opened that still waits for the peer's answer, if any. */
  closeOpening(reason: string): void {
    const cs = this.#opening;
    if (cs !== null && !cs.dead) this.close(cs, reason);
  }

  /** Close `cs` (what was written goes first) and forget it. */
  close(cs: ChannelState, reason: string): void {
    if (cs.dead) return;
    try {
      cs.channel?.close(reason);
    } catch {
      // the channel is gone either way
    }
    this.lost(cs, reason);
  }

  closeAll(except: ChannelState | null, reason: string): void {
    for (const cs of [...this.#channels]) if (cs !== except) this.close(cs, reason);
  }

  /** `cs` ended: move to another ready channel or open a new one if something waits. */
  lost(cs: ChannelState, _reason: string): void {
    if (cs.dead) return;
    cs.dead = true;
    this.#channels.delete(cs);
    this.#host.ended(cs);
    if (cs.opener) {
      if (cs.productive) this.#failures = 0;
      else this.#failures++;
    }
    this.#stats.channelsLost++;
    if (this.#opening === cs) {
      this.#opening = null;
      if (this.current === null && this.#host.needChannel()) this.ensure();
      return;
    }
    if (this.#current !== cs) return;
    this.#current = null;
    for (const other of this.#channels) {
      if (other.helloSeen && !other.refused && !other.dead) {
        this.makeCurrent(other);
        return;
      }
    }
    if (this.#host.needChannel()) this.ensure();
  }

  /** Close everything and open nothing more. */
  dispose(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #newState(opener: boolean): ChannelState {
    return { id: this.#nextId++, channel: null, opener, helloSeen: false, refused: false, dead: false, blocked: false, productive: false };
  }

  #sinkFor(cs: ChannelState): ChannelSink {
    return {
      data: (bytes) => {
        if (cs.dead) return;
        try {
          this.#host.data(cs, bytes);
        } catch (e) {
          // A bug of ours must not escape into the transport: lose the channel only.
          this.#stats.internalErrors++;
          this.close(cs, `internal error: ${(e as Error).message}`);
        }
      },
      writable: () => {
        if (cs.dead) return;
        cs.blocked = false;
        if (cs === this.#current) this.#host.writable();
      },
      lost: (reason) => this.lost(cs, reason ?? 'lost'),
    };
  }

  #openNow(): void {
    const opener = this.#opener;
    if (opener === null || this.#closed) return;
    const cs = this.#newState(true);
    let channel: Channel | null;
    try {
      channel = opener.open(this.#sinkFor(cs));
    } catch {
      channel = null;
    }
    if (channel === null) {
      this.#failures++;
      this.#stats.openFailures++;
      this.ensure();
      return;
    }
    cs.channel = channel;
    if (cs.dead) return;
    this.#channels.add(cs);
    this.#stats.channelsOpened++;
    this.write(cs, this.#host.hello(channel));
    if (opener.awaitsReply === true) {
      // The peer verifies the channel first: it becomes current on the peer's HELLO (the session's `#onHello`).
      if (!cs.dead) this.#opening = cs;
      return;
    }
    // Pipelined: frames follow the HELLO at once; a refused channel drops them and they go again.
    this.makeCurrent(cs);
  }
}
