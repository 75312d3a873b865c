/**
 * Remaster (spec §4.2 phase 5b): every resource whose master departed gets
 * a new one from its (new) directory node with RCOM LOOKUP; the directory
 * gives mastery to the first node that asks (`recoverDirLookup`). When this
 * node is the directory node it decides locally.
 */
import { RCOM } from '../message.ts';
import type { Resource } from '../resource.ts';
import { recoverDirLookup } from './directory-rebuild.ts';
import { RF } from './resource-flags.ts';
import type { RecoveryRun } from './recovery-run.ts';

/** Phase 5b: `done` once every departed master has been replaced. */
export function remaster(run: RecoveryRun, done: () => void): void {
  const ls = run.ls;
  const todo: Resource[] = [];
  for (const r of ls.rsbs.values()) if (masterGone(run, r)) todo.push(r);
  let left = todo.length;
  if (left === 0) return done();
  const settle = (r: Resource, master: number): void => {
    // A member of this run can master, also one whose earlier run departed (it restarted and is back:
    // `isGone` still names it while an aborted run's purge is owed, fault seed 1156).
    if (master === 0 || !run.members.includes(master)) {
      // The directory could not name a live master: look it up again later as a normal request would.
      r.master = 0;
    } else {
      r.master = master;
      r.rflags |= RF.NEW_MASTER;
      if (master === ls.ourNodeid) ls.stats.recovery.remastered++;
    }
    if (--left === 0) done();
  };
  for (const r of todo) {
    const dir = run.dirNodeOf(r);
    if (dir === ls.ourNodeid) {
      settle(r, recoverDirLookup(run, r.name, ls.ourNodeid));
      continue;
    }
    run.request(
      dir,
      RCOM.LOOKUP,
      r.name,
      (rc) => settle(r, rc.result >>> 0),
      0, // midcomms delivers it; an abort re-runs the phase
    );
  }
}

/**
 * The resource's master departed: its recorded master, or, when that was
 * forgotten (r.master 0, e.g. after a reply that made this node look the
 * master up again), the master that this node's locks on it still name.
 * Those locks live only at the departed master; without a new master they
 * would never be rebuilt, and the new master would start without them and
 * without their LVB (fault seed 1156: a surviving NL lock holding the LVB
 * was left out, so a later read got zeros without VALNOTVALID, §4.7).
 */
function masterGone(run: RecoveryRun, r: Resource): boolean {
  const self = run.ls.ourNodeid;
  if (r.master === self) return false;
  if (r.master !== 0) return run.isGone(r.master);
  for (const q of [r.grant, r.convert, r.wait]) for (const lkb of q) if (!lkb.masterCopy && lkb.nodeid !== 0 && lkb.nodeid !== self && run.isGone(lkb.nodeid)) return true;
  return false;
}
