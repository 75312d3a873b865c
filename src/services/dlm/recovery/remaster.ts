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
  for (const r of ls.rsbs.values()) if (r.master !== 0 && r.master !== ls.ourNodeid && run.isGone(r.master)) todo.push(r);
  let left = todo.length;
  if (left === 0) return done();
  const settle = (r: Resource, master: number): void => {
    if (master === 0 || run.isGone(master)) {
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
