/**
 * The membership-view protocol as a pure state machine: Raft (Ongaro &
 * Ousterhout, "In Search of an Understandable Consensus Algorithm", USENIX ATC
 * 2014) with a fixed voter set — §5.2 leader election (terms, RequestVote,
 * randomized timeouts), §5.3 log replication (AppendEntries, the consistency
 * check, conflict truncation), §5.4.1 the election restriction, §5.4.2
 * committing only current-term entries by counting, §8 a new leader's first
 * entry — whose log carries the sequence of views. On top, granting leases
 * (docs/views.md): a node grants only under the latest view it knows is
 * committed, while it holds an unexpired lease issued by a leader backed by a
 * majority; a new leader waits one lease before committing, and a leader with
 * a view change in its log issues no lease and commits it only after every
 * lease it issued expired ("stop on all before start on any", spec §4.1).
 *
 * `step` reads no clock and draws no randomness of its own: `now` comes with
 * every event and election timeouts from a seeded generator kept in the state.
 */
import type { Entry, Message, NodeId, Persisted, StepResult, TimerRequest, ViewsConfig, ViewsEvent, ViewsOutput, ViewsState } from './types.ts';
import { incarnationIn, quorum, sameView, termAt, validMembers, viewAt, viewEntryBetween } from './view-log.ts';

function nextRng(x: number): number {
  x ^= x << 13; x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5; x >>>= 0;
  return x || 1;
}

function electionDeadline(s: ViewsState, now: number): ViewsState {
  const rng = nextRng(s.rng);
  const { electionMin: lo, electionMax: hi } = s.config;
  const span = Math.floor(hi - lo);
  return { ...s, rng, electionAt: now + lo + (span > 0 ? rng % (span + 1) : 0) };
}

/** A fresh node (first start, or restart from `persisted`), running as `incarnation` (0: unknown). */
export function initViewsState(config: ViewsConfig, now: number, persisted?: Persisted, rng?: number, incarnation = 0): ViewsState {
  const s: ViewsState = {
    config,
    currentTerm: persisted?.currentTerm ?? 0,
    votedFor: persisted?.votedFor ?? null,
    log: persisted?.log ?? [],
    role: 'follower',
    commitIndex: 0,
    rng: rng ?? config.seed,
    electionAt: 0,
    heartbeatAt: 0,
    votes: [],
    nextIndex: {},
    matchIndex: {},
    ackAt: {},
    readyAt: 0,
    leaseIssued: 0,
    leaseUntil: 0,
    desired: null,
    desiredIncarnations: [],
    desiredLeft: [],
    incarnation,
    grantingView: null,
    grantingUntil: 0,
    lastCommittedView: 0,
    lastStatus: '',
  };
  return electionDeadline(s, now);
}

/** The part of the state that must be written to stable storage before the step's messages are sent. */
export function persistedOf(s: ViewsState): Persisted {
  return { currentTerm: s.currentTerm, votedFor: s.votedFor, log: s.log };
}

interface Ctx {
  s: ViewsState;
  out: Message[];
  outputs: ViewsOutput[];
  now: number;
}

function isVoter(s: ViewsState, n: NodeId): boolean {
  return s.config.voters.includes(n);
}

function others(s: ViewsState): NodeId[] {
  return s.config.voters.filter((v) => v !== s.config.self);
}

function stepDown(c: Ctx, term: number): void {
  c.s = { ...c.s, currentTerm: term, votedFor: null, role: 'follower', votes: [], leaseUntil: 0 };
}

function leaderLease(s: ViewsState, now: number): number {
  if (s.role !== 'leader' || now < s.readyAt) return 0;
  if (viewEntryBetween(s.log, s.commitIndex, s.log.length)) return 0; // a view change is pending: stop
  const acks = [now, ...others(s).map((v) => s.ackAt[v] ?? -Infinity)].sort((a, b) => b - a);
  const base = acks[quorum(s.config.voters) - 1]!;
  const until = base + s.config.lease;
  return until > now ? until : 0;
}

