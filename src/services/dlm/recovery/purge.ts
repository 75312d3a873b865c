/**
 * Purges of departed nodes (spec §4.2 phase 5a and phase 6, §4.5, §4.8):
 * their master copies on the resources this node masters (no ASTs: the
 * owner is gone), and the saved messages recovery must not replay.
 */
import { LKF } from '../constants.ts';
import type { Lockspace } from '../lockspace.ts';
import { DLM_CMD, DLM_HEADER_LEN, MSG } from '../message.ts';
import { purgeInvalidatesLvb } from './lvb-recovery-rules.ts';
import { RF } from './resource-flags.ts';
import type { RecoveryRun } from './recovery-run.ts';

/** Phase 5a: delete departed owners' master copies; flag LVB invalidation and the grant pass. */
export function purgeDeparted(run: RecoveryRun): void {
  const ls = run.ls;
  for (const r of [...ls.rsbs.values()]) {
    if (r.master !== ls.ourNodeid) continue;
    let purged = false;
    for (const lkb of [...r.locks]) {
      if (!lkb.masterCopy || !run.isGone(lkb.nodeid)) continue;
      if (purgeInvalidatesLvb({ grmode: lkb.grmode, valblk: (lkb.exflags & LKF.VALBLK) !== 0 })) r.rflags |= RF.INVALIDATE_LVB;
      ls.destroyLock(lkb);
      ls.stats.recovery.purged++;
      purged = true;
    }
    if (purged) r.rflags |= RF.RECOVER_GRANT;
  }
}

/** A saved message as the request queue keeps it. */
export interface SavedMessage {
  from: number;
  bytes: Uint8Array;
}

/** Whether a saved message survives the phase-6 purge: not from a departed node, not LOOKUP/LOOKUP_REPLY/REMOVE. */
export function keepSaved(m: SavedMessage, isGone: (nodeid: number) => boolean): boolean {
  if (isGone(m.from)) return false;
  if (m.bytes.length < DLM_HEADER_LEN + 4 || m.bytes[14] !== DLM_CMD.MSG) return true; // the receive path refuses it later
  const type = m.bytes[16]! | (m.bytes[17]! << 8) | (m.bytes[18]! << 16) | (m.bytes[19]! << 24);
  return type !== MSG.LOOKUP && type !== MSG.LOOKUP_REPLY && type !== MSG.REMOVE;
}

/** Phase 6: filter the request queue in place; returns how many were dropped. */
export function purgeRequestQueue(saved: SavedMessage[], isGone: (nodeid: number) => boolean): number {
  const kept = saved.filter((m) => keepSaved(m, isGone));
  const dropped = saved.length - kept.length;
  saved.splice(0, saved.length, ...kept);
  return dropped;
}

/** Phase 1: drop every resource nobody uses here (the inactive cache and directory records); the directory is rebuilt. */
export function dropInactive(ls: Lockspace): void {
  for (const r of [...ls.rsbs.values()]) if (r.unused) ls.forgetRsb(r);
}
