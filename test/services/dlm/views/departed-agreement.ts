/**
 * The "departed agreement" check over the lockspace calls a views cluster
 * makes (issue 14, the restarted-master overlap): every pair of members
 * that recover to the same generation must agree on whether they still
 * share state. Node a treats b as **new** in a recovery when a holds
 * nothing of b's from before: a starts fresh (first start since it booted
 * or was fenced), or b is in a's `departed`, or b was not in the member
 * list a last started with, or b was new to a in an earlier recovery of a
 * that did not finish (the lockspace keeps its departed set across aborted
 * runs). If a treats b as new and b does not treat a as new, b keeps locks
 * and master copies that a purged or never had (seed 43: an owner kept its
 * locks on a restarted master's dead run, and EX was granted over them).
 *
 * A recovery to generation G counts as finished when every member of G
 * started with G (the barriers need them all); otherwise what it treated as
 * new carries into each participant's next start.
 *
 * Pure: takes the recorded calls (with `boot` markers), returns violations.
 */
export type AgreementCall =
  | { readonly node: number; readonly call: 'boot' }
  | { readonly node: number; readonly call: 'fence' }
  | { readonly node: number; readonly call: 'stop' }
  | { readonly node: number; readonly call: 'setGate' }
  | { readonly node: number; readonly call: 'start'; readonly members: readonly number[]; readonly generation?: number; readonly departed?: readonly number[] };

interface Start {
  readonly node: number;
  readonly members: readonly number[];
  /** Members this node treats as new in this recovery. */
  readonly fresh: ReadonlySet<number>;
}

/** Violations of the agreement, one line each (empty: every recovery agreed). */
export function departedAgreement(calls: readonly AgreementCall[]): string[] {
  const out: string[] = [];
  /** Per node: fresh since its last boot/fence; the members it last started with; new-sets of unfinished recoveries. */
  const fresh = new Map<number, boolean>();
  const lastMembers = new Map<number, readonly number[]>();
  const carry = new Map<number, Set<number>>();
  const byGen = new Map<number, Start[]>();
  const order: number[] = [];
  const settle = (g: number): void => {
    const starts = byGen.get(g)!;
    const members = starts[0]!.members;
    const finished = members.every((m) => starts.some((s) => s.node === m));
    for (const s of starts) {
      if (finished) carry.delete(s.node);
      else carry.set(s.node, new Set(s.fresh));
    }
    for (const a of starts) {
      for (const b of starts) {
        if (a.node >= b.node) continue;
        const aNew = a.fresh.has(b.node);
        const bNew = b.fresh.has(a.node);
        if (aNew !== bNew) out.push(`generation ${g}: node ${a.node} ${aNew ? 'treats' : 'does not treat'} node ${b.node} as new, node ${b.node} ${bNew ? 'treats' : 'does not treat'} node ${a.node} as new`);
      }
    }
  };
  for (const c of calls) {
    if (c.call === 'boot' || c.call === 'fence') {
      fresh.set(c.node, true);
      lastMembers.delete(c.node);
      carry.delete(c.node);
      continue;
    }
    if (c.call !== 'start' || c.generation === undefined) continue;
    const g = c.generation;
    // A later generation starts: earlier ones are as finished as they will be (views start them in order).
    for (const e of order) if (e < g && byGen.has(e)) {
      settle(e);
      byGen.delete(e);
    }
    const others = c.members.filter((m) => m !== c.node);
    const isFresh = fresh.get(c.node) ?? true;
    const before = lastMembers.get(c.node) ?? [];
    const set = new Set<number>(isFresh ? others : [...(c.departed ?? []), ...others.filter((m) => !before.includes(m)), ...(carry.get(c.node) ?? [])]);
    set.delete(c.node);
    for (const m of [...set]) if (!c.members.includes(m)) set.delete(m);
    fresh.set(c.node, false);
    lastMembers.set(c.node, [...c.members]);
    if (!byGen.has(g)) {
      byGen.set(g, []);
      order.push(g);
    }
    const list = byGen.get(g)!;
    if (list.length > 0 && list[0]!.members.join() !== c.members.join()) out.push(`generation ${g}: node ${c.node} started with [${c.members}], node ${list[0]!.node} with [${list[0]!.members}]`);
    list.push({ node: c.node, members: [...c.members], fresh: set });
  }
  for (const g of order) if (byGen.has(g)) settle(g);
  return out;
}
