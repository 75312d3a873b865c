/**
 * An independent checker of a recorded DLM history (dlm-history-types.ts).
 * It shares no code with the DLM or the views module: the mode
 * compatibility matrix (spec §1.4) and the LVB table (§1.7) are written out
 * again here, from the spec, on purpose.
 *
 * What it proves over one history (each rule names its violation kind):
 *
 * - `overlap`: no two locks on a resource are held in incompatible modes at
 *   the same time. A lock is held, as its application believes it, from the
 *   completion that granted a mode until the application issued the unlock
 *   or the down-conversion that gives the mode up. A lock of a killed node
 *   counts as held until the survivors commit a view that excludes the node
 *   (the first `view` event, on any node, after the grant, that leaves it
 *   out, or that re-admits it after a restart with a higher view number);
 *   a cut-off node's lock counts until that point or until the end of the
 *   last granting lease the node announced before it, whichever is later.
 *   The grant that counts is the master's last grant to the lock: a mode the
 *   application keeps by giving part of its hold up (a down-conversion, a
 *   middle conversion's window, the old mode after a failed conversion) is
 *   the same hold at the master, which recovery purges at the exclusion
 *   (§4.5), however late the excluded node issues the conversion.
 * - `fence-order`: fencing tokens of PW/EX grants rise strictly per resource
 *   across holders, in grant order (the same lock may keep its token on a
 *   later grant that does not raise its mode, EX -> PW; PW -> EX draws a
 *   new one); `fence-missing`: a PW/EX grant without a
 *   token (only when `fences: 'required'`).
 * - `never-completed`: once a `healed` event is in the history, every
 *   operation of a node that is alive at the end completed by the `end`.
 *   `bad-completion`: a second completion, or a status the operation cannot
 *   have (EAGAIN without NOQUEUE, ECANCEL without a cancel, EBUSY without an
 *   earlier cancel on the lock (§2.9), a fenced status on a node no view
 *   excluded, any other synchronous error), or a lock the node's
 *   exclusion did not end.
 * - `lost-lock`: a lock a live, never-excluded node holds ends or changes
 *   mode without the application asking, or is missing from (or different
 *   in) the final `held` snapshot.
 * - `lvb` (§1.7, §4.7): an LVB read (a completion the table marks R) is
 *   either zero or a value written on that resource before the read
 *   completed; without VALNOTVALID it is no older than the last write that
 *   certainly reached the master before the read was issued (a
 *   down-conversion completes on the owner without the master's answer,
 *   §2.10, so its write counts only once a later operation of the same lock
 *   was answered by the master, or the master granted a mode the given-up
 *   mode excludes while the writer stayed in the views) (zero only if
 *   the resource may have gone idle since, so its LVB was dropped);
 *   VALNOTVALID appears only after some node left a view; after a node that
 *   held PW/EX was excluded, reads incompatible with that mode report
 *   VALNOTVALID until the next write (or read zero if the resource may have
 *   had no other lock).
 */
import type { DoneEvent, HMode, HistoryEvent, Violation, ViolationKind } from './dlm-history-types.ts';

const MODES: readonly HMode[] = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'];

/** Spec §1.4, rows = held, columns = requested, in MODES order. */
const COMPAT: readonly (readonly boolean[])[] = [
  [true, true, true, true, true, true],
  [true, true, true, true, true, false],
  [true, true, true, false, false, false],
  [true, true, false, true, false, false],
  [true, true, false, false, false, false],
  [true, false, false, false, false, false],
];

/** Spec §1.7, rows = granted (UN first), columns = requested: R, W or -. */
const LVB_TABLE: readonly string[] = ['RRRRRR', 'RRRRRR', '-RRRRR', '--RRRR', '---RRR', 'WWWWWR', 'WWWWWW'];

function mi(m: HMode): number {
  return MODES.indexOf(m);
}

export function compatibleModes(a: HMode, b: HMode): boolean {
  return COMPAT[mi(a)]![mi(b)]!;
}

/** The LVB operation of moving from `granted` (null: new request) to `requested`. */
export function lvbOp(granted: HMode | null, requested: HMode): 'R' | 'W' | '-' {
  const row = granted === null ? 0 : mi(granted) + 1;
  return LVB_TABLE[row]![mi(requested)] as 'R' | 'W' | '-';
}

