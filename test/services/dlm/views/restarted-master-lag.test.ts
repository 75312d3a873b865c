/**
 * Issue 14, fault seed 43 (the 5-process SIGKILL run under load): a
 * resource's master is killed and restarts with the same node id; an owner
 * kept its CW locks on the dead run and EX was granted over them.
 *
 * The path, over views drivers driving real lockspaces (ViewsSim, one
 * ManualClock): the owner's process lags (its timers and views channel
 * starved, its DLM traffic flowing). Its lease ends on the clock, so its
 * gate closes and it grants nothing, but its lockspace is not stopped (the
 * driver stops it from the lease timer, which is late) and still reports
 * itself recovered (RS_ALL) for the same member list. The others commit the
 * view naming the master's new run; the restarted master and the directory
 * node recover with it as departed and poll the owner, which answers
 * "ready" for a recovery it never ran: their recovery finishes without the
 * owner's locks, and the next EX is granted over them.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { ViewsSim } from './views-sim.ts';

const { CW, PR, EX } = LKM;
const TIMING = { lease: 400, heartbeatInterval: 50, electionMin: 150, electionMax: 300, driftMargin: 20 };

describe('restarted master while an owner lags (fault seed 43)', () => {
  it('the lagging owner does not answer "ready" to a recovery it has not run: no EX over its CW locks; after its lag it recovers with the master departed', () => {
    const s = new ViewsSim(3, TIMING);
    expect(s.runUntil(() => [...s.nodes.values()].every((n) => n.driver.granting && n.driver.appliedView >= 1 && !n.ls.recovering), 10_000)).toBe(true);
    const view = s.nodes.get(1)!.driver.appliedView;
    const m = s.holder(3, 'M');
    const a1 = s.holder(1, 'A1');
    const a2 = s.holder(1, 'A2');
    s.lock(m, CW, 'd2r'); // node 3 asks first: master 3, directory node 3 too
    s.run(20);
    s.lock(a1, CW, 'd2r');
    s.lock(a2, CW, 'd2r');
    s.run(20);
    s.convert(a1, PR);
    s.run(20);
    expect(s.log.splice(0).sort()).toEqual(['A1 ast 0', 'A2 ast 0', 'A2 bast PR', 'M ast 0', 'M bast PR']);
    expect(s.nodes.get(1)!.ls.lockById(a1.lksb.lkid)!.nodeid).toBe(3);

    // The owner (node 1) lags; the master (node 3) is killed and restarts with its store and a new run.
    s.lag(1);
    const store3 = s.nodes.get(3)!.store;
    s.crash(3);
    const again = s.boot(3, store3);
    const b = s.holder(3, 'B'); // on the restarted master itself (directory and master of d2r)
    let overlap = '';
    let asked = false;
    const check = (): void => {
      const n3 = s.nodes.get(3)!;
      if (!asked && n3.driver.granting && n3.driver.appliedView > view && !n3.ls.recovering) {
        asked = true;
        s.lock(b, EX, 'd2r');
      }
      if (!overlap && s.log.includes('B ast 0') && s.nodes.get(1)!.ls.lockById(a2.lksb.lkid)?.grmode === CW) overlap = `t=${s.clock.now()}: B granted EX while node 1 holds A2 in CW (${s.log.join(', ')})`;
    };
    s.run(4000, check);
    expect(overlap).toBe('');
    // Node 3's new run was named by a view the others committed and it grants under it, but its recovery
    // waits for node 1, whose gate is closed (lease over) though its lockspace was never stopped.
    expect(again.driver.protocolState.log.some((e) => e.kind === 'view' && e.incarnations?.includes(again.incarnation))).toBe(true);
    expect(again.driver.granting).toBe(true);
    expect(s.nodes.get(1)!.ls.recoveryStatus).toBe(0xff); // still "running" at its old view...
    expect(s.nodes.get(1)!.ls.gateOpen).toBe(false); // ...but answering as stopped
    expect(again.ls.recovering).toBe(true);
    expect(asked).toBe(false);
    s.catchUp(1);
    s.run(4000, check);
    expect(overlap).toBe('');
    expect(asked).toBe(true);
    const n1 = s.nodes.get(1)!;
    expect(n1.driver.appliedView).toBeGreaterThan(view);
    expect(s.log).not.toContain('B ast 0'); // A1 (CW, converting to PR) and A2 (CW) still block B's EX
    expect(s.unlock(a2)).toBe(0);
    s.run(200, check);
    expect(s.log).toContain('A1 ast 0'); // the conversion to PR completes, once
    expect(s.log).not.toContain('B ast 0');
    expect(s.unlock(a1)).toBe(0);
    s.run(200, check);
    expect(s.log).toContain('B ast 0');
    expect(overlap).toBe('');
  });
});
