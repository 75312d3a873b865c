/**
 * Directory rebuild (spec §4.2 phase 3, §3.4): every node pages through
 * every other member's master names with RCOM NAMES, receiving only the
 * names it is the (new) directory node for, and records "member X is
 * master". The responder's side (`answerNames`) and the directory lookup
 * used during recovery (`recoverDirLookup`, also for RCOM LOOKUP) are here.
 */
import type { Lockspace } from '../lockspace.ts';
import { DLM_RCOM_FIXED_LEN, DLM_MAX_APP_BUFSIZE, RCOM } from '../message.ts';
import type { Resource } from '../resource.ts';
import { latin1 } from '../byte-key.ts';
import { RF } from './resource-flags.ts';
import { decodeNamesChunk, encodeNamesChunk } from './rcom-payloads.ts';
import { POLL_MAX_MS } from './recovery-status.ts';
import type { RecoveryRun } from './recovery-run.ts';

/** Phase 3 on this node: `done` once every other member's dump ended. */
export function rebuildDirectory(run: RecoveryRun, done: () => void): void {
  const others = run.others;
  let left = others.length;
  if (left === 0) return done();
  for (const node of others) {
    const ask = (last: Uint8Array): void => {
      run.request(node, RCOM.NAMES, last, (rc, from) => {
        let chunk: { names: Uint8Array[]; done: boolean };
        try {
          chunk = decodeNamesChunk(rc.buf);
        } catch {
          run.ls.stats.recovery.rcomIgnored++;
          return run.after(POLL_MAX_MS, () => ask(last)); // ask again from the same place, later (no ping-pong)
        }
        if (!ascending(last, chunk.names) || (!chunk.done && chunk.names.length === 0)) {
          // A dump must move forward: a chunk that repeats or goes back would be asked for forever.
          run.ls.refuse('NAMES_NO_PROGRESS');
          return run.after(POLL_MAX_MS, () => ask(last));
        }
        for (const name of chunk.names) registerMaster(run, name, from);
        if (chunk.done) {
          if (--left === 0) done();
        } else {
          ask(chunk.names.length > 0 ? chunk.names[chunk.names.length - 1]! : last);
        }
      });
    };
    ask(new Uint8Array(0));
  }
}

/** The names are in strictly ascending key order, all after `last` (empty: the start). */
function ascending(last: Uint8Array, names: readonly Uint8Array[]): boolean {
  let prev = last.length > 0 ? latin1(last) : null;
  for (const n of names) {
    const k = latin1(n);
    if (prev !== null && k <= prev) return false;
    prev = k;
  }
  return true;
}

/** A member says it masters `name`, which we are the directory node for. */
function registerMaster(run: RecoveryRun, name: Uint8Array, master: number): void {
  const ls = run.ls;
  if (ls.dirNodeOfName(name) !== ls.ourNodeid) return ls.refuse('NAMES_NOT_DIR');
  const r = ls.findRsbByName(name);
  if (!r) {
    const rec = ls.createRsb(name);
    rec.master = master;
    rec.dirRecord = true;
    return;
  }
  if (r.master === 0 || run.isGone(r.master)) r.master = master;
  else if (r.master !== master) ls.refuse('DIR_CONFLICT');
}

/** The names this node masters for which `dir` is the directory node, in key order (cached per run and asker). */
export function mastersFor(ls: Lockspace, dir: number): Uint8Array[] {
  const out: Resource[] = [];
  for (const r of ls.rsbs.values()) if (r.master === ls.ourNodeid && !r.unused && ls.dirNodeOf(r) === dir) out.push(r);
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out.map((r) => r.name);
}

/** The NAMES_REPLY payload after `last` (empty: from the start). */
export function answerNames(names: readonly Uint8Array[], last: Uint8Array): Uint8Array {
  let start = 0;
  if (last.length > 0) {
    const key = latin1(last);
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (latin1(names[mid]!) <= key) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  // Sized for midcomms' OPTS frame (Linux: DLM_MAX_APP_BUFSIZE - sizeof(struct dlm_rcom)).
  return encodeNamesChunk(names, start, DLM_MAX_APP_BUFSIZE - DLM_RCOM_FIXED_LEN).buf;
}

/**
 * The directory during recovery (RCOM LOOKUP, or this node asking itself):
 * mastery goes to the first node that asks; a departed master's record is
 * replaced by the asker. Returns the master.
 */
export function recoverDirLookup(run: RecoveryRun, name: Uint8Array, asker: number): number {
  const ls = run.ls;
  let r = ls.findRsbByName(name);
  if (!r) {
    r = ls.createRsb(name);
    r.dirRecord = true;
  }
  if (r.master === 0 || run.isGone(r.master)) {
    r.master = asker;
    // This node's own locks on it (if any) now live on the asker: rebuilt there.
    r.rflags |= RF.NEW_MASTER;
  }
  return r.master;
}
