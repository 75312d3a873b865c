/**
 * The receive rules of a transaction message (libdmsg `dmsg_state_msgrx`,
 * spec §4.4) as one pure function: given the flags of a received message and
 * what we know of its transaction, say what to do with it.
 *
 * Where libdmsg asserts (duplicate CREATE, DELETE or reply for an unknown
 * transaction, ABORT|DELETE after a DELETE), we return a per-link protocol
 * error or a silent drop (EALREADY) instead.
 */
import { DMSGF } from '../wire/constants.ts';
import type { ProtocolErrorCode } from '../wire/errors.ts';

/** What we know of the transaction a message names (undefined: none found). */
export interface RxStateView {
  /** The peer's CREATE for this direction has been received. */
  readonly rxCreated: boolean;
  /** The peer's DELETE has been received. */
  readonly rxDeleted: boolean;
}

export type RxVerdict =
  /** A new transaction opened by the peer. */
  | { readonly action: 'new' }
  /** A message within a known transaction. */
  | { readonly action: 'deliver' }
  /** A one-way message (no transaction). */
  | { readonly action: 'oneway' }
  /** Drop silently (libdmsg EALREADY): a race with an abort or a close. */
  | { readonly action: 'drop'; readonly reason: string }
  /** The peer broke the protocol: fatal to this link. */
  | { readonly action: 'error'; readonly code: ProtocolErrorCode; readonly reason: string };

const NEW: RxVerdict = Object.freeze({ action: 'new' });
const DELIVER: RxVerdict = Object.freeze({ action: 'deliver' });
const ONEWAY: RxVerdict = Object.freeze({ action: 'oneway' });

function drop(reason: string): RxVerdict {
  return { action: 'drop', reason };
}
function error(code: ProtocolErrorCode, reason: string): RxVerdict {
  return { action: 'error', code, reason };
}

/**
 * @param cmd the received cmd word
 * @param state the transaction its msgid names (looked up in the table REVTRANS selects), if any
 * @param parentMissing circuit ≠ 0 and no transaction has that msgid
 */
export function classifyRx(cmd: number, state: RxStateView | undefined, parentMissing: boolean): RxVerdict {
  const abort = (cmd & DMSGF.ABORT) !== 0;
  // ABORT|CREATE alone is the "non-blocking" modifier (§4.4), not an abort:
  // only ABORT|DELETE excuses a CREATE for a gone or reused transaction.
  const abortDelete = abort && (cmd & DMSGF.DELETE) !== 0;
  if (parentMissing) return drop('circuit names no open transaction (closed or aborted)');
  // Compare as unsigned: `|` of the high flag bits gives negative int32s.
  switch ((cmd & DMSGF.BASEFLAGS) >>> 0) {
    case (DMSGF.CREATE) >>> 0:
    case (DMSGF.CREATE | DMSGF.DELETE) >>> 0:
      if (state !== undefined) return abortDelete ? drop('duplicate CREATE with ABORT|DELETE') : error('DUPLICATE_TRANS', 'CREATE for a transaction that is already open');
      if (cmd & DMSGF.REVTRANS) return abortDelete ? drop('CREATE with REVTRANS and ABORT|DELETE') : error('BAD_STATE', 'CREATE without REPLY must not carry REVTRANS');
      return NEW;

    case (DMSGF.DELETE) >>> 0:
    case (DMSGF.REPLY | DMSGF.DELETE) >>> 0:
      if (state === undefined) return abort ? drop('ABORT|DELETE for a transaction already gone') : error('UNKNOWN_TRANS', 'DELETE for a transaction that is not open');
      if (!state.rxCreated) return abort ? drop('ABORT|DELETE before CREATE') : error('BAD_STATE', 'DELETE before the CREATE of that direction');
      if (state.rxDeleted) return drop('repeated DELETE (abort-after-DELETE)');
      return DELIVER;

    case 0:
      if (state === undefined) return abort ? drop('ABORT on a one-way message') : ONEWAY;
      if (state.rxDeleted) return abort ? drop('ABORT after DELETE') : error('BAD_STATE', 'message after the DELETE of that direction');
      if (abort && !state.rxCreated) return drop('mid-stream ABORT before CREATE');
      return DELIVER;

    case (DMSGF.REPLY | DMSGF.CREATE) >>> 0:
    case (DMSGF.REPLY | DMSGF.CREATE | DMSGF.DELETE) >>> 0:
      if (state === undefined) return abortDelete ? drop('ABORT|DELETE reply for a transaction already gone') : error('UNKNOWN_TRANS', 'REPLY|CREATE for a transaction we did not open');
      if (state.rxCreated) return abortDelete ? drop('repeated REPLY|CREATE with ABORT|DELETE') : error('DUPLICATE_TRANS', 'second REPLY|CREATE in one transaction');
      return DELIVER;

    case (DMSGF.REPLY) >>> 0:
      if (state === undefined) return abort ? drop('ABORT on a one-way reply') : ONEWAY;
      if (state.rxDeleted) return abort ? drop('ABORT after DELETE') : error('BAD_STATE', 'reply after the DELETE of that direction');
      if (abort && !state.rxCreated) return drop('mid-stream ABORT before CREATE');
      return DELIVER;

    default:
      // CREATE|REPLY combinations are all handled above; the remaining flag
      // sets (REPLY alone, DELETE alone...) are too. This is unreachable.
      return error('BAD_STATE', 'impossible flag combination');
  }
}
