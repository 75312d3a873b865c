/**
 * Who a session is with (spec §5.2, §5.12 item 8): our session id for the
 * peer, the peer's as we recorded it, and what its HELLO told us (node id,
 * effective version). The rules that judge a HELLO are in `hello.ts`; the
 * session's HELLO handling that applies them is `session-hello.ts`.
 */
import type { SessionId } from './hello.ts';
import type { ResolvedMidcommsOptions } from './options.ts';
import type { SessionContext } from './session-context.ts';

export class SessionIdentity {
  /** Our current id for this peer. */
  local: SessionId;
  /** The peer's id as we recorded it (null: no HELLO yet in this session). */
  remote: SessionId | null = null;
  /** Effective version with the peer: 0 until its HELLO, then min(ours, its). */
  peerVersion = 0;
  peerNodeid = 0;

  readonly #o: ResolvedMidcommsOptions;
  readonly #ctx: SessionContext;

  constructor(options: ResolvedMidcommsOptions, ctx: SessionContext) {
    this.#o = options;
    this.#ctx = ctx;
    this.local = { inc: options.incarnation, gen: ctx.nextGen() };
  }

  /**
   * A reset (§5.2): the peer's version is forgotten; `own` (we end the
   * session) also begins a new local id and forgets the peer's id and node id.
   */
  reset(own: boolean): void {
    this.peerVersion = 0;
    if (own) {
      this.local = { inc: this.#o.incarnation, gen: this.#ctx.nextGen() };
      this.remote = null;
      this.peerNodeid = 0;
    }
  }
}
