/** §4.7 as tables: the new master's LVB choice, the surviving master's invalidation, middle conversions. */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { isMiddleConversion, middleConversionGrmode, newMasterLvb, purgeInvalidatesLvb, seqAfter, type LvbCandidate } from '../../../../src/services/dlm/recovery/lvb-recovery-rules.ts';

const { IV, NL, CR, CW, PR, PW, EX } = LKM;
const c = (grmode: number, valblk: boolean, lvbseq = 0): LvbCandidate => ({ grmode: grmode as LvbCandidate['grmode'], valblk, lvbseq });

describe('newMasterLvb (§4.7, new master)', () => {
  const rows: [string, LvbCandidate[], ReturnType<typeof newMasterLvb>][] = [
    ['no lock', [], null],
    ['no lock with VALBLK', [c(PR, false), c(EX, false)], null],
    ['a PR holder with VALBLK gives a valid LVB', [c(NL, true, 9), c(PR, true, 3)], { source: 1, valnotvalid: false }],
    ['the first > CR holder wins, not the highest sequence', [c(CW, true, 1), c(PW, true, 7)], { source: 0, valnotvalid: false }],
    ['a > CR holder without VALBLK does not count', [c(EX, false), c(CR, true, 4)], { source: 1, valnotvalid: true }],
    ['only NL/CR: the highest sequence, marked not valid', [c(NL, true, 2), c(CR, true, 5), c(NL, true, 4)], { source: 1, valnotvalid: true }],
    ['ties go to the later lock', [c(NL, true, 5), c(CR, true, 5)], { source: 1, valnotvalid: true }],
    ['the sequence compare wraps', [c(NL, true, 0xfffffffe), c(NL, true, 1)], { source: 1, valnotvalid: true }],
    ['a converting lock with unknown granted mode counts as not > CR', [c(IV, true, 8), c(NL, true, 1)], { source: 0, valnotvalid: true }],
  ];
  for (const [name, input, want] of rows) it(name, () => expect(newMasterLvb(input)).toEqual(want));
});

describe('purgeInvalidatesLvb (§4.7, master survived)', () => {
  const rows: [number, boolean, boolean][] = [
    [NL, true, false],
    [CR, true, false],
    [CW, true, false],
    [PR, true, false],
    [PW, true, true],
    [EX, true, true],
    [PW, false, false],
    [EX, false, false],
    [IV, true, false],
  ];
  for (const [grmode, valblk, want] of rows) it(`granted ${grmode} VALBLK=${valblk} -> ${want}`, () => expect(purgeInvalidatesLvb({ grmode: grmode as LvbCandidate['grmode'], valblk })).toBe(want));
});

describe('middle conversions (§4.4, §4.7)', () => {
  it('PR<->CW only', () => {
    const all = [NL, CR, CW, PR, PW, EX] as const;
    const middle = all.flatMap((g) => all.filter((r) => isMiddleConversion(g, r)).map((r) => `${g}>${r}`));
    expect(middle).toEqual([`${CW}>${PR}`, `${PR}>${CW}`]);
  });
  it('take the first granted PR or CW, else the requested mode', () => {
    expect(middleConversionGrmode([NL, PR, CW], CW)).toBe(PR);
    expect(middleConversionGrmode([CW, PR], PR)).toBe(CW);
    expect(middleConversionGrmode([NL, CR], CW)).toBe(CW);
    expect(middleConversionGrmode([], PR)).toBe(PR);
  });
  it('seqAfter is a wrapping compare', () => {
    expect(seqAfter(2, 1)).toBe(true);
    expect(seqAfter(1, 1)).toBe(false);
    expect(seqAfter(1, 0xffffffff)).toBe(true);
    expect(seqAfter(0xffffffff, 1)).toBe(false);
  });
});