function isMiddle(from: HMode, to: HMode): boolean {
  return (from === 'PR' && to === 'CW') || (from === 'CW' && to === 'PR');
}

/** A down-conversion (the lock gives up part of its mode at issue); middle conversions PR<->CW are not. */
function isDown(from: HMode, to: HMode): boolean {
  if ((from === 'PR' && to === 'CW') || (from === 'CW' && to === 'PR')) return false;
  return mi(to) < mi(from);
}

function isZero(hex: string | undefined): boolean {
  return hex === undefined || /^0*$/.test(hex);
}

export interface CheckOptions {
  /** 'required': every PW/EX grant must carry a token. @default 'required' */
  fences?: 'required' | 'absent-ok';
  /**
   * Statuses with which a lock of an excluded (fenced) node may end: the
   * lockspace's `fence(status)` default and the views driver's fenceStatus
   * default are both ENOTCONN (docs/dlm.md "Recovery", docs/views.md).
   * @default ['ENOTCONN']
   */
  fencedStatuses?: readonly string[];
}

export interface CheckReport {
  readonly violations: Violation[];
  readonly stats: {
    events: number;
    ops: number;
    grants: number;
    lvbReads: number;
    faults: number;
    kills: number;
  };
}

interface Op {
  readonly idx: number;
  readonly kind: 'request' | 'convert' | 'unlock';
  readonly lock: string;
  readonly node: number;
  readonly mode: HMode | null;
  readonly flags: readonly string[];
  /** The belief mode when issued (conversions). */
  readonly from: HMode | null;
  done: number;
  /** The LVB write this operation issued (§1.7 W), if any. */
  write?: Write;
}

interface LockState {
  readonly lock: string;
  readonly node: number;
  readonly res: string;
  readonly incarnation: number;
  /** What the application believes it holds. */
  held: HMode | null;
  /** Start index of the current held interval. */
  since: number;
  /**
   * The completion that began the lock's current hold at its master (its
   * grant): the hold stops counting at the first view after it that
   * excludes the node. An interval the application opens itself (a
   * down-conversion or a middle conversion when issued, the old mode back
   * after a failed conversion) continues that hold and keeps its anchor.
   */
  anchor: number;
  /** LVB writes of this lock's down-conversions that may not have reached the master yet (see `Write.downFrom`). */
  uncertainDown: Write[];
  /** The mode a pending middle conversion asks for (the current interval is its window). */
  alt: HMode | null;
  /** The request or conversion in flight. */
  pending: Op | null;
  unlockOp: Op | null;
  cancelled: boolean;
  /** A cancel was issued on this lock at some point (its effect may still be in flight). */
  everCancelled: boolean;
  unlockIssued: boolean;
  ended: boolean;
  /** Counted as certainly present at the master (for LVB idleness). */
  present: boolean;
  /** The node died with this lock; `killedMode` is what it held then. */
  killed: boolean;
  killedMode: HMode | null;
}

interface Interval {
  readonly lock: string;
  readonly node: number;
  readonly res: string;
  /**
   * One mode; or two, [old, new], for the window of a middle conversion
   * (PR<->CW) that was granted: the master switched the lock from old to new
   * at some unobservable point inside it.
   */
  readonly modes: readonly HMode[];
  readonly start: number;
  /** Belief end (exclusive); Infinity when the node died holding it. */
  readonly end: number;
  /** The grant this hold continues (`LockState.anchor`): the exclusion point is counted from it. */
  readonly anchor: number;
}

interface Write {
  readonly idx: number;
  readonly value: string;
  readonly lock: string;
  readonly node: number;
  /**
   * Index from which the write certainly is at the master (reads issued
   * after it must see it or a later value); Infinity until known.
   */
  done: number;
  /**
   * Set for the write of a down-conversion: the mode the lock gave up. A
   * down-conversion completes on the owner without a reply from the master
   * (spec §2.10), so its completion says nothing about the master having
   * the value. It certainly has it once a later operation of the same lock
   * completed with the master's answer (the owner's messages to its master
   * arrive in order), or once the master granted another lock a mode
   * incompatible with `downFrom` while the writer's node stayed in the
   * views (the master had to process the down-conversion first).
   */
  downFrom?: HMode;
}

