/**
 * The pure grant rules against an oracle written here from the spec's words
 * (§2.2 rules 1-11, §2.3, §2.6, §2.7), sharing nothing with the code but the
 * function names under test. Enumerates every small queue configuration.
 */
import { describe, expect, it } from 'vitest';
import { canBeGranted, conversionDeadlock, grantable, ruleARequiresBast, ruleBBastMode, skipBast, type RuleLock } from '../../../src/services/dlm/grant-rules.ts';

const IV = -1, NL = 0, CR = 1, CW = 2, PR = 3, PW = 4, EX = 5;
const F = { NOQUEUE: 0x1, QUECVT: 0x10, CONVDEADLK: 0x40, NODLCKWT: 0x100, EXPEDITE: 0x400, NOORDER: 0x2000, ALTPR: 0x8000, ALTCW: 0x10000 };
// §1.4 again, by hand: held row, requested column.
const OK = ['YYYYYY', 'YYYYYN', 'YYYNNN', 'YYNYNN', 'YYNNNN', 'YNNNNN'];
const compat = (h: number, r: number): boolean => h < 0 || r < 0 || OK[h]![r] === 'Y';

interface L extends RuleLock {
  id: string;
}
const lk = (id: string, grmode: number, rqmode: number, exflags = 0, highbast = 0, hasBast = true): L => ({ id, grmode, rqmode, exflags, highbast, hasBast }) as L;

/** §2.2, transcribed rule by rule. */
function oracle(q: { grant: L[]; convert: L[]; wait: L[] }, l: L, now: boolean, rec: boolean): boolean {
  const conv = l.grmode !== IV;
  if (l.exflags & F.EXPEDITE) return true; // 1
  if (q.grant.some((o) => o !== l && !compat(o.grmode, l.rqmode))) return false; // 2
  if (q.convert.some((o) => o !== l && !compat(o.grmode, l.rqmode))) return false; // 3
  if (conv && rec) return true; // 4
  if (now && conv && !(l.exflags & F.QUECVT)) return true; // 5
  if (now && conv && l.exflags & F.QUECVT) return q.convert.length === 0; // 6
  if (l.exflags & F.NOORDER) return true; // 7
  if (!now && conv && q.convert[0] === l) return true; // 8
  if (now && !conv && q.convert.length === 0 && q.wait.length === 0) return true; // 9
  if (!now && !conv && q.convert.length === 0 && q.wait[0] === l) return true; // 10
  return false; // 11
}

function* configs(): Generator<{ name: string; q: { grant: L[]; convert: L[]; wait: L[] }; l: L; now: boolean; rec: boolean }> {
  const modes = [NL, CR, CW, PR, PW, EX];
  const flagSets = [0, F.QUECVT, F.NOORDER, F.EXPEDITE, F.QUECVT | F.NOORDER];
  for (const holder of [undefined, ...modes]) {
    for (const cvt of [undefined, ...modes.flatMap((g) => modes.map((r) => [g, r] as const))]) {
      for (const waiter of [undefined, NL, PR, EX]) {
        for (const role of ['new-now', 'new-queued-first', 'new-queued-second', 'conv-now', 'conv-queued-first', 'conv-queued-second'] as const) {
          for (const lg of role.startsWith('conv') ? [NL, CR, PR] : [IV]) {
            for (const lr of modes) {
              for (const flags of flagSets) {
                for (const rec of [false, true]) {
                  const grant: L[] = holder === undefined ? [] : [lk('G', holder, IV)];
                  const convert: L[] = cvt === undefined ? [] : [lk('C', cvt[0], cvt[1])];
                  const wait: L[] = waiter === undefined ? [] : [lk('W', IV, waiter)];
                  const l = lk('L', lg, lr, flags);
                  if (role === 'new-queued-first') wait.unshift(l);
                  if (role === 'new-queued-second') wait.push(l);
                  if (role === 'conv-now') grant.push(l);
                  if (role === 'conv-queued-first') convert.unshift(l);
                  if (role === 'conv-queued-second') convert.push(l);
                  const now = role.endsWith('now');
                  yield { name: `${role} G=${holder} C=${cvt} W=${waiter} L=${lg}>${lr} f=${flags} rec=${rec}`, q: { grant, convert, wait }, l, now, rec };
                }
              }
            }
          }
        }
      }
    }
  }
}

