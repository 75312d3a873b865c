/**
 * The views protocol's messages and persisted state as bytes: JSON, bounded,
 * and checked field by field on the way in. A peer's bytes never throw out
 * of `decodeViewsMessage`: it returns the message or the reason it is bad.
 */
import type { Entry, Message, NodeId, Persisted } from './types.ts';

/** Bytes of one encoded message at most (a longer one is dropped, never parsed). */
export const VIEWS_MAX_MESSAGE_BYTES = 64 * 1024;
/**
 * The highest term a peer may send (2^48): a node that adopted a term of
 * 2^53-1 could never start another election (term + 1 is no safe integer,
 * every peer would drop its vote requests) and the cluster would be wedged.
 */
export const VIEWS_MAX_TERM = 2 ** 48;
/** Entries one incoming AppendEntries may carry at most. */
export const VIEWS_MAX_ENTRIES_IN = 1024;

/**
 * How far above our term a message from a voter outside our latest view may
 * go (2^20): a larger jump is refused (`term-jump`). See docs/views.md,
 * "Authenticated senders and bounded term jumps", for why this keeps Raft's
 * safety and what it costs in liveness.
 */
export const VIEWS_MAX_TERM_JUMP = 2 ** 20;

/**
 * Why an incoming message was dropped (counted per reason in the driver's stats):
 * the first five are about the bytes; `forged-sender` (its `from` is not the
 * sender the transport authenticated), `unknown-sender` (the transport could
 * not say who sent it: a one-shot transaction) and `term-jump` (see
 * VIEWS_MAX_TERM_JUMP) about who sent it.
 */
export type ViewsDropReason = 'too-large' | 'not-json' | 'bad-field' | 'not-a-voter' | 'not-for-us' | 'forged-sender' | 'unknown-sender' | 'term-jump';

/** Every drop reason, zero: the driver's initial counters. */
export function zeroDropReasons(): Record<ViewsDropReason, number> {
  return { 'too-large': 0, 'not-json': 0, 'bad-field': 0, 'not-a-voter': 0, 'not-for-us': 0, 'forged-sender': 0, 'unknown-sender': 0, 'term-jump': 0 };
}

/**
 * Whether a well-formed message may be taken, given who sent it: null to
 * take it, else why not. Pure.
 *
 * @param sender the sender the transport authenticated (a DLM node id);
 *   null: the transport could not tell (refused); undefined: the transport
 *   authenticates by construction (an in-process fake network), so only the
 *   term bound applies
 * @param ourTerm this node's current term
 * @param config the members of the latest view in this node's log
 */
export function refuseBySender(m: Message, sender: NodeId | null | undefined, ourTerm: number, config: readonly NodeId[]): 'forged-sender' | 'unknown-sender' | 'term-jump' | null {
  if (sender === null) return 'unknown-sender';
  if (sender !== undefined && m.from !== sender) return 'forged-sender';
  if (m.term > ourTerm + VIEWS_MAX_TERM_JUMP && !config.includes(m.from)) return 'term-jump';
  return null;
}

export type DecodeResult = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly reason: ViewsDropReason; readonly detail: string };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeViewsMessage(m: Message): Uint8Array {
  return enc.encode(JSON.stringify(m));
}

