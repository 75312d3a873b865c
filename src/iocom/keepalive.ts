/**
 * A link's keepalive (libdmsg's ping timer): every `pingIntervalMs` it
 * looks whether anything arrived; a link idle for `linkTimeoutMs` fails
 * with KEEPALIVE_TIMEOUT, one idle for a ping interval sends a LNK_PING so
 * that a live peer's answer keeps it up. Internal to the iocom (iocom.ts
 * owns one per link); what only the link can do comes through
 * KeepaliveHost.
 */
import { LinkError } from './errors.ts';

/** What the keepalive needs of its link. @internal */
export interface KeepaliveHost {
  /** The clock's now (ms). */
  now(): number;
  /** Whether anything arrived since the last call (and clear that mark). */
  takeRxSeen(): boolean;
  /** True while the link is open (not closing): a ping may go. */
  open(): boolean;
  /** True once the link closed: no more ticks. */
  closed(): boolean;
  /** Send a LNK_PING. */
  ping(): void;
  /** The link timed out: close it with `err`. */
  fail(err: LinkError): void;
  /** A guarded timer on the link's clock, and its cancellation. */
  setTimer(fn: () => void, ms: number, what: string): unknown;
  clearTimer(handle: unknown): void;
}

/** @internal */
export class Keepalive {
  readonly #name: string;
  readonly #pingIntervalMs: number;
  readonly #linkTimeoutMs: number;
  readonly #host: KeepaliveHost;
  #timer: unknown;
  /** When something last arrived, as far as the ticks saw (clock ms). */
  #lastRx: number;

  constructor(name: string, pingIntervalMs: number, linkTimeoutMs: number, host: KeepaliveHost) {
    this.#name = name;
    this.#pingIntervalMs = pingIntervalMs;
    this.#linkTimeoutMs = linkTimeoutMs;
    this.#host = host;
    this.#lastRx = host.now();
  }

  /** Start ticking (nothing when pingIntervalMs is 0). */
  start(): void {
    if (this.#pingIntervalMs > 0) this.#arm();
  }

  /** True while a tick is due. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** The link ends: no more ticks. */
  stop(): void {
    if (this.#timer !== undefined) this.#host.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = this.#host.setTimer(
      () => {
        this.#timer = undefined;
        this.#tick();
        if (!this.#host.closed() && this.#timer === undefined) this.#arm();
      },
      this.#pingIntervalMs,
      'the keepalive tick',
    );
  }

  #tick(): void {
    const host = this.#host;
    const now = host.now();
    if (host.takeRxSeen()) this.#lastRx = now;
    const idle = now - this.#lastRx;
    if (this.#linkTimeoutMs > 0 && idle >= this.#linkTimeoutMs) {
      host.fail(new LinkError('KEEPALIVE_TIMEOUT', `${this.#name}: nothing received for ${idle} ms (linkTimeoutMs ${this.#linkTimeoutMs})`));
      return;
    }
    if (idle >= this.#pingIntervalMs && host.open()) host.ping();
  }
}