describe('grant predicate (§2.2)', () => {
  it('agrees with the spec rules on every small configuration', () => {
    let n = 0;
    for (const c of configs()) {
      n++;
      const got = grantable(c.q, c.l, c.now, c.rec);
      if (got !== oracle(c.q, c.l, c.now, c.rec)) expect.fail(`${c.name}: got ${got}`);
    }
    expect(n).toBeGreaterThan(100_000);
  });

  it('conversions go before new requests; new requests are FIFO', () => {
    const w1 = lk('W1', IV, PR);
    const w2 = lk('W2', IV, PR);
    const c = lk('C', NL, CR);
    // A compatible waiter is not granted while a conversion is queued.
    expect(grantable({ grant: [], convert: [c], wait: [w1] }, w1, false, false)).toBe(false);
    expect(grantable({ grant: [], convert: [c], wait: [w1] }, c, false, false)).toBe(true);
    // The second waiter waits behind the first even if compatible.
    expect(grantable({ grant: [], convert: [], wait: [w1, w2] }, w2, false, false)).toBe(false);
    // NOORDER skips the order, not the compatibility.
    const no = lk('N', IV, PR, F.NOORDER);
    expect(grantable({ grant: [], convert: [c], wait: [w1, no] }, no, false, false)).toBe(true);
    expect(grantable({ grant: [lk('X', EX, IV)], convert: [], wait: [no] }, no, false, false)).toBe(false);
  });
});

/** §2.3, transcribed. */
function deadlockOracle(convert: L[], l: L): boolean {
  const i = convert.indexOf(l);
  return convert.some((e, j) => {
    if (e === l) return false;
    const before = i < 0 || j < i;
    if (before) return !compat(l.grmode, e.rqmode);
    return !compat(l.grmode, e.rqmode) && !compat(e.grmode, l.rqmode);
  });
}

describe('conversion deadlock (§2.3)', () => {
  it('the classic case: both PR, both to EX -> the later converter is deadlocked', () => {
    const a = lk('A', PR, EX);
    const b = lk('B', PR, EX);
    expect(conversionDeadlock({ grant: [b], convert: [a], wait: [] }, b)).toBe(true);
    expect(conversionDeadlock({ grant: [b], convert: [a], wait: [] }, a)).toBe(false);
    const v = canBeGranted({ grant: [b], convert: [a], wait: [] }, b, true, false);
    expect(v).toEqual({ grant: false, mode: EX, altmode: false, deadlock: true, demote: false });
    const d = lk('B', PR, EX, F.CONVDEADLK);
    expect(canBeGranted({ grant: [d], convert: [a], wait: [] }, d, true, false)).toMatchObject({ grant: false, deadlock: false, demote: true });
    // NOQUEUE conversions skip detection (they just fail).
    const nq = lk('B', PR, EX, F.NOQUEUE);
    expect(canBeGranted({ grant: [nq], convert: [a], wait: [] }, nq, true, false)).toMatchObject({ grant: false, deadlock: false, demote: false });
  });

  it('agrees with the spec on every pair of queued conversions and position', () => {
    const modes = [NL, CR, CW, PR, PW, EX];
    let n = 0;
    for (const eg of modes) for (const er of modes) for (const lg of modes) for (const lr of modes) {
      for (const pos of ['not-queued', 'first', 'second'] as const) {
        const e = lk('E', eg, er);
        const l = lk('L', lg, lr);
        const convert = pos === 'not-queued' ? [e] : pos === 'first' ? [l, e] : [e, l];
        n++;
        expect(conversionDeadlock({ grant: [], convert, wait: [] }, l), `${pos} E=${eg}>${er} L=${lg}>${lr}`).toBe(deadlockOracle(convert, l));
      }
    }
    expect(n).toBe(6 ** 4 * 3);
  });
});