function sendAppends(c: Ctx): void {
  const lease = leaderLease(c.s, c.now);
  if (lease > 0) c.s = { ...c.s, leaseIssued: Math.max(c.s.leaseIssued, lease), leaseUntil: Math.max(c.s.leaseUntil, lease) };
  for (const to of others(c.s)) {
    const prevIndex = (c.s.nextIndex[to] ?? c.s.log.length + 1) - 1;
    c.out.push({
      type: 'append', from: c.s.config.self, to, term: c.s.currentTerm, prevIndex, prevTerm: termAt(c.s.log, prevIndex),
      entries: c.s.log.slice(prevIndex), leaderCommit: c.s.commitIndex, sentAt: c.now, leaseUntil: lease,
    });
  }
  c.s = { ...c.s, heartbeatAt: c.now + c.s.config.heartbeatInterval };
}

/**
 * The entry a leader appends for `desired` (with `incarnations`, parallel), or null when the latest view
 * already has these members with these incarnations. A member named again with a new incarnation
 * restarted: that makes a new view (the lockspace recovers, purging its old run's locks).
 */
function viewEntryFor(s: ViewsState, desired: readonly NodeId[] | null, incarnations: readonly number[], cleanlyLeft: readonly NodeId[] = []): Entry | null {
  if (!desired) return null;
  // A view naming runs names every member's run: a member of unknown run (0) is left out, never named 0.
  // Named 0, its restart could not be told from its old run by the next view (issue 14: every member
  // must see a restarted node as departed), and it could not grant under that view anyway.
  let members = desired;
  let runs = desired.map((_, i) => incarnations[i] ?? 0);
  if (runs.some((x) => x !== 0) && runs.some((x) => x === 0)) {
    const keep = desired.map((_, i) => runs[i] !== 0);
    members = desired.filter((_, i) => keep[i]);
    runs = runs.filter((_, i) => keep[i]);
  }
  if (!validMembers(members, s.config.voters, s.config.self)) return null;
  const last = viewAt(s.log, s.log.length, s.config.voters);
  if (sameView(last, members, runs)) return null;
  // Members of the latest view this one leaves out after a clean leave (no slot recovery for them, §4.1).
  const left = last.members.filter((m) => !members.includes(m) && cleanlyLeft.includes(m));
  const entry = { term: s.currentTerm, kind: 'view' as const, view: last.view + 1, members, ...(runs.some((x) => x !== 0) ? { incarnations: runs } : {}) };
  return left.length > 0 ? { ...entry, left } : entry;
}

function becomeLeader(c: Ctx): void {
  const s = c.s;
  const next: Record<number, number> = {};
  for (const v of others(s)) next[v] = s.log.length + 1;
  const entry = viewEntryFor(s, s.desired, s.desiredIncarnations, s.desiredLeft) ?? { term: s.currentTerm, kind: 'noop' as const };
  c.s = { ...s, role: 'leader', votes: [], nextIndex: next, matchIndex: {}, ackAt: {}, readyAt: c.now + s.config.lease, leaseIssued: 0, log: [...s.log, entry] };
  if (c.s.config.voters.length === 1) advanceCommit(c);
  sendAppends(c);
}

function startElection(c: Ctx): void {
  const s = c.s;
  c.s = electionDeadline({ ...s, role: 'candidate', currentTerm: s.currentTerm + 1, votedFor: s.config.self, votes: [s.config.self], leaseUntil: 0 }, c.now);
  if (c.s.votes.length >= quorum(s.config.voters)) return becomeLeader(c);
  for (const to of others(c.s)) {
    c.out.push({ type: 'vote-req', from: s.config.self, to, term: c.s.currentTerm, lastLogIndex: c.s.log.length, lastLogTerm: termAt(c.s.log, c.s.log.length) });
  }
}

function advanceCommit(c: Ctx): void {
  const s = c.s;
  if (s.role !== 'leader' || c.now < s.readyAt) return;
  const q = quorum(s.config.voters);
  for (let n = s.log.length; n > s.commitIndex; n--) {
    if (s.log[n - 1]!.term !== s.currentTerm) break; // §5.4.2: count only current-term entries
    const count = 1 + others(s).filter((v) => (s.matchIndex[v] ?? 0) >= n).length;
    if (count < q) continue;
    // Stop on all before start on any: a view change commits only once every lease issued under the old view expired.
    if (viewEntryBetween(s.log, s.commitIndex, n) && c.now < s.leaseIssued) return;
    c.s = { ...s, commitIndex: n };
    return;
  }
}

