/**
 * Lockspace slots (spec §4.1, §4.2 step 2, §3.8; Linux's dlm_slots_assign
 * in fs/dlm/member.c): every member has a small number, 1-based, that stays
 * the same while it stays a member; users such as md-cluster index per-node
 * state by it (md slot = DLM slot - 1). The low node assigns them during
 * the NODES barrier from what each member reports (its current slot, 0 when
 * it has none, and its generation) and sends the table to the others in its
 * STATUS_REPLY.
 *
 * Rules (pure; `assignSlots`):
 * - a member keeps the slot it reports; a member re-added with a new
 *   incarnation (`fresh`) reports nothing (it lost every state);
 * - two members claiming one slot (possible only when one of them never
 *   took part in a recovery with the other): the claim made with the higher
 *   generation wins, then the lower node id; the loser needs a new slot
 *   (beyond Linux, which does not check);
 * - members needing a slot take the lowest free ones, in node-id order: a
 *   departed node's slot is free (reused) only once it is no longer a
 *   member, as in Linux where the table is built from the members alone.
 */

/** One member's slot (`struct dlm_slot`). */
export interface DlmSlot {
  readonly nodeid: number;
  /** 1-based. */
  readonly slot: number;
}

/** What a member reported in its STATUS_REPLY. */
export interface SlotClaim {
  readonly nodeid: number;
  /** Its current slot, 0 when it has none. */
  readonly slot: number;
  /** Its generation when it reported. */
  readonly generation: number;
}

/** The most slots a table holds (u16 slot numbers; also bounds a STATUS_REPLY). */
export const MAX_SLOTS = 1024;

/**
 * The slot table for `members` (sorted by node id in the result) from the
 * members' claims; `fresh` members' claims are ignored. Members without a
 * claim count as slot 0.
 */
export function assignSlots(members: readonly number[], claims: readonly SlotClaim[], fresh: ReadonlySet<number> = new Set()): DlmSlot[] {
  const byNode = new Map<number, SlotClaim>();
  for (const c of claims) if (members.includes(c.nodeid)) byNode.set(c.nodeid, c);
  const owner = new Map<number, SlotClaim>();
  for (const m of members) {
    const c = byNode.get(m);
    if (!c || fresh.has(m) || !(c.slot >= 1 && c.slot <= MAX_SLOTS)) continue;
    const cur = owner.get(c.slot);
    if (!cur || c.generation > cur.generation || (c.generation === cur.generation && c.nodeid < cur.nodeid)) owner.set(c.slot, c);
  }
  const slotOf = new Map<number, number>();
  for (const [slot, c] of owner) slotOf.set(c.nodeid, slot);
  let next = 1;
  for (const m of members) {
    if (slotOf.has(m)) continue;
    while (owner.has(next)) next++;
    owner.set(next, { nodeid: m, slot: next, generation: 0 });
    slotOf.set(m, next);
  }
  return members.map((nodeid) => ({ nodeid, slot: slotOf.get(nodeid)! })).sort((a, b) => a.nodeid - b.nodeid);
}

/** The table of a lockspace created with a member list (no recovery yet): 1..n in node-id order. */
export function initialSlots(sortedMembers: readonly number[]): DlmSlot[] {
  return sortedMembers.map((nodeid, i) => ({ nodeid, slot: i + 1 }));
}

/** `nodeid`'s slot in `table`, 0 when it has none. */
export function slotOf(table: readonly DlmSlot[], nodeid: number): number {
  for (const s of table) if (s.nodeid === nodeid) return s.slot;
  return 0;
}
