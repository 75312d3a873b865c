/**
 * NODIR lockspaces in recovery (spec §3.2, §4.2 5b/6, §4.4; Linux's
 * recover_master_static and purge_mstcpy_list): there is no directory to
 * rebuild; every resource's master is its hash node under the new member
 * list; every master copy here is purged (except those a member already
 * rebuilt here in this run) and every owner sends all its locks to the
 * master again (the lock rebuild of 5c, for every resource); operations in
 * flight to any node are re-driven after recovery and the request queue is
 * dropped whole (a reply to a purged master copy means nothing any more).
 */
import { DLM_LSFL_NODIR } from './rcom-payloads.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';
import type { Resource } from '../resource.ts';
import { RF } from './resource-flags.ts';
import type { RecoveryRun } from './recovery-run.ts';

/** Phase 5a+5b with NODIR: purge master copies (but `keep`), master := hash node, flag every resource for the rebuild. */
export function remasterStatic(run: RecoveryRun, keep: ReadonlySet<Lock>): void {
  const ls = run.ls;
  for (const r of [...ls.rsbs.values()]) {
    for (const lkb of [...r.locks]) {
      if (!lkb.masterCopy || keep.has(lkb)) continue;
      ls.destroyLock(lkb);
      ls.stats.recovery.purged++;
    }
    const master = ls.dirNodeOf(r);
    if (master === ls.ourNodeid && r.master !== master) ls.stats.recovery.remastered++;
    r.master = master;
    r.uncertain = false;
    r.rflags |= RF.NEW_MASTER;
    if (master === ls.ourNodeid) r.rflags |= RF.RECOVER_GRANT;
  }
}

/**
 * The resource an RCOM LOCK names, on a NODIR lockspace: created here as
 * master when this node is its hash node (a member may rebuild before this
 * node ran its own 5b); undefined when it is not (EBADR, as Linux).
 */
export function staticMasterRsb(ls: Lockspace, name: Uint8Array): Resource | undefined {
  if (ls.dirNodeOfName(name) !== ls.ourNodeid) return undefined;
  const r = ls.createRsb(name);
  r.master = ls.ourNodeid;
  r.uncertain = false;
  r.rflags |= RF.NEW_MASTER;
  return r;
}

/** The `lsflags` a lockspace announces in STATUS_REPLY (members must agree). */
export function lsflagsOf(ls: Lockspace): number {
  return ls.nodir ? DLM_LSFL_NODIR : 0;
}
