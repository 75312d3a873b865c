/**
 * The FIN 4-way close of spec §5.8 as one pure rule table (compare
 * `src/iocom/state-rules.ts`): given a state and an event, say which actions
 * to run, in order, and the next state. The session carries the actions out.
 *
 * "member added" and "member removal" are the users-count transitions of
 * §5.9: `memberAdded` fires only on 0 → 1 and `memberRemoved` only on → 0.
 */
import { MC_STATE, stateName } from './constants.ts';
import type { McState } from './constants.ts';

export type FinEvent =
  /** users went 0 → 1 (§5.9). */
  | 'memberAdded'
  /** The first 3.2 message from the peer fixed its version (§5.4 item 3). */
  | 'versionDetected'
  /** Local active close (last lockspace released; `shutdown()`). */
  | 'shutdown'
  /** A FIN arrived in sequence. */
  | 'finReceived'
  /** users reached 0 (§5.9). */
  | 'memberRemoved'
  /** An ACK covered our FIN. */
  | 'finAcked'
  /** `close()`: fence the peer. */
  | 'fence';

export type FinAction =
  /** Send ACK(seq_next) now. */
  | 'sendAck'
  /** Send a sequenced FIN, set STOP_TX; its ACK is the active-close event. */
  | 'sendFinActive'
  /** Send a sequenced FIN, set STOP_TX; its ACK is the passive-close event. */
  | 'sendFinPassive'
  /** Set STOP_RX. */
  | 'setStopRx'
  /** reset(peer) (§5.2): sequences to 0, queue dropped, version forgotten. */
  | 'reset'
  /** Wake whoever waits for a state change. */
  | 'wake'
  /** Set CLOSE, wake waiters, close the channel, drop peer state and queue. */
  | 'fence';

export interface FinVerdict {
  readonly next: McState;
  readonly actions: readonly FinAction[];
  /** Set for "other combinations": a warning, no transition. */
  readonly warning?: string;
}

const { CLOSED, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING } = MC_STATE;

function rule(next: McState, ...actions: FinAction[]): FinVerdict {
  return Object.freeze({ next, actions: Object.freeze(actions) });
}

/** One row per (state, event) of the spec's table; users-dependent rows are resolved in `finRule`. */
const TABLE: ReadonlyMap<string, FinVerdict> = new Map([
  [`${CLOSED}:memberAdded`, rule(ESTABLISHED)],
  [`${CLOSED}:versionDetected`, rule(ESTABLISHED)],
  [`${ESTABLISHED}:memberAdded`, rule(ESTABLISHED)],
  [`${ESTABLISHED}:shutdown`, rule(FIN_WAIT1, 'sendFinActive')],
  [`${ESTABLISHED}:memberRemoved`, rule(ESTABLISHED)],
  [`${CLOSE_WAIT}:memberRemoved`, rule(LAST_ACK, 'setStopRx', 'sendFinPassive')],
  [`${LAST_ACK}:finAcked`, rule(CLOSED, 'reset')],
  [`${LAST_ACK}:finReceived`, rule(LAST_ACK)],
  [`${LAST_ACK}:memberRemoved`, rule(LAST_ACK)],
  [`${FIN_WAIT1}:finAcked`, rule(FIN_WAIT2)],
  [`${FIN_WAIT1}:finReceived`, rule(CLOSING, 'sendAck', 'setStopRx')],
  [`${CLOSING}:finAcked`, rule(CLOSED, 'reset')],
  [`${FIN_WAIT2}:finReceived`, rule(CLOSED, 'sendAck', 'reset')],
  [`${CLOSED}:finAcked`, rule(CLOSED, 'wake')],
  [`${CLOSED}:memberRemoved`, rule(CLOSED)],
]);

const FIN_ESTABLISHED_IN_USE = rule(CLOSE_WAIT, 'sendAck');
const FIN_ESTABLISHED_UNUSED = rule(LAST_ACK, 'sendAck', 'setStopRx', 'sendFinPassive');
const STUCK_ADD = rule(ESTABLISHED, 'reset');
const FENCE = rule(CLOSED, 'fence');

/**
 * @param state the session's state
 * @param event what happened
 * @param users the users count after the event (§5.9)
 */
export function finRule(state: McState, event: FinEvent, users: number): FinVerdict {
  if (event === 'fence') return FENCE;
  if (state === ESTABLISHED && event === 'finReceived') return users > 0 ? FIN_ESTABLISHED_IN_USE : FIN_ESTABLISHED_UNUSED;
  const row = TABLE.get(`${state}:${event}`);
  if (row !== undefined) return row;
  // A shutdown stuck in any closing state: a new member resets it (§5.9).
  if (event === 'memberAdded') return STUCK_ADD;
  // Version detection moves only CLOSED; shutdown acts only in ESTABLISHED
  // ("in CLOSED do nothing; in any other state just wait").
  if (event === 'versionDetected' || event === 'shutdown') return rule(state);
  return { next: state, actions: [], warning: `${event} in ${stateName(state)}: no transition` };
}
