/**
 * A grant given back because its abort lost the race (fault seed 1196 of
 * the kill/partition run): an EX holder was purged in recovery, the
 * surviving master marked the LVB VALNOTVALID (§4.7); a new EX request was
 * aborted while in flight, the master granted it anyway (the cancel lost),
 * and the TypeScript API gave the lock back with a force unlock. That unlock
 * carried VALBLK (from the request) and wrote back the lock's buffer, which
 * held only the value the grant had read: the master took it as a fresh
 * write and cleared VALNOTVALID (§1.7), so every later reader got the stale
 * value as valid although no caller had written since the EX holder died.
 * A give-back writes no LVB: the master's LVB and VALNOTVALID stay as they
 * were.
 */
import { describe, expect, it } from 'vitest';
import { DlmError, DlmSim, LKF, SBF, type DlmLockspace } from '../../../../src/services/dlm/index.ts';
import { done, lvbTrio, u32, withU32 } from './lvb-trio.ts';

/** Nodes 1-3; node 1 masters `d0r` (first to lock it), node 3 keeps an NL lock on it. */
async function setup() {
  const { sim, l1, l2, l3, settle, m } = await lvbTrio('lvbg');
  const keeper = l3.lock('d0r', 'NL');
  await settle();
  return { sim, l1, l2, l3, settle, m, keep: await keeper };
}

/** Node 3 requests EX with a signal and aborts at once; the request is already on its way and is granted: the API gives it back. */
async function abortedGrant(sim: DlmSim, l3: DlmLockspace): Promise<string> {
  const ctl = new AbortController();
  const p = l3.lock('d0r', 'EX', { signal: ctl.signal }).then(
    () => 'resolved',
    (e: unknown) => (e instanceof DlmError ? e.code : String(e)),
  );
  ctl.abort();
  await sim.settle();
  return p;
}

describe('a grant given back after its abort lost the race writes no LVB (fault seed 1196)', () => {
  it('after recovery purged an EX holder, the LVB stays VALNOTVALID through the give-back', async () => {
    const { sim, l1, l2, l3, settle, keep } = await setup();
    const w = l2.lock('d0r', 'PW');
    await settle();
    const writer = await w;
    await done(sim, writer.convert('EX', { lvb: withU32(5) }));
    // Written once (down to NL), then EX again: node 2 holds EX with a value the master may never see.
    await done(sim, writer.convert('NL', { lvb: withU32(5) }));
    await done(sim, writer.convert('EX'));
    expect(writer.mode).toBe('EX');
    // Node 2 dies: the survivors purge its EX (master 1 survived: VALNOTVALID, §4.7).
    l1.raw.stop();
    l3.raw.stop();
    l1.raw.start([1, 3]);
    l3.raw.start([1, 3]);
    l2.raw.fence();
    await sim.settle();
    expect(l1.raw.dump().find((d) => d.name === 'd0r')?.master).toBe(1);
    expect(l1.raw.dump().find((d) => d.name === 'd0r')?.valnotvalid).toBe(true);

    expect(await abortedGrant(sim, l3)).toBe('ECANCEL');
    // The give-back went through (only the NL locks are left) and wrote nothing.
    expect(l1.raw.dump().find((d) => d.name === 'd0r')?.grant.map((l) => l.grmode)).toEqual([0, 0]);
    expect(l1.raw.dump().find((d) => d.name === 'd0r')?.valnotvalid).toBe(true);
    const up = keep.convert('PR');
    await sim.settle();
    await up;
    expect(keep.mode).toBe('PR');
    expect(keep.sbflags & SBF.VALNOTVALID).toBe(SBF.VALNOTVALID);
    expect(u32(keep.lvb)).toBe(5);
  });

  it('without recovery: after an IVVALBLK unlock the give-back neither clears VALNOTVALID nor bumps the sequence; a later write does', async () => {
    const { sim, l1, l2, l3, settle, keep } = await setup();
    const res = () => l1.raw.dump().find((d) => d.name === 'd0r')!;
    const w = l2.lock('d0r', 'PW');
    await settle();
    const writer = await w;
    await done(sim, writer.convert('NL', { lvb: withU32(3) }));
    await done(sim, writer.convert('PW'));
    // The holder invalidates on unlock (LKF.IVVALBLK, §1.7).
    expect(l2.raw.unlock(writer.lksb.lkid, LKF.IVVALBLK, writer.lksb)).toBe(0);
    await sim.settle();
    const read1 = keep.convert('CR');
    await sim.settle();
    await read1;
    expect(keep.sbflags & SBF.VALNOTVALID).toBe(SBF.VALNOTVALID);
    const seq = res().lvbseq;
    expect(res().valnotvalid).toBe(true);
    await done(sim, keep.convert('NL')); // else the EX request would wait and the cancel win

    expect(await abortedGrant(sim, l3)).toBe('ECANCEL');
    expect(res().grant.map((l) => l.grmode)).toEqual([0, 0]); // the EX was granted and given back
    expect(res().valnotvalid).toBe(true);
    const read2 = keep.convert('PR');
    await sim.settle();
    await read2;
    expect(keep.sbflags & SBF.VALNOTVALID).toBe(SBF.VALNOTVALID);
    expect(res().lvbseq).toBe(seq);
    expect(u32(keep.lvb)).toBe(3);

    // A real write clears it.
    await done(sim, keep.convert('NL'));
    const again = l2.lock('d0r', 'EX');
    await sim.settle();
    const w2 = await again;
    await done(sim, w2.unlock({ lvb: withU32(8) }));
    await sim.settle();
    const read3 = keep.convert('PR');
    await sim.settle();
    await read3;
    expect(keep.sbflags & SBF.VALNOTVALID).toBe(0);
    expect(u32(keep.lvb)).toBe(8);
  });
});
