/**
 * Pure helpers over the replicated log that carries the views.
 */
import type { Entry, NodeId } from './types.ts';

/** A numbered view: view 0 is the configured member list, implicitly committed at index 0. */
export interface View {
  readonly view: number;
  readonly members: readonly NodeId[];
  /** Each member's incarnation, parallel to `members` (absent: all 0, unknown; view 0 has none). */
  readonly incarnations?: readonly number[];
}

/** The latest view entry at or before `index` (1-based), or view 0 = `voters`. */
export function viewAt(log: readonly Entry[], index: number, voters: readonly NodeId[]): View {
  for (let i = Math.min(index, log.length); i >= 1; i--) {
    const e = log[i - 1]!;
    if (e.kind === 'view') return e.incarnations ? { view: e.view, members: e.members, incarnations: e.incarnations } : { view: e.view, members: e.members };
  }
  return { view: 0, members: voters };
}

/** Whether a view entry lies in (from, to]. */
export function viewEntryBetween(log: readonly Entry[], from: number, to: number): boolean {
  for (let i = from + 1; i <= Math.min(to, log.length); i++) if (log[i - 1]!.kind === 'view') return true;
  return false;
}

export function termAt(log: readonly Entry[], index: number): number {
  return index <= 0 ? 0 : (log[index - 1]?.term ?? -1);
}

/** A majority of `voters`. */
export function quorum(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1;
}

/** Whether `members` is a valid next view: includes `self` and a majority of `voters`, only voters. */
export function validMembers(members: readonly NodeId[], voters: readonly NodeId[], self: NodeId): boolean {
  const inVoters = members.filter((m) => voters.includes(m));
  return inVoters.length === members.length && members.includes(self) && inVoters.length >= quorum(voters);
}

export function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The incarnation a view names for `node` (0: unknown, or not a member). */
export function incarnationIn(v: View, node: NodeId): number {
  const i = v.members.indexOf(node);
  return i < 0 ? 0 : (v.incarnations?.[i] ?? 0);
}

/** Same members with the same incarnations (absent incarnations count as 0). */
export function sameView(a: View, members: readonly NodeId[], incarnations: readonly number[]): boolean {
  return sameMembers(a.members, members) && members.every((_, i) => (a.incarnations?.[i] ?? 0) === (incarnations[i] ?? 0));
}