function onMessage(c: Ctx, m: Message): void {
  if (m.to !== c.s.config.self || !c.s.config.voters.includes(m.from)) return;
  if (m.term > c.s.currentTerm) stepDown(c, m.term);
  const s = c.s;
  switch (m.type) {
    case 'vote-req': {
      const lastTerm = termAt(s.log, s.log.length);
      const upToDate = m.lastLogTerm > lastTerm || (m.lastLogTerm === lastTerm && m.lastLogIndex >= s.log.length); // §5.4.1
      const granted = m.term === s.currentTerm && (s.votedFor === null || s.votedFor === m.from) && upToDate;
      if (granted) c.s = electionDeadline({ ...s, votedFor: m.from }, c.now);
      c.out.push({ type: 'vote-rep', from: s.config.self, to: m.from, term: c.s.currentTerm, granted });
      return;
    }
    case 'vote-rep': {
      if (s.role !== 'candidate' || m.term !== s.currentTerm || !m.granted || s.votes.includes(m.from)) return;
      c.s = { ...s, votes: [...s.votes, m.from] };
      if (c.s.votes.length >= quorum(s.config.voters)) becomeLeader(c);
      return;
    }
    case 'append': {
      const reply = (success: boolean, matchIndex: number): void => {
        c.out.push({ type: 'append-rep', from: s.config.self, to: m.from, term: c.s.currentTerm, success, matchIndex, sentAt: m.sentAt });
      };
      if (m.term < s.currentTerm) return reply(false, 0);
      let t: ViewsState = electionDeadline({ ...s, role: 'follower', votes: [] }, c.now);
      if (m.prevIndex > t.log.length || termAt(t.log, m.prevIndex) !== m.prevTerm) {
        c.s = t;
        return reply(false, 0);
      }
      let log = t.log;
      m.entries.forEach((e, i) => {
        const idx = m.prevIndex + 1 + i;
        if (idx <= log.length && log[idx - 1]!.term !== e.term) log = log.slice(0, idx - 1); // §5.3 conflict
        if (idx > log.length) log = [...log, e];
      });
      const match = m.prevIndex + m.entries.length;
      const commitIndex = Math.max(t.commitIndex, Math.min(m.leaderCommit, match));
      t = { ...t, log, commitIndex };
      if (m.leaseUntil > 0 && commitIndex >= m.leaderCommit) t = { ...t, leaseUntil: Math.max(t.leaseUntil, m.leaseUntil) };
      c.s = t;
      return reply(true, match);
    }
    case 'append-rep': {
      if (s.role !== 'leader' || m.term !== s.currentTerm) return;
      if (m.success) {
        c.s = {
          ...s,
          matchIndex: { ...s.matchIndex, [m.from]: Math.max(s.matchIndex[m.from] ?? 0, m.matchIndex) },
          nextIndex: { ...s.nextIndex, [m.from]: Math.max(s.nextIndex[m.from] ?? 1, m.matchIndex + 1) },
          ackAt: { ...s.ackAt, [m.from]: Math.max(s.ackAt[m.from] ?? -Infinity, m.sentAt) },
        };
        advanceCommit(c);
      } else {
        c.s = { ...s, nextIndex: { ...s.nextIndex, [m.from]: Math.max(1, (s.nextIndex[m.from] ?? 1) - 1) } };
      }
      return;
    }
  }
}

function describe(s: ViewsState, now: number, granting: boolean): string {
  const cv = viewAt(s.log, s.commitIndex, s.config.voters);
  if (granting) return `${s.role === 'leader' ? 'leader' : 'member'} of view ${cv.view} (granting)`;
  if (!cv.members.includes(s.config.self)) return `excluded from view ${cv.view}: waiting`;
  if (incarnationIn(cv, s.config.self) !== s.incarnation) return `joining: waiting for a view naming this run (view ${cv.view} does not)`;
  if (s.role === 'leader' && now < s.readyAt) return `leader, waiting out old leases (view ${cv.view})`;
  if (s.role === 'leader' && viewEntryBetween(s.log, s.commitIndex, s.log.length)) return `view change after ${cv.view}: stopped`;
  return `minority: waiting (view ${cv.view}, no quorum lease)`;
}

