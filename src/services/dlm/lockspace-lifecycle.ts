/**
 * The cold parts of a lockspace's life cycle (§4.1): checking the member
 * list `start()` is given, and the REMOVE a master sends a directory node
 * when it drops a resource (retirement, `release()`).
 * `Lockspace.start()`/`release()` keep the state changes.
 */
import { DlmError } from './errors.ts';
import type { Lockspace } from './lockspace.ts';
import { writeFence } from './fence-rules.ts';
import { emptyMessage, MSG } from './message.ts';
import type { Resource } from './resource.ts';

/** The member list sorted and without duplicates; it must include this node. */
export function normalizeMembers(members: readonly number[], ourNodeid: number): number[] {
  const sorted = [...new Set(members)].sort((a, b) => a - b);
  if (!sorted.includes(ourNodeid)) throw new DlmError('EINVAL', `start: members must include this node ${ourNodeid}`);
  return sorted;
}

/** Whether the sorted list differs from the current one. */
export function membersChanged(sorted: readonly number[], current: readonly number[]): boolean {
  return sorted.length !== current.length || sorted.some((m, i) => m !== current[i]);
}

/**
 * Resources this node masters but no longer uses: tell their directory
 * nodes now, as retirement would have, so nobody is sent here later.
 */
export function announceUnusedMastered(ls: Lockspace): void {
  for (const r of ls.rsbs.values()) {
    const dir = ls.dirNodeOf(r);
    if (r.unused && r.master === ls.ourNodeid && dir !== ls.ourNodeid) {
      sendRemove(ls, r, dir);
    }
  }
}

/** REMOVE to the directory node: this master no longer holds the resource (retirement, release). */
export function sendRemove(ls: Lockspace, r: Resource, dir: number): void {
  const m = emptyMessage(MSG.REMOVE);
  m.hash = r.hash;
  m.extra = r.name;
  // The directory node keeps the high mark: the next master continues above it.
  writeFence(m, r.fenceHigh);
  ls.sendMessage(dir, m);
}
