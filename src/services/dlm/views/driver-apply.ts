/**
 * What the lockspace must do when the views protocol says something: a pure
 * planner, `applyOutput(state, output) -> { state, actions }`, kept apart from
 * the driver's I/O so every rule is testable on its own.
 *
 * Rules (docs/views.md, "Driving the lockspace"):
 * - a committed view whose members differ from the view the lockspace runs:
 *   stop now; start (recovery) only once this node is **granting** under that
 *   view — the views' leases guarantee every grant of the old view has ended
 *   by then (stop on all before start on any, spec §4.1);
 * - start passes `generation: view` and `departed`: nodes removed by some
 *   committed view after the one the lockspace runs and present again in the
 *   new one, or named by some committed view since with an incarnation other
 *   than the last one a view named for it (a restarted node: its old run's
 *   locks go; a view naming it with an unknown run, 0, is skipped over);
 * - `stopped` (lease expired, new term, view change, excluded): stop;
 *   granting again under the same view: start with the same members (resume,
 *   no recovery);
 * - excluded from a committed view: stop and fence (every lock this node owns
 *   fails, its state is forgotten); it starts again as a fresh member of the
 *   first later view that includes it.
 */
import type { NodeId, ViewsOutput } from './types.ts';
import { incarnationIn, type View } from './view-log.ts';

/** What the driver does to the lockspace. */
export type ApplyAction =
  | { readonly type: 'stop' }
  | { readonly type: 'start'; readonly members: readonly NodeId[]; readonly generation?: number; readonly departed: readonly NodeId[]; readonly left?: readonly NodeId[] }
  | { readonly type: 'fence'; readonly view: number };

export interface ApplyState {
  readonly self: NodeId;
  /** The view the lockspace was last started with (null: fresh, after a fence). */
  readonly applied: View | null;
  /** The lockspace runs (started and not stopped since). */
  readonly running: boolean;
  /** The latest committed view this node knows. */
  readonly committed: View;
  /** Nodes some committed view after `applied` left out or named with a new incarnation (candidates for `departed`). */
  readonly removed: readonly NodeId[];
  /**
   * The lockspace holds no state from an earlier membership: never started
   * since it was joined (or fenced). It then starts with no `departed`: it
   * has nothing of theirs to purge, and naming live members departed would
   * make its recovery refuse their locks while the others keep them (fault
   * seed 1093: a restarted node learnt views 1-9 at once, started with every
   * node departed, and as new master of a resource dropped a survivor's
   * lock: two masters, an overlap).
   */
  readonly fresh: boolean;
  /** Per node, the last run (incarnation) a committed view named for it (unknown: absent). */
  readonly runs: Readonly<Record<number, number>>;
  /** Nodes whose latest departure since `applied` was a clean leave (a view's `left`): passed as `left`, no slot recovery. */
  readonly left: readonly NodeId[];
}

/** The lockspace starts stopped (on the mesh joined alone, so its first start always recovers with the others) until this node grants. */
export function initApplyState(self: NodeId, voters: readonly NodeId[]): ApplyState {
  const v0: View = { view: 0, members: [...voters].sort((a, b) => a - b) };
  return { self, applied: v0, running: false, committed: v0, removed: [], fresh: true, runs: {}, left: [] };
}

function union(a: readonly NodeId[], b: readonly NodeId[]): NodeId[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

/** One output of `step` -> the lockspace actions, in order. Pure. */
export function applyOutput(s: ApplyState, o: ViewsOutput): { state: ApplyState; actions: ApplyAction[] } {
  const actions: ApplyAction[] = [];
  switch (o.type) {
    case 'committed': {
      if (o.view <= s.committed.view) return { state: s, actions };
      const next: View = o.incarnations ? { view: o.view, members: [...o.members], incarnations: [...o.incarnations] } : { view: o.view, members: [...o.members] };
      // Gone: left out, or restarted: named with a run other than the last one a view named for it (a view
      // naming it with an unknown run, 0, says nothing: the run before and after it is compared, issue 14).
      const runs = { ...s.runs };
      const gone = s.committed.members.filter((m) => {
        if (!o.members.includes(m)) return true;
        const now = incarnationIn(next, m);
        const before = runs[m] ?? 0;
        return now !== 0 && before !== 0 && now !== before;
      });
      for (const m of o.members) {
        const r = incarnationIn(next, m);
        if (r !== 0) runs[m] = r;
      }
      // A departure is a clean leave when the view names it in `left`; any other (a failure, a restart) replaces it.
      const left = new Set(s.left);
      for (const m of gone) {
        if (o.left?.includes(m)) left.add(m);
        else left.delete(m);
      }
      let t: ApplyState = { ...s, committed: next, runs, left: [...left].sort((a, b) => a - b), removed: s.applied === null || s.fresh ? [] : union(s.removed, gone) };
      if (!o.members.includes(s.self)) {
        if (t.running) actions.push({ type: 'stop' });
        if (t.applied !== null) actions.push({ type: 'fence', view: o.view });
        t = { ...t, running: false, applied: null, removed: [], fresh: true, left: [] };
      } else if (t.running && t.applied !== null && t.applied.view !== o.view) {
        actions.push({ type: 'stop' });
        t = { ...t, running: false };
      }
      return { state: t, actions };
    }
    case 'granting': {
      const c = s.committed;
      if (o.view !== c.view || !c.members.includes(s.self)) return { state: s, actions };
      if (s.applied === null) {
        actions.push({ type: 'start', members: c.members, generation: c.view, departed: [] });
      } else if (s.applied.view !== c.view) {
        if (s.running) actions.push({ type: 'stop' });
        const departed = s.removed.filter((m) => c.members.includes(m));
        // Clean leavers among those this start recovers as departed (left out, or back again): no slot recovery.
        const left = s.fresh ? [] : s.left.filter((m) => !c.members.includes(m) || departed.includes(m));
        actions.push({ type: 'start', members: c.members, generation: c.view, departed, ...(left.length > 0 ? { left } : {}) });
      } else if (!s.running) {
        actions.push({ type: 'start', members: c.members, departed: [] });
      } else {
        return { state: s, actions }; // a lease extension
      }
      return { state: { ...s, applied: c, running: true, removed: [], fresh: false, left: [] }, actions };
    }
    case 'stopped':
      if (!s.running) return { state: s, actions };
      actions.push({ type: 'stop' });
      return { state: { ...s, running: false }, actions };
    case 'status':
      return { state: s, actions };
  }
}
