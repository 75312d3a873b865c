/**
 * The grant-time LVB step (`Resource.#lvbOnGrant`, spec §1.7) against a
 * reference written here from the spec's table and procedure, for every
 * granted/requested mode pair, with and without VALBLK / IVVALBLK, a caller
 * buffer, a resource LVB and VALNOTVALID (fast-check, fixed seed). The
 * implementation skips the table for a lock with neither flag (the usual
 * grant): that shortcut must leave exactly what the full step leaves.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LKF, LKM, LKSTS, SBF, type Mode } from '../../../src/services/dlm/constants.ts';
import { Lock } from '../../../src/services/dlm/lock.ts';
import { Resource, type ResourceSink } from '../../../src/services/dlm/resource.ts';

const SEED = 9091;

// The §1.7 table, rows UN(new), NL..EX; columns NL..EX (R read, W write, - nothing).
const TABLE = ['RRRRRR', 'RRRRRR', '-RRRRR', '--RRRR', '---RRR', 'WWWWWR', 'WWWWWW'];

interface State {
  /** Granted mode, -1 for a new request. */
  grmode: number;
  rqmode: Mode;
  valblk: boolean;
  ivvalblk: boolean;
  /** The lock has a caller buffer (its bytes). */
  lockLvb: number[] | null;
  /** The resource has an LVB (its bytes). */
  resLvb: number[] | null;
  resSeq: number;
  valnotvalid: boolean;
}

interface Outcome {
  lockLvb: number[] | null;
  lockSeq: number;
  sbVnv: boolean;
  resLvb: number[] | null;
  resSeq: number;
  valnotvalid: boolean;
}

/** The spec's procedure (§1.7 steps 1-4; no resource LVB reads as zeros, the implementation's documented choice). */
function reference(s: State): Outcome {
  const o: Outcome = { lockLvb: s.lockLvb && [...s.lockLvb], lockSeq: 0, sbVnv: false, resLvb: s.resLvb && [...s.resLvb], resSeq: s.resSeq, valnotvalid: s.valnotvalid };
  const op = TABLE[s.grmode + 1]![s.rqmode];
  if (op === 'R') {
    if (o.lockLvb && s.valblk) {
      o.lockLvb = o.resLvb ? [...o.resLvb] : o.lockLvb.map(() => 0);
      o.lockSeq = o.resSeq;
    }
  } else if (op === 'W') {
    if (s.ivvalblk) {
      o.valnotvalid = true;
      return o; // stop: no VALNOTVALID on this lock's completion
    }
    if (o.lockLvb && s.valblk) {
      o.resLvb = [...o.lockLvb];
      o.resSeq = (o.resSeq + 1) >>> 0;
      o.lockSeq = o.resSeq;
      o.valnotvalid = false;
    }
  }
  if (o.valnotvalid) o.sbVnv = true;
  return o;
}

const sink: ResourceSink = {
  generation: 0,
  fenceFloor: 0,
  cast: () => {},
  grantPending: () => {},
  bast: () => {},
  queued: () => {},
};

/** The implementation: a request (grmode -1) or a conversion of the resource's only lock, which is granted at once. */
function actual(s: State): Outcome {
  const r = new Resource(new Uint8Array([0x72]), 'r', 0);
  if (s.resLvb) r.lvb = Uint8Array.from(s.resLvb);
  r.lvbseq = s.resSeq;
  r.valnotvalid = s.valnotvalid;
  const lock = new Lock(1, false);
  lock.exflags = (s.valblk ? LKF.VALBLK : 0) | (s.ivvalblk ? LKF.IVVALBLK : 0) | (s.grmode >= 0 ? LKF.CONVERT : 0);
  lock.lvb = s.lockLvb ? Uint8Array.from(s.lockLvb) : null;
  lock.rqmode = s.rqmode;
  lock.resource = r;
  r.locks.add(lock);
  let rv: number;
  if (s.grmode < 0) rv = r.doRequest(lock, sink);
  else {
    lock.grmode = s.grmode as Mode;
    r.add(lock, LKSTS.GRANTED);
    rv = r.doConvert(lock, sink);
  }
  expect(rv).toBe(0);
  expect(lock.grmode).toBe(s.rqmode);
  return {
    lockLvb: lock.lvb ? [...lock.lvb] : null,
    lockSeq: lock.lvbseq,
    sbVnv: (lock.sbflags & SBF.VALNOTVALID) !== 0,
    resLvb: r.lvb ? [...r.lvb] : null,
    resSeq: r.lvbseq,
    valnotvalid: r.valnotvalid,
  };
}

describe('grant-time LVB step (§1.7)', () => {
  it(`matches the spec's procedure for every mode pair and flag combination (fast-check, seed ${SEED})`, () => {
    const bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 });
    const state = fc.record({
      grmode: fc.integer({ min: -1, max: LKM.EX }),
      rqmode: fc.integer({ min: LKM.NL, max: LKM.EX }) as fc.Arbitrary<Mode>,
      valblk: fc.boolean(),
      ivvalblk: fc.boolean(),
      lockLvb: fc.option(bytes, { nil: null }),
      resLvb: fc.option(bytes, { nil: null }),
      resSeq: fc.integer({ min: 0, max: 0xffffffff }),
      valnotvalid: fc.boolean(),
    });
    let shortcut = 0;
    fc.assert(
      fc.property(state, (s) => {
        if (!s.valblk && !s.ivvalblk) shortcut++;
        expect(actual(s)).toEqual(reference(s));
      }),
      { seed: SEED, numRuns: 2000 },
    );
    // The shortcut (neither flag) was exercised, with and without VALNOTVALID.
    expect(shortcut).toBeGreaterThan(200);
  });

  it('a grant with neither flag on a VALNOTVALID resource reports VALNOTVALID and touches no LVB', () => {
    const s: State = { grmode: -1, rqmode: LKM.EX, valblk: false, ivvalblk: false, lockLvb: [1, 2, 3, 4, 5, 6, 7, 8], resLvb: [9, 9, 9, 9, 9, 9, 9, 9], resSeq: 7, valnotvalid: true };
    expect(actual(s)).toEqual({ lockLvb: [1, 2, 3, 4, 5, 6, 7, 8], lockSeq: 0, sbVnv: true, resLvb: [9, 9, 9, 9, 9, 9, 9, 9], resSeq: 7, valnotvalid: true });
    expect(actual({ ...s, valnotvalid: false })).toEqual({ lockLvb: [1, 2, 3, 4, 5, 6, 7, 8], lockSeq: 0, sbVnv: false, resLvb: [9, 9, 9, 9, 9, 9, 9, 9], resSeq: 7, valnotvalid: false });
  });
});