function finish(c: Ctx): StepResult {
  let s = c.s;
  const now = c.now;
  // Committed views.
  const cv = viewAt(s.log, s.commitIndex, s.config.voters);
  if (cv.view > s.lastCommittedView) {
    for (let i = 1; i <= s.commitIndex; i++) {
      const e = s.log[i - 1]!;
      if (e.kind === 'view' && e.view > s.lastCommittedView) c.outputs.push({ type: 'committed', view: e.view, members: e.members, ...(e.incarnations ? { incarnations: e.incarnations } : {}), ...(e.left ? { left: e.left } : {}) });
    }
    s = { ...s, lastCommittedView: cv.view };
  }
  // Granting: only under a view naming this node with this run's incarnation.
  const granting = cv.members.includes(s.config.self) && incarnationIn(cv, s.config.self) === s.incarnation && now < s.leaseUntil;
  if (s.grantingView !== null && (!granting || s.grantingView !== cv.view)) {
    const reason = !cv.members.includes(s.config.self) ? 'excluded' : s.grantingView !== cv.view ? 'view-change' : s.leaseUntil === 0 ? 'new-term' : 'lease-expired';
    c.outputs.push({ type: 'stopped', view: s.grantingView, reason });
    s = { ...s, grantingView: null, grantingUntil: 0 };
  }
  if (granting && (s.grantingView !== cv.view || s.grantingUntil !== s.leaseUntil)) {
    c.outputs.push({ type: 'granting', view: cv.view, until: s.leaseUntil });
    s = { ...s, grantingView: cv.view, grantingUntil: s.leaseUntil };
  }
  const text = describe(s, now, granting);
  if (text !== s.lastStatus) {
    c.outputs.push({ type: 'status', text });
    s = { ...s, lastStatus: text };
  }
  const timers: TimerRequest[] = [];
  if (s.role === 'leader') timers.push({ kind: 'heartbeat', at: s.heartbeatAt });
  else timers.push({ kind: 'election', at: s.electionAt });
  const wake = [granting ? s.leaseUntil : Infinity, s.role === 'leader' && now < s.readyAt ? s.readyAt : Infinity, s.role === 'leader' && now < s.leaseIssued ? s.leaseIssued : Infinity];
  const at = Math.min(...wake);
  if (at !== Infinity) timers.push({ kind: 'lease', at });
  return { state: s, messages: c.out, timers, outputs: c.outputs };
}

/** One step of a node: pure and deterministic. Persist `persistedOf(result.state)` before sending `result.messages`. */
export function step(state: ViewsState, event: ViewsEvent): StepResult {
  const c: Ctx = { s: state, out: [], outputs: [], now: event.now };
  switch (event.type) {
    case 'restart':
      c.s = initViewsState(state.config, event.now, event.persisted, state.rng, event.incarnation ?? 0);
      break;
    case 'message':
      onMessage(c, event.message);
      break;
    case 'propose': {
      const desired = [...new Set(event.members)].sort((a, b) => a - b);
      const incs = event.incarnations;
      const desiredIncarnations = desired.map((n) => (incs && Number.isSafeInteger(incs[n]) && incs[n]! > 0 ? incs[n]! : 0));
      const desiredLeft = [...new Set(event.left ?? [])].filter((n) => isVoter(c.s, n)).sort((a, b) => a - b);
      c.s = { ...c.s, desired, desiredIncarnations, desiredLeft };
      if (c.s.role === 'leader') {
        const e = viewEntryFor(c.s, desired, desiredIncarnations, desiredLeft);
        if (e) {
          c.s = { ...c.s, log: [...c.s.log, e] };
          sendAppends(c);
        }
      }
      break;
    }
    case 'timer':
      if (event.kind === 'election' && c.s.role !== 'leader' && event.now >= c.s.electionAt) startElection(c);
      else if (event.kind === 'heartbeat' && c.s.role === 'leader' && event.now >= c.s.heartbeatAt) sendAppends(c);
      break;
  }
  advanceCommit(c);
  return finish(c);
}
