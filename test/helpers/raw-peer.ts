/**
 * A hand-driven DMSG peer for iocom tests: one stream end on which the test
 * writes crafted messages (numbered with the right salt sequence unless told
 * otherwise) and decodes what the iocom on the other end writes back.
 */
import type { Duplex } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import type { LinkCloseReason } from '../../src/iocom/errors.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import type { Header } from '../../src/wire/header.ts';
import { copyMessage, type Message } from '../../src/wire/message.ts';
import { streamPair, type PairKind } from './iocom-pair.ts';

export class RawPeer {
  readonly stream: Duplex;
  /** Every message the iocom wrote, decoded (copies). */
  readonly received: Message[] = [];
  /** Every byte the iocom wrote, in order. */
  readonly bytes: Uint8Array[] = [];
  readonly #decoder = new FrameDecoder();
  readonly #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  #seq = 0;
  #pingCount = 0;

  constructor(stream: Duplex) {
    this.stream = stream;
    stream.on('error', () => {}); // a cut during a test is expected
    stream.on('data', (chunk: Uint8Array) => {
      this.bytes.push(new Uint8Array(chunk));
      const out: Message[] = [];
      this.#decoder.pushInto(chunk, out);
      for (const m of out) this.received.push(copyMessage(m));
      this.#wake();
    });
    stream.on('close', () => this.#wake());
  }

  /** The sequence number the next `send()` uses. */
  get seq(): number {
    return this.#seq;
  }

  /** Encode a message with salt = next sequence number (unless `header.salt` is given) and write it. */
  send(header: Partial<Header>, ext?: Uint8Array, aux?: Uint8Array): void {
    const h = { ...header };
    if (h.salt === undefined) h.salt = this.#seq;
    this.#seq = (this.#seq + 1) & 0xff;
    this.writeRaw(concatBytes(encodeMessage({ header: h, ext, aux })));
  }

  /** Write bytes as they are (no numbering). */
  writeRaw(bytes: Uint8Array): void {
    if (!this.stream.destroyed) this.stream.write(bytes);
  }

  /** Count a message written with writeRaw() so the next send() is numbered after it. */
  skipSeq(n = 1): void {
    this.#seq = (this.#seq + n) & 0xff;
  }

  /** Resolves once `test()` holds (checked after every chunk), or rejects when the stream closes first. */
  until(test: () => boolean, what = 'condition'): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({
        test: () => {
          if (test()) {
            resolve();
            return true;
          }
          if (this.stream.destroyed || this.stream.readableEnded) {
            reject(new Error(`raw peer: stream ended while waiting for ${what}`));
            return true;
          }
          return false;
        },
        resolve,
      });
    });
  }

  /** Wait until `n` messages in all have been received. */
  async waitFor(n: number): Promise<Message[]> {
    await this.until(() => this.received.length >= n, `${n} messages`);
    return this.received.slice(0, n);
  }

  /**
   * A barrier: send LNK_PING and wait for its PING|REPLY, which the iocom
   * writes only after it handled everything sent before the PING.
   */
  async roundTrip(): Promise<void> {
    const want = ++this.#pingCount;
    this.send({ cmd: DMSG.LNK_PING });
    await this.until(() => this.received.filter((m) => m.header.cmd === (DMSG.LNK_PING | DMSGF.REPLY)).length >= want, 'PING|REPLY');
  }

  #wake(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) if (this.#waiters[i]!.test()) this.#waiters.splice(i, 1);
  }
}

export interface RawLink {
  io: Iocom;
  peer: RawPeer;
  streams: [Duplex, Duplex];
  /** The reason the iocom's link ended (resolves once it has). */
  closed: Promise<LinkCloseReason>;
  close(): Promise<void>;
}

/** An iocom on one end of a link (memory or loopback TCP) and a RawPeer on the other. */
export async function rawLink(kind: PairKind, opts: IocomOptions = {}): Promise<RawLink> {
  const { streams, stopServer } = await streamPair(kind);
  const peer = new RawPeer(streams[1]);
  const io = new Iocom(streams[0], { name: 'io', pingIntervalMs: 0, linkTimeoutMs: 0, ...opts });
  const closed = firstValueFrom(io.closed$);
  return {
    io,
    peer,
    streams,
    closed,
    async close() {
      io.destroy();
      streams[1].destroy();
      await stopServer();
    },
  };
}

/** The ProtocolError/LinkError code a close reason carries, or the reason's kind. */
export function reasonCode(r: LinkCloseReason): string {
  return r.kind === 'error' ? String((r.error as { code?: unknown }).code) : r.kind;
}
