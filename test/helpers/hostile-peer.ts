/**
 * A hostile DMSG peer on a raw loopback TCP socket: it writes hand-built
 * frames (src/wire encoders, numbered with the right salt sequence) and may
 * decode what the relay sends, throw it away unread, or never read at all.
 * Every loop here is bounded by a count and a deadline; nothing waits
 * without a safety timeout.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { encodeLnkConn } from '../../src/wire/ext/lnk-conn.ts';
import { decodeLnkSpan, encodeLnkSpan } from '../../src/wire/ext/lnk-span.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import type { Header } from '../../src/wire/header.ts';
import { copyMessage, type Message } from '../../src/wire/message.ts';

/** peer_type of the spans attackers announce; bystanders leave it out of their peer_mask. */
export const ATTACK_PEER_TYPE = 5;

/** How the peer treats what the relay sends. */
export type ReadMode = 'decode' | 'discard' | 'paused';

export interface HostilePeerOptions {
  /** @default 'decode' */
  read?: ReadMode;
  /** Decoded messages kept in `received` (later ones are only counted). @default 10000 */
  keep?: number;
  /** A name for messages. @default 'attacker' */
  label?: string;
}

export interface PeerClosed {
  /** The socket error that ended it (ECONNRESET, EPIPE ...), if any. */
  error: string | null;
  at: number;
}

/** The msgid sendConn() opens LNK_CONN with by default: above 2^32, apart from every attack's ids. */
export const CONN_MSGID = 0x1_0000_0001n;

/** Safety net for every wait: long enough never to end a healthy run. */
export const PEER_SAFETY_MS = 30_000;

export class HostilePeer {
  readonly socket: Socket;
  readonly label: string;
  /** Decoded messages (copies), up to `keep`. */
  readonly received: Message[] = [];
  /** Messages decoded in all. */
  messagesIn = 0;
  /** PING|REPLY messages decoded in all. */
  pingRepliesIn = 0;
  /** Bytes read from the relay in all. */
  bytesIn = 0;
  /** Bytes handed to the socket in all. */
  bytesOut = 0;
  /** Set once the socket has closed. */
  closedInfo: PeerClosed | null = null;
  /** Called with every decoded message (a borrowed view: copy what you keep). */
  onMessage: ((m: Message) => void) | null = null;
  /** Set if the relay's bytes failed to decode. */
  decodeError: string | null = null;
  readonly closed: Promise<PeerClosed>;
  readonly #keep: number;
  readonly #decoder = new FrameDecoder();
  readonly #waiters = new Set<() => void>();
  #mode: ReadMode;
  #seq = 0;
  #lastError: string | null = null;

