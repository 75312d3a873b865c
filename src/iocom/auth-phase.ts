/**
 * The LNK_AUTH phase of one link (the handshake's lifecycle around
 * auth.ts's message rules): it sends the handshake's messages, keeps the
 * write gate shut until our messages may go, runs the deadline, and says
 * when the link is ready. A required handshake that does not finish in
 * `authTimeoutMs` fails the link (AUTH_FAILED); one that is not required
 * ends at the deadline, or as soon as the peer sends a plain message,
 * with the peer taking no part.
 *
 * Internal to the iocom (iocom.ts owns one per link); what only the link
 * can do comes through AuthPhaseHost.
 */
import { DMSG_IOQ_ERROR } from '../wire/constants.ts';
import { ProtocolError } from '../wire/errors.ts';
import type { Message } from '../wire/message.ts';
import type { AuthHandshake } from './auth.ts';

/** What the phase needs of its link. @internal */
export interface AuthPhaseHost {
  /** Queue one LNK_AUTH message past the write gate (nothing once the link closed). */
  sendAuth(ext: Uint8Array, aux: Uint8Array): void;
  /** Open (true) or shut (false) the write gate for everything but LNK_AUTH. */
  setGate(open: boolean): void;
  /** The peer's messages may now be taken (its budget account counts it as authenticated). */
  authenticated(): void;
  /** The link is ready: `Iocom.ready` resolves. */
  ready(): void;
  /** Close the link for a failed handshake. */
  fail(err: Error): void;
  /** A guarded timer on the link's clock, and its cancellation. */
  setTimer(fn: () => void, ms: number, what: string): unknown;
  clearTimer(handle: unknown): void;
}

/** @internal */
export class AuthPhase {
  readonly #auth: AuthHandshake;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #host: AuthPhaseHost;
  /** The deadline while the handshake runs. */
  #timer: unknown;

  constructor(auth: AuthHandshake, name: string, timeoutMs: number, host: AuthPhaseHost) {
    this.#auth = auth;
    this.#name = name;
    this.#timeoutMs = timeoutMs;
    this.#host = host;
  }

  /** Start the handshake (gate shut, our first messages, the deadline), or say ready at once when there is none. */
  start(): void {
    if (!this.#auth.active) {
      this.#host.ready();
      return;
    }
    this.#host.setGate(false);
    for (const m of this.#auth.start()) this.#host.sendAuth(m.ext, m.aux);
    this.#timer = this.#host.setTimer(() => this.#deadline(), this.#timeoutMs, 'the auth deadline');
    this.#check();
  }

  /** True while the deadline runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** A LNK_AUTH message from the peer. */
  receive(msg: Message): void {
    const step = this.#auth.receive(msg.ext, msg.aux);
    for (const m of step.send) this.#host.sendAuth(m.ext, m.aux);
    if (step.error) {
      this.#host.fail(new ProtocolError(step.error.code, `${this.#name}: ${step.error.message}`, step.error.dmsgError));
      return;
    }
    this.#check();
  }

  /** A plain message while the deadline runs: the peer takes no part in the handshake. */
  plainMessage(): void {
    if (this.#timer === undefined) return;
    this.#auth.peerSentPlainMessage();
    this.#check();
  }

  /** The link ends: the deadline goes. */
  stop(): void {
    if (this.#timer !== undefined) this.#host.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const auth = this.#auth;
    if (auth.acceptsMessages) this.#host.authenticated();
    if (!auth.gateOpen) return;
    this.#host.setGate(true);
    if (auth.acceptsMessages && this.#timer !== undefined) {
      this.#host.clearTimer(this.#timer);
      this.#timer = undefined;
      this.#host.ready();
    }
  }

  #deadline(): void {
    this.#timer = undefined;
    if (this.#auth.required) {
      this.#host.fail(new ProtocolError('AUTH_FAILED', `${this.#name}: the peer did not authenticate within ${this.#timeoutMs} ms`, DMSG_IOQ_ERROR.KEYXCHGFAIL));
      return;
    }
    // The peer does not take part; our messages need no proof.
    this.#auth.peerSentPlainMessage();
    this.#check();
    this.#host.ready();
  }
}
