/**
 * Recovery barriers (spec §4.3): the member with the lowest node id polls
 * every other member with RCOM STATUS until each reports bit X, then sets
 * X_ALL on itself; every other member polls the low node until it reports
 * X_ALL. Polls back off on the injected clock (20 ms, +20 ms per attempt,
 * at most 1 s); an unanswered STATUS is re-sent after 5 s. A reply counts
 * only when the replier recovers to the same member list (its key).
 * Beyond Linux: a node whose status grows pushes a fresh STATUS_REPLY to
 * the polls it last answered (`rcom-receive.ts`), so a poll stays open
 * after a "not yet" and a barrier usually passes without waiting for the
 * back-off timer.
 */
import { RCOM } from '../message.ts';
import { decodeStatusReply, encodeStatusRequest, type StatusConfig } from './rcom-payloads.ts';
import { POLL_MAX_MS, POLL_START_MS, POLL_STEP_MS } from './recovery-status.ts';
import type { RecoveryRun } from './recovery-run.ts';
import { lsflagsOf } from './nodir.ts';

/** Poll `node` until its status has every bit of `want`; `ok` gets its config (with `nodeid`). `flags`: the STATUS `rs_flags`. */
export function pollStatus(run: RecoveryRun, node: number, want: number, ok: (c: StatusConfig) => void, flags = 0): void {
  let delay = POLL_START_MS;
  let id = 0;
  let done = false;
  let timerArmed = false;
  const ask = (): void => {
    timerArmed = false;
    if (done) return;
    // Re-sent at once (once) if the node turns out to be alive before answering.
    if (id === 0) run.unansweredPolls.set(node, ask);
    if (id !== 0) run.cancel(id);
    id = run.request(node, RCOM.STATUS, encodeStatusRequest(run.key, flags), (rc) => {
      // -ESRCH: no such lockspace there yet; re-polled at once when the node shows up.
      if (rc.result >= 0) run.unansweredPolls.delete(node);
      if (done) return true;
      let c: StatusConfig | null = null;
      try {
        c = decodeStatusReply(rc.buf);
      } catch {
        run.ls.stats.recovery.rcomIgnored++;
        c = null;
      }
      if (c && c.lvblen !== run.ls.lvblen) {
        // Linux's check_rcom_config: a member with another LVB length is refused (it would corrupt LVBs).
        run.ls.refuse('RCOM_CONFIG_LVBLEN');
        c = null;
      }
      if (c && rc.result >= 0 && (c.lsflags ?? 0) !== lsflagsOf(run.ls)) {
        // check_rcom_config too: NODIR on one member and not on another would split mastering.
        run.ls.refuse('RCOM_CONFIG_LSFLAGS');
        c = null;
      }
      if (c && c.key === run.key && rc.result >= 0 && (rc.result & want) === want) {
        done = true;
        c.nodeid = node;
        ok(c);
        return true;
      }
      if (!timerArmed) {
        timerArmed = true;
        run.after(delay, ask);
        delay = Math.min(POLL_MAX_MS, delay + POLL_STEP_MS);
      }
      return false; // stays open for a pushed reply
    });
  };
  ask();
}

/**
 * Wait until every member has set `bit`; the low node then sets `bit << 1`
 * (the _ALL bit). `setAll` records the _ALL bit on the low node (with the
 * members' configs); `passed` runs once, with the low node's config
 * (non-low nodes) or the members' configs (low). `lowFlags`: the
 * `rs_flags` of the other nodes' polls of the low node (RS_NEED_SLOTS in
 * the NODES barrier: its reply carries the slot table).
 */
export function barrier(run: RecoveryRun, bit: number, setAll: (bits: number, configs: StatusConfig[]) => void, passed: (configs: StatusConfig[]) => void, lowFlags = 0): void {
  const all = bit << 1;
  if (!run.isLow) {
    pollStatus(run, run.low, all, (c) => passed([c]), lowFlags);
    return;
  }
  const others = run.others;
  const configs: StatusConfig[] = [];
  let left = others.length;
  const one = (c: StatusConfig): void => {
    configs.push(c);
    if (--left === 0) {
      setAll(all, configs);
      passed(configs);
    }
  };
  if (left === 0) {
    setAll(all, configs);
    passed(configs);
    return;
  }
  for (const node of others) pollStatus(run, node, bit, one);
}