describe('ALT modes (§2.2 wrapper)', () => {
  it('ALTPR grants PR when the requested mode blocks and PR does not', () => {
    const holder = lk('H', PR, IV);
    const l = lk('L', IV, EX, F.ALTPR);
    expect(canBeGranted({ grant: [holder], convert: [], wait: [] }, l, true, false)).toEqual({ grant: true, mode: PR, altmode: true, deadlock: false, demote: false });
    const ex = lk('X', EX, IV);
    expect(canBeGranted({ grant: [ex], convert: [], wait: [] }, l, true, false).grant).toBe(false);
  });
  it('ALTCW is tried when ALTPR is absent; ALTPR wins when both', () => {
    const holder = lk('H', CW, IV);
    const l = lk('L', IV, EX, F.ALTCW);
    expect(canBeGranted({ grant: [holder], convert: [], wait: [] }, l, true, false)).toMatchObject({ grant: true, mode: CW, altmode: true });
    const both = lk('L', IV, EX, F.ALTCW | F.ALTPR);
    // PR is blocked by the CW holder, and ALTPR wins: no ALT grant at all.
    expect(canBeGranted({ grant: [holder], convert: [], wait: [] }, both, true, false)).toMatchObject({ grant: false, mode: EX });
  });
});

describe('BAST rules (§2.5, §2.6)', () => {
  const modes = [NL, CR, CW, PR, PW, EX];
  it('rule A on every (granted, highbast, requested)', () => {
    for (const g of modes) for (const hb of [0, ...modes]) for (const r of modes) {
      const pair = (g === PR && r === CW) || (g === CW && r === PR);
      const want = pair ? hb < EX : hb < r && !compat(g, r);
      expect(ruleARequiresBast(lk("G", g, IV, 0, hb), r as 0), `g=${g} hb=${hb} r=${r}`).toBe(want);
    }
  });
  it('rule B on every (granted, highbast, high, cw)', () => {
    for (const g of modes) for (const hb of [0, ...modes]) for (const high of [IV, ...modes]) for (const cw of [false, true]) {
      let want: number | undefined;
      if (high !== IV) {
        const pair = (g === PR && cw) || (g === CW && high === PR);
        const req = pair ? hb < EX : hb < high && !compat(g, high);
        if (req) want = cw && high === PR && g === PR ? CW : high;
      }
      expect(ruleBBastMode(lk("G", g, IV, 0, hb), high as 0, cw), `g=${g} hb=${hb} high=${high} cw=${cw}`).toBe(want);
    }
  });
  it('BAST suppression when queueing (§2.7)', () => {
    // Compatible with the last completion's mode: dropped.
    expect(skipBast({ lastCastMode: PR, lastCbMode: PR, lastCbWasBast: false }, PR)).toBe(true);
    expect(skipBast({ lastCastMode: PR, lastCbMode: PR, lastCbWasBast: false }, EX)).toBe(false);
    // After a BAST of the same mode, or of a higher mode above PR: dropped.
    expect(skipBast({ lastCastMode: EX, lastCbMode: EX, lastCbWasBast: true }, EX)).toBe(true);
    expect(skipBast({ lastCastMode: EX, lastCbMode: EX, lastCbWasBast: true }, PW)).toBe(true);
    expect(skipBast({ lastCastMode: EX, lastCbMode: PR, lastCbWasBast: true }, CW)).toBe(false);
    expect(skipBast({ lastCastMode: EX, lastCbMode: CW, lastCbWasBast: true }, PR)).toBe(false);
    expect(skipBast({ lastCastMode: IV, lastCbMode: IV, lastCbWasBast: false }, NL)).toBe(false);
  });
});