  private constructor(socket: Socket, opts: HostilePeerOptions) {
    this.socket = socket;
    this.label = opts.label ?? 'attacker';
    this.#keep = opts.keep ?? 10_000;
    this.#mode = opts.read ?? 'decode';
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#lastError = err.code ?? err.message;
    });
    this.closed = new Promise<PeerClosed>((resolve) =>
      socket.once('close', () => {
        this.closedInfo = { error: this.#lastError, at: performance.now() };
        this.#wake();
        resolve(this.closedInfo);
      }),
    );
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    if (this.#mode === 'paused') socket.pause();
  }

  /** Connect to 127.0.0.1:port. */
  static connect(port: number, opts: HostilePeerOptions = {}): Promise<HostilePeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const fail = (err: Error): void => reject(err);
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        resolve(new HostilePeer(socket, opts));
      });
    });
  }

  /** The local port: how the relay's log names this connection ("accepted from 127.0.0.1:PORT"). */
  get localPort(): number {
    return this.socket.localPort!;
  }

  get isClosed(): boolean {
    return this.closedInfo !== null;
  }

  /** Stop reading (the kernel buffers fill, then the relay's queue does). */
  pauseReading(): void {
    this.#mode = 'paused';
    this.socket.pause();
  }

  setReadMode(mode: ReadMode): void {
    this.#mode = mode;
    if (mode === 'paused') this.socket.pause();
    else this.socket.resume();
  }

  /** The salt the next frame gets. */
  get seq(): number {
    return this.#seq;
  }

  /** Encode one message (salt = next sequence number unless given) as bytes. */
  frame(header: Partial<Header>, ext?: Uint8Array, aux?: Uint8Array): Uint8Array {
    const h = { ...header };
    if (h.salt === undefined) h.salt = this.#seq;
    this.#seq = (this.#seq + 1) & 0xff;
    return concatBytes(encodeMessage({ header: h, ext, aux }));
  }

  /** Encode and write one message; returns the socket's write() result. */
  send(header: Partial<Header>, ext?: Uint8Array, aux?: Uint8Array): boolean {
    return this.write(this.frame(header, ext, aux));
  }

  /** Write bytes as they are. False when the socket buffers (or is gone). */
  write(bytes: Uint8Array): boolean {
    if (this.socket.destroyed) return false;
    this.bytesOut += bytes.length;
    return this.socket.write(bytes);
  }

  /** Resolves when the socket can take more (or has closed). */
  drained(): Promise<void> {
    if (this.socket.destroyed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /**
   * Write `count` chunks from `next(i)`, honouring our own socket's
   * backpressure (so the test process does not buffer the flood), until the
   * count, the deadline, or the socket closing. Returns chunks written.
   */
  async flood(count: number, next: (i: number) => Uint8Array, deadline = performance.now() + PEER_SAFETY_MS): Promise<number> {
    let i = 0;
    while (i < count && !this.socket.destroyed && performance.now() < deadline) {
      if (!this.write(next(i++))) await this.drained();
    }
    return i;
  }

  /**
   * Encode `count` frames with `make(i)` and write them in batches, yielding
   * to the event loop between batches: the test process's own encoding must
   * not stall the bystander that shares it (the relay is what is measured).
   */
  async writeFrames(count: number, make: (i: number) => Uint8Array, batch = 256): Promise<void> {
    for (let i = 0; i < count && !this.socket.destroyed; ) {
      const parts: Uint8Array[] = [];
      for (const end = Math.min(count, i + batch); i < end; i++) parts.push(make(i));
      if (!this.write(concatBytes(parts))) await this.drained();
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /**
   * LNK_CONN (seed layout): peer_mask as given (default none), pfs_mask all
   * ones (every pfs_type), opened with `msgid` (default CONN_MSGID, which no
   * attack's ids below 2^32 can collide with).
   */
  sendConn(opts: { msgid?: bigint; name?: string; nodeId?: string; peerMask?: bigint; peerType?: number } = {}): void {
    const ext = encodeLnkConn({ mediaId: opts.nodeId ?? randomUUID(), peerMask: opts.peerMask ?? 0n, pfsMask: 0xffffffffffffffffn, peerType: opts.peerType ?? 1, protoVersion: 1, peerLabel: opts.name ?? this.label }, 'seed');
    this.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: opts.msgid ?? CONN_MSGID }, ext);
  }

  /** One LNK_SPAN CREATE (no path record, as a DragonFly peer sends it). */
  spanFrame(msgid: bigint, fields: { service: string; instance: string; peerType?: number; clusterId?: string; instanceId?: string; rnss?: number }): Uint8Array {
    const ext = encodeLnkSpan({
      peerId: fields.clusterId ?? randomUUID(),
      pfsId: fields.instanceId ?? randomUUID(),
      peerType: fields.peerType ?? ATTACK_PEER_TYPE,
      pfsType: 0,
      protoVersion: 1,
      dist: 0,
      rnss: fields.rnss ?? 1,
      peerLabel: fields.service,
      pfsLabel: fields.instance,
    });
    return this.frame({ cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid }, ext);
  }

  /** `blocks × 256` LNK_PINGs as one buffer that can be written again and again (it starts at the current seq and ends where it began). */
  pingBlock(blocks = 1): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 256 * blocks; i++) parts.push(this.frame({ cmd: DMSG.LNK_PING }));
    return concatBytes(parts);
  }

  /** PING|REPLY messages received. */
  pingReplies(): number {
    return this.pingRepliesIn;
  }

  /** Encode one message as write chunks [header+ext, aux, padding] (the aux is not copied). */
  frameChunks(header: Partial<Header>, ext?: Uint8Array, aux?: Uint8Array): Uint8Array[] {
    const h = { ...header };
    if (h.salt === undefined) h.salt = this.#seq;
    this.#seq = (this.#seq + 1) & 0xff;
    return encodeMessage({ header: h, ext, aux });
  }

  /** Resolves true once `test()` holds (checked after every chunk and on close), false at the deadline or close. */
  until(test: () => boolean, timeoutMs = PEER_SAFETY_MS): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (test()) finish(true);
        else if (this.isClosed) finish(false);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (v: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(v);
      };
      this.#waiters.add(check);
    });
  }

  /** Send a PING and wait for its reply: ms until answered, or null if the link closed or the timeout passed. */
  async pingRtt(timeoutMs = PEER_SAFETY_MS): Promise<number | null> {
    const want = this.pingReplies() + 1;
    const t0 = performance.now();
    this.send({ cmd: DMSG.LNK_PING });
    const ok = await this.until(() => this.pingReplies() >= want, timeoutMs);
    return ok ? performance.now() - t0 : null;
  }

  /**
   * Wait for the relay to send us a LNK_SPAN of `service` (needs our
   * LNK_CONN and read mode 'decode'): the relay's msgid of that span, the
   * circuit to open transactions on; null if none came before the timeout.
   */
  async spanFromRelay(service: string, timeoutMs = PEER_SAFETY_MS): Promise<bigint | null> {
    let found: bigint | null = null;
    await this.until(() => {
      for (const m of this.received) {
        if ((m.header.cmd & (DMSGF.BASECMDMASK | DMSGF.CREATE)) >>> 0 !== (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0) continue;
        if (decodeLnkSpan(m.ext).peerLabel === service) {
          found = m.header.msgid;
          return true;
        }
      }
      return false;
    }, timeoutMs);
    return found;
  }

  /** Close our side hard (RST-like: destroy). */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.#mode === 'decode' && this.decodeError === null) {
      const out: Message[] = [];
      try {
        this.#decoder.pushInto(chunk, out);
      } catch (err) {
        this.decodeError = (err as Error).message;
      }
      for (const m of out) {
        this.messagesIn++;
        if (m.header.cmd === (DMSG.LNK_PING | DMSGF.REPLY)) this.pingRepliesIn++;
        this.onMessage?.(m);
        if (this.received.length < this.#keep) this.received.push(copyMessage(m));
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Math.imul's inverse of the id table's Fibonacci multiplier 0x9e3779b1 (mod 2^32). */
export const FIB_INVERSE = 0x0e8b2f51;

