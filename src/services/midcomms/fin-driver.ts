/**
 * A session's FIN state machine at work (spec §5.8, §5.9): the state and its
 * observable, the member count, stop_rx, the verdicts of the pure rule table
 * (`fin-rules.ts`) carried out, reset(peer) (§5.2), the fence, and the
 * active close with its timeout. The session composes it; what it needs of
 * the session (sender, receiver, channels, ACK bookkeeping) comes as `FinHost`.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import type { ChannelSet, ChannelState } from './channel-set.ts';
import { DLM_VERSION, MC_STATE, stateName } from './constants.ts';
import type { McState } from './constants.ts';
import { MidcommsError } from './errors.ts';
import type { MidcommsErrorCode } from './errors.ts';
import { finRule } from './fin-rules.ts';
import type { FinEvent } from './fin-rules.ts';
import type { ResolvedMidcommsOptions } from './options.ts';
import type { Receiver } from './receiver.ts';
import type { Sender } from './sender.ts';
import type { SessionContext } from './session-context.ts';
import type { SessionIdentity } from './session-identity.ts';
import type { SessionStats } from './session-stats.ts';
import { ShutdownWaiters } from './shutdown-waiters.ts';

/** What the FIN driver needs of its session. */
export interface FinHost {
  readonly peer: string;
  readonly tx: Sender;
  readonly rx: Receiver<ChannelState>;
  readonly chans: ChannelSet;
  /** ACK(seq_next), not a threshold ACK. */
  sendAck(): void;
  /** Forgets the ACK bookkeeping (owed ACK, receive channel) of a session that ended. */
  forgetAcks(): void;
}

export function midcommsErr(code: MidcommsErrorCode, message: string): MidcommsError {
  return new MidcommsError(code, message);
}

export class FinDriver {
  state: McState = MC_STATE.CLOSED;
  users = 0;
  stopRx = false;
  /** Fenced: the session is over for good. */
  closed = false;

  readonly #host: FinHost;
  readonly #o: ResolvedMidcommsOptions;
  readonly #ctx: SessionContext;
  readonly #id: SessionIdentity;
  readonly #stats: SessionStats;
  readonly #shutdowns: ShutdownWaiters;
  readonly #state$ = new BehaviorSubject<McState>(MC_STATE.CLOSED);
  /** FIN state changes (§5.8), starting with the current one. */
  readonly state$: Observable<McState> = this.#state$.asObservable();

  constructor(host: FinHost, options: ResolvedMidcommsOptions, ctx: SessionContext, id: SessionIdentity, stats: SessionStats) {
    this.#host = host;
    this.#o = options;
    this.#ctx = ctx;
    this.#id = id;
    this.#stats = stats;
    this.#shutdowns = new ShutdownWaiters(options.clock);
  }

  setState(next: McState): void {
    if (next === this.state) return;
    this.state = next;
    this.#state$.next(next);
    if (next === MC_STATE.CLOSED) this.#shutdowns.wake(null);
  }

  apply(event: FinEvent): void {
    const verdict = finRule(this.state, event, this.users);
    if (verdict.warning !== undefined) {
      this.#stats.finWarnings++;
      return;
    }
    for (const action of verdict.actions) {
      switch (action) {
        case 'sendAck':
          this.#host.sendAck();
          break;
        case 'sendFinActive':
        case 'sendFinPassive':
          this.#host.tx.sendFin();
          break;
        case 'setStopRx':
          this.stopRx = true;
          break;
        case 'reset':
          this.reset('own', null, null);
          break;
        case 'wake':
          this.#shutdowns.wake(null);
          break;
        case 'fence':
          this.#fence();
          return;
      }
    }
    this.setState(verdict.next);
  }

  /**
   * reset(peer) (§5.2). `own`: we end the session (completed close, fence,
   * shutdown timeout): a new local id, the peer's forgotten, every channel
   * closed. `peer`: the peer began a new session; `keep` is the channel that
   * told us, the others belong to the old session.
   */
  reset(kind: 'own' | 'peer', error: MidcommsError | null, keep: ChannelState | null): void {
    const h = this.#host;
    this.#stats.resets++;
    h.tx.reset(error ?? midcommsErr('PEER_RESET', 'the session was reset'));
    h.rx.reset();
    h.forgetAcks();
    this.stopRx = false;
    this.#id.reset(kind === 'own');
    h.chans.closeAll(keep, kind === 'own' ? 'session reset' : 'the peer began a new session');
    this.setState(MC_STATE.CLOSED);
    // Only now, with the old session's channels closed, may new messages be committed.
    h.tx.admit();
  }

  #fence(): void {
    if (this.closed) return;
    const h = this.#host;
    const fenced = midcommsErr('FENCED', `the session with ${h.peer} was fenced`);
    // Closed first: the reset must not let senders waiting for room into a
    // session that ends here (they fail with FENCED below, never "committed").
    this.closed = true;
    h.tx.fence();
    this.reset('own', fenced, null);
    this.users = 0;
    h.tx.rejectWaiting(fenced);
    h.chans.dispose();
    this.#shutdowns.wake(null);
    this.#state$.complete();
    h.rx.complete();
    this.#ctx.onFenced?.();
  }

  /** users += 1 (§5.9); on 0 → 1 the session is ESTABLISHED. */
  addMember(): void {
    if (this.closed) return;
    this.users++;
    if (this.users === 1) this.apply('memberAdded');
  }

  /** users -= 1 (§5.9); on reaching 0 a passive close may send our FIN. */
  removeMember(): void {
    if (this.closed || this.users === 0) return;
    this.users--;
    if (this.users === 0) this.apply('memberRemoved');
  }

  /**
   * Active close (§5.8): send FIN, wait for CLOSED at most
   * `shutdownTimeoutMs`; on timeout the session is reset and this rejects
   * with SHUTDOWN_TIMEOUT. Resolves at once with a 3.1 peer or when CLOSED.
   */
  shutdown(): Promise<void> {
    if (this.closed || this.state === MC_STATE.CLOSED) return Promise.resolve();
    if (this.#id.peerVersion === DLM_VERSION.V3_1 || this.#o.version === DLM_VERSION.V3_1) {
      this.reset('own', null, null);
      return Promise.resolve();
    }
    this.apply('shutdown');
    if ((this.state as McState) === MC_STATE.CLOSED) return Promise.resolve();
    return this.#shutdowns.wait(this.#o.shutdownTimeoutMs, () => {
      if (this.state === MC_STATE.CLOSED) return;
      this.#stats.shutdownTimeouts++;
      const e = midcommsErr('SHUTDOWN_TIMEOUT', `no CLOSED with ${this.#host.peer} within ${this.#o.shutdownTimeoutMs} ms (state ${stateName(this.state)})`);
      const waiters = this.#shutdowns.take();
      this.reset('own', e, null);
      for (const w of waiters) w.reject(e);
    });
  }

  /** Fence the peer (`midcomms_close`): CLOSED at once, everything pending fails with FENCED, the session is forgotten. */
  close(): void {
    if (this.closed) return;
    this.apply('fence');
  }
}