interface ResLvb {
  writes: Write[];
  /** Certainly-present locks now. */
  present: number;
  /** Indices at which the resource may have had no lock at its master. */
  idle: number[];
  /** Reads incompatible with `mode` must report VALNOTVALID from `from` until the next write. */
  mustInvalid: { from: number; mode: HMode; idleAtPurge: boolean } | null;
}

/** Check `events` (in order). Never throws on a malformed history: it reports it. */
export function checkHistory(events: readonly HistoryEvent[], options: CheckOptions = {}): CheckReport {
  const fences = options.fences ?? 'required';
  const fenced = new Set(options.fencedStatuses ?? ['ENOTCONN']);
  const violations: Violation[] = [];
  const report = (kind: ViolationKind, message: string, ...at: number[]): void => {
    if (violations.length < 200) violations.push({ kind, message, at });
  };
  const n = events.length;

  // ---- pass 1: views, leases, kills and restarts (exclusion points need lookahead) ----
  const views: { idx: number; view: number; members: ReadonlySet<number> }[] = [];
  const granting = new Map<number, { idx: number; until: number }[]>();
  const kills = new Map<number, number[]>();
  const restarts = new Map<number, number[]>();
  let faults = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    // A view is committed when the first node reports it; a restarted node replays old views (ignored).
    if (e.type === 'view' && !views.some((v) => v.view === e.view)) views.push({ idx: i, view: e.view, members: new Set(e.members) });
    else if (e.type === 'granting') (granting.get(e.node) ?? granting.set(e.node, []).get(e.node)!).push({ idx: i, until: e.until });
    else if (e.type === 'kill') (kills.get(e.node) ?? kills.set(e.node, []).get(e.node)!).push(i);
    else if (e.type === 'restart') (restarts.get(e.node) ?? restarts.set(e.node, []).get(e.node)!).push(i);
    if (e.type === 'kill' || e.type === 'restart' || e.type === 'net') faults++;
  }
  /** The highest view number committed (seen anywhere) before index i. */
  const viewBefore = (i: number): number => {
    let v = 0;
    for (const x of views) {
      if (x.idx >= i) break;
      v = Math.max(v, x.view);
    }
    return v;
  };
  const firstAtOrAfter = (from: number, t: number): number => {
    for (let i = from; i < n; i++) if (events[i]!.t >= t) return i;
    return n;
  };
  /** The first committed view after index `s` that excludes `node`, or re-admits it after a restart (-1: none). */
  const firstExclusion = (node: number, s: number): number => {
    const rs = restarts.get(node) ?? [];
    for (let k = 0; k < views.length; k++) {
      const v = views[k]!;
      if (v.idx <= s) continue;
      if (!v.members.has(node)) return k;
      const r = rs.find((x) => x > s && x < v.idx);
      if (r !== undefined && v.view > viewBefore(r)) return k;
    }
    return -1;
  };
  const exclusionCache = new Map<string, number>();
  /**
   * Where a hold of node `node` that started at index `s` stops counting
   * (Infinity: never): the first view after `s` that excludes the node, or
   * re-admits it after a restart, moved on to the end of the node's last
   * granting lease if that is later.
   */
  const exclusionEnd = (node: number, s: number): number => {
    const key = `${node}@${s}`;
    const cached = exclusionCache.get(key);
    if (cached !== undefined) return cached;
    let result = Number.POSITIVE_INFINITY;
    const k = firstExclusion(node, s);
    if (k >= 0) {
      const v = views[k]!;
      let until = events[v.idx]!.t;
      for (const g of granting.get(node) ?? []) if (g.idx < v.idx) until = Math.max(until, g.until);
      result = firstAtOrAfter(v.idx, until);
    }
    exclusionCache.set(key, result);
    return result;
  };
  /** A view excluding `node` (as in `firstExclusion`) was committed between indices `a` and `b` (exclusive): its master copies may have been purged. */
  const excludedBetween = (node: number, a: number, b: number): boolean => {
    const k = firstExclusion(node, a);
    return k >= 0 && views[k]!.idx < b;
  };
  const excludedBefore = (node: number, i: number): boolean => views.some((v) => v.idx < i && !v.members.has(node));
  /**
   * Some node left a view before index i: a committed view omits a node
   * that was a member of an earlier view or that was active (had events)
   * before it. The initial member list (the voters, "view 0") is never
   * reported as committed, so active nodes stand in for it.
   */
  const activeSince = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    if (e.node !== 0 && !activeSince.has(e.node)) activeSince.set(e.node, i);
  }
  const someoneLeftBefore = (i: number): boolean => {
    const known = new Set<number>();
    for (const v of views) {
      if (v.idx >= i) break;
      for (const [node, since] of activeSince) if (since < v.idx) known.add(node);
      if ([...known].some((m) => !v.members.has(m))) return true;
      for (const m of v.members) known.add(m);
    }
    return [...kills.values()].some((ks) => ks.some((k) => k < i)) && views.some((v) => v.idx < i);
  };

  // ---- pass 2: the sweep ----
  const ops = new Map<string, Op>();
  const locks = new Map<string, LockState>();
  const incarnation = new Map<number, number>();
  const intervals: Interval[] = [];
  const lvbs = new Map<string, ResLvb>();
  const removals = new Map<number, (() => void)[]>();
  const grantsByRes = new Map<string, { idx: number; lock: string; mode: HMode; fence: number | undefined }[]>();
  let grants = 0;
  let lvbReads = 0;
  let healedAt = -1;
  const snapshot = new Map<string, { idx: number; mode: HMode | null }>();
  let snapshotDue = false;
  /**
   * The `held` events right after `healed` are the application's locks as
   * the API reports them: compare with what the history says each live
   * node holds (a missing or weaker lock is lost; an excluded node must
   * have had its locks failed by then).
   */
  const compareSnapshot = (at: number): void => {
    for (const ls of locks.values()) {
      if (ls.ended || (incarnation.get(ls.node) ?? 0) !== ls.incarnation) continue;
      const snap = snapshot.get(ls.lock);
      if (ls.held !== null && exclusionEnd(ls.node, ls.anchor) < at) {
        report('bad-completion', `${ls.lock} (node ${ls.node}) still holds ${ls.held} after the heal although a view excluded its node (event ${exclusionEnd(ls.node, ls.anchor)})`, ls.since);
        continue;
      }
      const pendingFrom = ls.pending?.kind === 'convert' ? ls.pending.from : null;
      if (ls.held !== null && (!snap || (snap.mode !== ls.held && snap.mode !== ls.alt && snap.mode !== pendingFrom))) report('lost-lock', `${ls.lock} (node ${ls.node}) holds ${ls.held} but the final snapshot has ${snap ? (snap.mode ?? 'no mode') : 'no such lock'}`, ls.since, snap?.idx ?? at);
      const unlocking = ls.unlockOp !== null && ls.unlockOp.done < 0;
      if (ls.held === null && snap && snap.mode !== null && !ls.pending && !unlocking) report('bad-completion', `${ls.lock} (node ${ls.node}) is not held but the final snapshot has ${snap.mode}`, snap.idx);
    }
  };

  const lvbOf = (res: string): ResLvb => {
    let r = lvbs.get(res);
    if (!r) lvbs.set(res, (r = { writes: [], present: 0, idle: [-1], mustInvalid: null }));
    return r;
  };
  const setPresent = (ls: LockState, on: boolean, at: number): void => {
    if (ls.present === on) return;
    ls.present = on;
    const r = lvbOf(ls.res);
    r.present += on ? 1 : -1;
    if (r.present === 0) r.idle.push(at);
  };
  /** End the current interval at `at` (a middle conversion's window keeps both modes unless `plain`). */
  const closeHeld = (ls: LockState, at: number, plain = false): void => {
    if (ls.held !== null) intervals.push({ lock: ls.lock, node: ls.node, res: ls.res, modes: ls.alt && !plain ? [ls.held, ls.alt] : [ls.held], start: ls.since, end: at, anchor: ls.anchor });
    ls.held = null;
    ls.alt = null;
  };
  /**
   * Open a held interval at `at`: `grant` when the master granted it (the
   * hold's anchor moves there); otherwise the application opened it itself
   * and it continues the current hold (same anchor).
   */
  const openHeld = (ls: LockState, mode: HMode, at: number, alt: HMode | null = null, plain = false, grant = false): void => {
    closeHeld(ls, at, plain);
    ls.held = mode;
    ls.alt = alt;
    ls.since = at;
    if (grant) ls.anchor = at;
  };
  const issueWrite = (ls: LockState, value: string | undefined, idx: number, op: Op, downFrom?: HMode): void => {
    const r = lvbOf(ls.res);
    const w: Write = { idx, value: value ?? '', lock: ls.lock, node: ls.node, done: Number.POSITIVE_INFINITY, ...(downFrom ? { downFrom } : {}) };
    r.writes.push(w);
    r.mustInvalid = null;
    op.write = w;
  };
  /**
   * A grant of `mode` on `ls` at index i: the master processed every
   * down-conversion, still unconfirmed, of another lock whose given-up mode
   * excludes `mode`, unless that writer's node was excluded meanwhile.
   */
  const confirmDownWrites = (ls: LockState, mode: HMode, i: number): void => {
    for (const w of lvbOf(ls.res).writes) {
      if (w.downFrom && w.done === Number.POSITIVE_INFINITY && w.lock !== ls.lock && !compatibleModes(w.downFrom, mode) && !excludedBetween(w.node, w.idx, i)) w.done = i;
    }
  };
  const checkRead = (ls: LockState, op: Op, e: DoneEvent, i: number): void => {
    lvbReads++;
    const r = lvbOf(ls.res);
    const value = e.lvb ?? '';
    const zero = isZero(value);
    const before = r.writes.filter((w) => w.idx < i);
    if (!zero && !before.some((w) => w.value === value)) {
      report('lvb', `${ls.lock} on ${ls.res} read LVB ${value}, which no one wrote on ${ls.res} before`, op.idx, i);
      return;
    }
    if (e.valnotvalid) {
      if (!someoneLeftBefore(i)) report('lvb', `${ls.lock} on ${ls.res}: VALNOTVALID although no node ever left a view`, i);
      return;
    }
    if (r.mustInvalid && i > r.mustInvalid.from && op.mode !== null && !compatibleModes(r.mustInvalid.mode, op.mode)) {
      const idleSince = r.idle.some((x) => x >= r.mustInvalid!.from) || r.mustInvalid.idleAtPurge;
      if (!(zero && idleSince)) {
        report('lvb', `${ls.lock} on ${ls.res} read without VALNOTVALID after a holder of ${r.mustInvalid.mode} was excluded (§4.7)`, r.mustInvalid.from, i);
        return;
      }
    }
    // Certain: completed before the read was issued, or confirmed by this very grant (done === i).
    let certain: Write | undefined;
    for (const w of r.writes) if (w.done < op.idx || w.done === i) certain = w;
    if (!certain) return; // nothing certainly written yet: zero or any value written so far
    const idleAfter = r.idle.some((x) => x >= certain!.idx && x < i);
    if (zero) {
      if (!idleAfter) report('lvb', `${ls.lock} on ${ls.res} read a zero LVB although ${certain.value} was written (event ${certain.idx}) and the resource was never idle since`, certain.idx, i);
      return;
    }
    const ok = before.some((w) => w.idx >= certain!.idx && w.value === value);
    if (!ok) report('lvb', `${ls.lock} on ${ls.res} read a stale LVB ${value}; ${certain.value} was written (event ${certain.idx}) and completed before the read was issued`, certain.idx, i);
  };

  for (let i = 0; i < n; i++) {
    for (const f of removals.get(i) ?? []) f();
    removals.delete(i);
    const e = events[i]!;
    if (snapshotDue && e.type !== 'held' && e.type !== 'healed') {
      snapshotDue = false;
      compareSnapshot(i);
    }
    switch (e.type) {
      case 'request': {
        if (ops.has(e.op) || locks.has(e.lock)) {
          report('malformed', `request ${e.op}/${e.lock} reuses an id`, i);
          break;
        }
        const op: Op = { idx: i, kind: 'request', lock: e.lock, node: e.node, mode: e.mode, flags: e.flags, from: null, done: -1 };
        ops.set(e.op, op);
        const ls: LockState = { lock: e.lock, node: e.node, res: e.res, incarnation: incarnation.get(e.node) ?? 0, held: null, since: i, anchor: i, uncertainDown: [], pending: op, unlockOp: null, alt: null, cancelled: false, everCancelled: false, unlockIssued: false, ended: false, present: false, killed: false, killedMode: null };
        locks.set(e.lock, ls);
        break;
      }
      case 'convert':
      case 'unlock': {
        const ls = locks.get(e.lock);
        if (!ls || ops.has(e.op)) {
          report('malformed', `${e.type} ${e.op} on unknown lock ${e.lock} or reused op id`, i);
          break;
        }
        const from = ls.held;
        const op: Op = { idx: i, kind: e.type, lock: e.lock, node: e.node, mode: e.type === 'convert' ? e.mode : null, flags: e.type === 'convert' ? e.flags : [], from, done: -1 };
        ops.set(e.op, op);
        if (e.type === 'convert') {
          if (ls.pending) report('bad-completion', `convert ${e.op} issued on ${e.lock} while ${ls.pending.kind} is pending`, ls.pending.idx, i);
          if (from === null) {
            report('malformed', `convert ${e.op} on ${e.lock}, which holds no mode`, i);
            break;
          }
          ls.pending = op;
          ls.cancelled = false;
          if (lvbOp(from, e.mode) === 'W') issueWrite(ls, e.lvb, i, op, isDown(from, e.mode) ? from : undefined);
          if (isDown(from, e.mode)) openHeld(ls, e.mode, i);
          else if (isMiddle(from, e.mode)) openHeld(ls, from, i, e.mode);
        } else {
          if (from === 'PW' || from === 'EX') issueWrite(ls, e.lvb, i, op);
          closeHeld(ls, i);
          setPresent(ls, false, i);
          ls.unlockIssued = true;
          ls.unlockOp = op;
        }
        break;
      }
      case 'cancel': {
        const ls = locks.get(e.lock);
        if (!ls) report('malformed', `cancel on unknown lock ${e.lock}`, i);
        else {
          ls.cancelled = true;
          ls.everCancelled = true;
        }
        break;
      }
      case 'done': {
        const op = ops.get(e.op);
        const ls = locks.get(e.lock);
        if (!op || !ls || op.lock !== e.lock) {
          report('malformed', `completion of unknown op ${e.op} on ${e.lock}`, i);
          break;
        }
        if (op.done >= 0) {
          report('bad-completion', `${op.kind} ${e.op} on ${e.lock} completed twice (${e.status})`, op.done, i);
          break;
        }
        if ((incarnation.get(ls.node) ?? 0) !== ls.incarnation) {
          report('malformed', `${op.kind} ${e.op} completed on ${e.lock} after its node was killed`, i);
          break;
        }
        op.done = i;
        const unlockOp = ls.unlockOp;
        const wasExcluded = excludedBefore(ls.node, i);
        const okStatus = ((): boolean => {
          if (e.status === 'OK') return true;
          if (fenced.has(e.status)) return wasExcluded;
          switch (e.status) {
            case 'EAGAIN':
              return op.kind !== 'unlock' && op.flags.includes('NOQUEUE');
            case 'EDEADLK':
              return op.kind === 'convert';
            case 'ECANCEL':
              return op.kind !== 'unlock' && ls.cancelled;
            case 'EUNLOCK':
              return op.kind === 'unlock' || (unlockOp !== null && unlockOp.idx > op.idx);
            case 'EBUSY':
              // §2.9: a new operation while a cancel is still in flight is refused; the
              // application cannot see that a cancel that lost its race is still travelling.
              return op.kind !== 'request' && ls.everCancelled;
            default:
              return false;
          }
        })();
        if (!okStatus) report('bad-completion', `${op.kind} ${e.op} on ${e.lock} completed with ${e.status}, which it cannot have here`, op.idx, i);
        if (ls.pending === op) ls.pending = null;
        /** The master answered this operation (not a down-conversion, which completes on the owner, §2.10). */
        const fromMaster = op.kind !== 'convert' || !isDown(op.from!, op.mode!);
        if (fromMaster && (e.status === 'OK' || (op.kind === 'unlock' && e.status === 'EUNLOCK'))) {
          // The owner's messages reach its master in order: its earlier down-conversions are there.
          for (const w of ls.uncertainDown) if (w.done === Number.POSITIVE_INFINITY) w.done = i;
          ls.uncertainDown = [];
        }
        if (op.kind === 'unlock') {
          const w = op.write;
          if (w && (e.status === 'OK' || e.status === 'EUNLOCK')) w.done = i;
          ls.ended = true;
          break;
        }
        const granted = e.status === 'OK';
        if (granted) {
          const mode = op.mode!;
          const w = op.write;
          if (w && w.downFrom) ls.uncertainDown.push(w);
          else if (w) w.done = i;
          if (fromMaster) confirmDownWrites(ls, mode, i);
          if (e.mode !== mode) report(e.mode === null || mi(e.mode) < mi(mode) ? 'lost-lock' : 'bad-completion', `${op.kind} ${e.op} on ${e.lock} granted ${mode} but the lock reports ${e.mode ?? 'no mode'}`, i);
          if (ls.unlockIssued) {
            // Granted although an unlock was already issued: the lock is going away; not held.
          } else {
            const before = op.kind === 'request' ? null : op.from;
            openHeld(ls, mode, i, null, false, fromMaster);
            if (op.kind === 'request') {
              setPresent(ls, true, i);
              // When a view excludes the node, recovery purges the lock at its master.
              const at = exclusionEnd(ls.node, i);
              if (at < n) {
                (removals.get(at) ?? removals.set(at, []).get(at)!).push(() => {
                  const held = ls.killed ? ls.killedMode : ls.ended ? null : ls.held;
                  if (!ls.present) return;
                  setPresent(ls, false, at);
                  if (held === 'PW' || held === 'EX') {
                    const r = lvbOf(ls.res);
                    r.mustInvalid = { from: at, mode: held, idleAtPurge: r.present === 0 };
                  }
                });
              }
            }
            if (lvbOp(before, mode) === 'R') checkRead(ls, op, e, i);
          }
          grants++;
          if (mode === 'PW' || mode === 'EX') {
            const list = grantsByRes.get(ls.res) ?? grantsByRes.set(ls.res, []).get(ls.res)!;
            list.push({ idx: i, lock: ls.lock, mode, fence: e.fence });
          }
        } else if (op.kind === 'convert') {
          // The conversion failed: its LVB write did not happen.
          const w = op.write;
          if (w) {
            const r = lvbOf(ls.res);
            r.writes = r.writes.filter((x) => x !== w);
          }
          // It keeps the mode it had before (a failed down-conversion gives the old mode back).
          if (!e.ended && !ls.unlockIssued && op.from !== null) {
            if (e.mode !== op.from) report('lost-lock', `failed convert ${e.op} on ${e.lock}: the lock reports ${e.mode ?? 'no mode'}, it held ${op.from}`, i);
            if (ls.held !== op.from || ls.alt !== null) openHeld(ls, op.from, i, null, true);
          }
        }
        if (e.ended && !ls.ended) {
          ls.ended = true;
          const asked = ls.unlockIssued || (op.kind === 'request' && !granted);
          if (!asked && ls.held !== null && !(fenced.has(e.status) && wasExcluded)) report('lost-lock', `${e.lock} (node ${ls.node}) held ${ls.held} and ended with ${e.status} without an unlock`, ls.since, i);
          closeHeld(ls, i);
          setPresent(ls, false, i);
        }
        break;
      }
      case 'ended': {
        // The lock ended with no operation in flight: only a fence of an excluded node may do that.
        const ls = locks.get(e.lock);
        if (!ls || ls.ended) {
          report('malformed', `end of unknown or ended lock ${e.lock}`, i);
          break;
        }
        ls.ended = true;
        const excused = fenced.has(e.status) && excludedBefore(ls.node, i);
        if (!ls.unlockIssued && ls.held !== null && !excused) report('lost-lock', `${e.lock} (node ${ls.node}) held ${ls.held} and ended with ${e.status} although no view excluded its node`, ls.since, i);
        closeHeld(ls, i);
        setPresent(ls, false, i);
        break;
      }
      case 'kill': {
        incarnation.set(e.node, (incarnation.get(e.node) ?? 0) + 1);
        for (const ls of locks.values()) {
          if (ls.node !== e.node || ls.ended) continue;
          ls.ended = true;
          ls.killed = true;
          if (ls.pending) ls.pending.done = i; // no completion expected from a dead node
          if (ls.held !== null) {
            // Held on, as far as the survivors know, until a view excludes the node (the interval is truncated there).
            intervals.push({ lock: ls.lock, node: ls.node, res: ls.res, modes: ls.alt ? [ls.held, ls.alt] : [ls.held], start: ls.since, end: Number.POSITIVE_INFINITY, anchor: ls.anchor });
            ls.killedMode = ls.held;
            ls.held = null;
          } else setPresent(ls, false, i);
        }
        break;
      }
      case 'healed':
        healedAt = i;
        snapshotDue = true;
        break;
      case 'held':
        snapshot.set(e.lock, { idx: i, mode: e.mode });
        break;
      default:
        break;
    }
  }

  if (snapshotDue) compareSnapshot(n);

  // ---- overlaps: effective intervals, truncated at the holder's exclusion ----
  interface Eff {
    readonly iv: Interval;
    readonly start: number;
    readonly end: number;
  }
  const byRes = new Map<string, Eff[]>();
  const addEff = (iv: Interval): void => {
    const end = Math.min(iv.end, exclusionEnd(iv.node, iv.anchor));
    if (end > iv.start) (byRes.get(iv.res) ?? byRes.set(iv.res, []).get(iv.res)!).push({ iv, start: iv.start, end });
  };
  for (const iv of intervals) addEff(iv);
  for (const ls of locks.values()) if (ls.held !== null) addEff({ lock: ls.lock, node: ls.node, res: ls.res, modes: ls.alt ? [ls.held, ls.alt] : [ls.held], start: ls.since, end: n, anchor: ls.anchor });
  const conflict = (a: readonly HMode[], b: readonly HMode[]): boolean => a.every((x) => b.every((y) => !compatibleModes(x, y)));
  const show = (m: readonly HMode[]): string => m.join('->');
  for (const [res, list] of byRes) {
    list.sort((a, b) => a.start - b.start);
    for (let a = 0; a < list.length; a++) {
      const x = list[a]!;
      for (let b = a + 1; b < list.length && list[b]!.start < x.end; b++) {
        const y = list[b]!;
        if (x.iv.lock === y.iv.lock) continue;
        if (conflict(x.iv.modes, y.iv.modes)) report('overlap', `${res}: ${x.iv.lock} (node ${x.iv.node}) held ${show(x.iv.modes)} from event ${x.start} to ${x.end} while ${y.iv.lock} (node ${y.iv.node}) was granted ${show(y.iv.modes)} at event ${y.start}`, x.start, y.start);
      }
    }
    // (A middle conversion's window needs no ordering check of its own: the only modes that
    // exclude exactly one of PR and CW are CW and PR themselves, which exclude each other.)
  }

  // ---- fencing tokens ----
  for (const [res, list] of grantsByRes) {
    let max = Number.NEGATIVE_INFINITY;
    let maxLock = '';
    let maxIdx = -1;
    let maxMode: HMode = 'NL';
    for (const g of list) {
      if (g.fence === undefined) {
        if (fences === 'required') report('fence-missing', `${res}: ${g.lock} granted PW/EX without a fencing token`, g.idx);
        continue;
      }
      // The holder of the highest token may keep it on a grant that does not raise its mode (EX -> PW).
      const ok = g.lock === maxLock && mi(g.mode) <= mi(maxMode) ? g.fence >= max : g.fence > max;
      if (!ok) report('fence-order', `${res}: ${g.lock} got token ${g.fence} after ${maxLock} got ${max}`, maxIdx, g.idx);
      if (g.fence >= max) {
        max = g.fence;
        maxLock = g.lock;
        maxIdx = g.idx;
        maxMode = g.mode;
      }
    }
  }

  // ---- completion, lost locks and the final snapshot ----
  if (healedAt >= 0) {
    for (const [id, op] of ops) {
      if (op.done >= 0) continue;
      const ls = locks.get(op.lock)!;
      if ((incarnation.get(ls.node) ?? 0) !== ls.incarnation) continue;
      report('never-completed', `${op.kind} ${id} on ${op.lock} (node ${op.node}, issued at event ${op.idx}) never completed after the mesh healed (event ${healedAt})`, op.idx);
    }
  }
  const killCount = [...kills.values()].reduce((a, k) => a + k.length, 0);
  return { violations, stats: { events: n, ops: ops.size, grants, lvbReads, faults, kills: killCount } };
}

/** A one-line-per-violation description (for assertion messages). */
export function describeViolations(v: readonly Violation[], max = 20): string {
  return v
    .slice(0, max)
    .map((x) => `${x.kind}: ${x.message} [events ${x.at.join(',')}]`)
    .join('\n');
}