class Bad extends Error {
  readonly reason: ViewsDropReason;
  constructor(reason: ViewsDropReason, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad('bad-field', `${what} is not an object`);
  return v as Obj;
}

function exactKeys(o: Obj, keys: readonly string[], what: string): void {
  const have = Object.keys(o);
  if (have.length !== keys.length || !have.every((k) => keys.includes(k))) throw new Bad('bad-field', `${what} has keys [${have.join(',')}], expected [${keys.join(',')}]`);
}

function count(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Bad('bad-field', `${k} must be a safe integer >= 0, got ${String(v)}`);
  return v;
}

function termOf(o: Obj, k: string): number {
  const v = count(o, k);
  if (v > VIEWS_MAX_TERM) throw new Bad('bad-field', `${k} ${v} above ${VIEWS_MAX_TERM}`);
  return v;
}

function time(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Bad('bad-field', `${k} must be a finite time >= 0, got ${String(v)}`);
  return v;
}

function voter(v: unknown, voters: readonly NodeId[], what: string): NodeId {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Bad('bad-field', `${what} must be a node id, got ${String(v)}`);
  if (!voters.includes(v)) throw new Bad('not-a-voter', `${what} ${v} is not a voter`);
  return v;
}

function bool(o: Obj, k: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw new Bad('bad-field', `${k} must be a boolean`);
  return v;
}

/** One log entry, checked: a term, and for a view its number (>= 1), a sorted, duplicate-free, non-empty list of voters and optionally their incarnations (u32 each, as many as members). */
function entry(v: unknown, voters: readonly NodeId[]): Entry {
  const o = obj(v, 'entry');
  const term = termOf(o, 'term');
  if (o.kind === 'noop') {
    exactKeys(o, ['term', 'kind'], 'noop entry');
    return { term, kind: 'noop' };
  }
  if (o.kind !== 'view') throw new Bad('bad-field', `entry kind ${String(o.kind)}`);
  const withIncarnations = 'incarnations' in o;
  const withLeft = 'left' in o;
  exactKeys(o, ['term', 'kind', 'view', 'members', ...(withIncarnations ? ['incarnations'] : []), ...(withLeft ? ['left'] : [])], 'view entry');
  const view = count(o, 'view');
  if (view < 1) throw new Bad('bad-field', 'a view entry numbers a view >= 1');
  if (!Array.isArray(o.members) || o.members.length === 0 || o.members.length > voters.length) throw new Bad('bad-field', 'view members must be a non-empty list of voters');
  const members = o.members.map((m, i) => voter(m, voters, `members[${i}]`));
  for (let i = 1; i < members.length; i++) if (members[i]! <= members[i - 1]!) throw new Bad('bad-field', 'view members must be sorted and distinct');
  // Clean leavers: a non-empty, sorted, distinct list of voters that are not members.
  let left: NodeId[] | null = null;
  if (withLeft) {
    if (!Array.isArray(o.left) || o.left.length === 0 || o.left.length > voters.length) throw new Bad('bad-field', 'view left must be a non-empty list of voters');
    left = o.left.map((m, i) => voter(m, voters, `left[${i}]`));
    for (let i = 1; i < left.length; i++) if (left[i]! <= left[i - 1]!) throw new Bad('bad-field', 'view left must be sorted and distinct');
    if (left.some((m) => members.includes(m))) throw new Bad('bad-field', 'view left must not name a member');
  }
  const base = { term, kind: 'view' as const, view, members, ...(left ? { left } : {}) };
  if (!withIncarnations) return base;
  // One incarnation per member: a u32 (a router's run incarnation), 0 = unknown.
  if (!Array.isArray(o.incarnations) || o.incarnations.length !== members.length) throw new Bad('bad-field', 'view incarnations must be a list as long as members');
  const incarnations = o.incarnations.map((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Bad('bad-field', `incarnations[${i}] must be a u32, got ${String(x)}`);
    return x;
  });
  return { ...base, incarnations };
}

function message(v: unknown, voters: readonly NodeId[], self: NodeId): Message {
  const o = obj(v, 'message');
  const from = voter(o.from, voters, 'from');
  const to = voter(o.to, voters, 'to');
  if (to !== self) throw new Bad('not-for-us', `addressed to ${to}`);
  if (from === self) throw new Bad('bad-field', 'a message from this node itself');
  const term = termOf(o, 'term');
  switch (o.type) {
    case 'vote-req':
      exactKeys(o, ['type', 'from', 'to', 'term', 'lastLogIndex', 'lastLogTerm'], 'vote-req');
      return { type: 'vote-req', from, to, term, lastLogIndex: count(o, 'lastLogIndex'), lastLogTerm: termOf(o, 'lastLogTerm') };
    case 'vote-rep':
      exactKeys(o, ['type', 'from', 'to', 'term', 'granted'], 'vote-rep');
      return { type: 'vote-rep', from, to, term, granted: bool(o, 'granted') };
    case 'append': {
      exactKeys(o, ['type', 'from', 'to', 'term', 'prevIndex', 'prevTerm', 'entries', 'leaderCommit', 'sentAt', 'leaseUntil'], 'append');
      if (!Array.isArray(o.entries) || o.entries.length > VIEWS_MAX_ENTRIES_IN) throw new Bad('bad-field', `entries must be a list of at most ${VIEWS_MAX_ENTRIES_IN}`);
      const entries = o.entries.map((e) => entry(e, voters));
      const prevIndex = count(o, 'prevIndex');
      if (prevIndex + entries.length > Number.MAX_SAFE_INTEGER) throw new Bad('bad-field', 'prevIndex + entries overflows');
      return { type: 'append', from, to, term, prevIndex, prevTerm: termOf(o, 'prevTerm'), entries, leaderCommit: count(o, 'leaderCommit'), sentAt: time(o, 'sentAt'), leaseUntil: time(o, 'leaseUntil') };
    }
    case 'append-rep':
      exactKeys(o, ['type', 'from', 'to', 'term', 'success', 'matchIndex', 'sentAt'], 'append-rep');
      return { type: 'append-rep', from, to, term, success: bool(o, 'success'), matchIndex: count(o, 'matchIndex'), sentAt: time(o, 'sentAt') };
    default:
      throw new Bad('bad-field', `message type ${String(o.type)}`);
  }
}

/** Decode and check one message for node `self` of `voters`. Never throws. */
export function decodeViewsMessage(bytes: Uint8Array, voters: readonly NodeId[], self: NodeId): DecodeResult {
  if (bytes.length > VIEWS_MAX_MESSAGE_BYTES) return { ok: false, reason: 'too-large', detail: `${bytes.length} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(dec.decode(bytes));
  } catch {
    return { ok: false, reason: 'not-json', detail: 'not UTF-8 JSON' };
  }
  try {
    return { ok: true, message: message(parsed, voters, self) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, reason: err.reason, detail: err.message };
    return { ok: false, reason: 'bad-field', detail: String(err) };
  }
}

/** Check a persisted state read back from storage. @throws Error with the reason (the store wraps it in its typed error). */
export function checkPersisted(v: unknown, voters: readonly NodeId[]): Persisted {
  try {
    const o = obj(v, 'persisted state');
    exactKeys(o, ['currentTerm', 'votedFor', 'log'], 'persisted state');
    const currentTerm = count(o, 'currentTerm');
    const votedFor = o.votedFor === null ? null : voter(o.votedFor, voters, 'votedFor');
    if (!Array.isArray(o.log)) throw new Bad('bad-field', 'log must be a list');
    const log = o.log.map((e) => entry(e, voters));
    let lastView = 0;
    for (const e of log) {
      if (e.term > currentTerm) throw new Bad('bad-field', `an entry of term ${e.term} beyond currentTerm ${currentTerm}`);
      if (e.kind === 'view') {
        if (e.view !== lastView + 1) throw new Bad('bad-field', `view ${e.view} follows view ${lastView}`);
        lastView = e.view;
      }
    }
    return { currentTerm, votedFor, log };
  } catch (err) {
    throw new Error(err instanceof Error ? err.message : String(err));
  }
}
