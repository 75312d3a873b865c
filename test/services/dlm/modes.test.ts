/**
 * The mode tables against tables copied by hand from the spec (§1.4-§1.7),
 * written here independently of src/services/dlm/modes.ts.
 */
import { describe, expect, it } from 'vitest';
import { compatible, conversionClass, isDownConversion, isMiddleConversion, isUpConversion, lvbOperation, quecvtAllowed } from '../../../src/services/dlm/modes.ts';

const M = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'] as const;

// §1.4: held (row) x requested (column); Y = compatible.
const SPEC_COMPAT: Record<string, string> = {
  NL: 'YYYYYY',
  CR: 'YYYYYN',
  CW: 'YYYNNN',
  PR: 'YYNYNN',
  PW: 'YYNNNN',
  EX: 'YNNNNN',
};

// §1.6: conversions that may carry QUECVT.
const SPEC_QUECVT: Record<string, string[]> = {
  NL: ['CR', 'CW', 'PR', 'PW', 'EX'],
  CR: ['CW', 'PR', 'PW', 'EX'],
  CW: ['PR', 'PW', 'EX'],
  PR: ['CW', 'PW', 'EX'],
  PW: ['EX'],
  EX: [],
};

// §1.7: row = granted (UN = new), column = requested.
const SPEC_LVB: Record<string, string> = {
  UN: 'RRRRRR',
  NL: 'RRRRRR',
  CR: '-RRRRR',
  CW: '--RRRR',
  PR: '---RRR',
  PW: 'WWWWWR',
  EX: 'WWWWWW',
};

describe('compatibility matrix (§1.4)', () => {
  for (let h = 0; h < 6; h++) {
    for (let r = 0; r < 6; r++) {
      it(`${M[h]} held, ${M[r]} requested`, () => {
        expect(compatible(h as 0, r as 0)).toBe(SPEC_COMPAT[M[h]!]![r] === 'Y');
      });
    }
  }
  it('is symmetric and IV (no mode) is compatible with everything', () => {
    for (let h = 0; h < 6; h++) {
      for (let r = 0; r < 6; r++) expect(compatible(h as 0, r as 0)).toBe(compatible(r as 0, h as 0));
      expect(compatible(-1, h as 0)).toBe(true);
      expect(compatible(h as 0, -1)).toBe(true);
    }
  });
});

describe('conversion classes (§1.5)', () => {
  it('classifies every pair', () => {
    const seen: Record<string, string[]> = { up: [], down: [], middle: [], same: [] };
    for (let g = 0; g < 6; g++) {
      for (let r = 0; r < 6; r++) {
        const c = conversionClass(g as 0, r as 0);
        seen[c]!.push(`${M[g]}>${M[r]}`);
        expect(isUpConversion(g as 0, r as 0)).toBe(c === 'up');
        expect(isDownConversion(g as 0, r as 0)).toBe(c === 'down');
        expect(isMiddleConversion(g as 0, r as 0)).toBe(c === 'middle');
      }
    }
    expect(seen.middle).toEqual(['CW>PR', 'PR>CW']);
    expect(seen.same).toEqual(['NL>NL', 'CR>CR', 'CW>CW', 'PR>PR', 'PW>PW', 'EX>EX']);
    expect(seen.up).toHaveLength(14);
    expect(seen.down).toHaveLength(14);
    expect(seen.up).toContain('CW>PW');
    expect(seen.down).toContain('PW>CW');
    expect(seen.down).toContain('PR>CR');
  });
});

describe('QUECVT table (§1.6)', () => {
  for (let g = 0; g < 6; g++) {
    for (let r = 0; r < 6; r++) {
      it(`${M[g]} -> ${M[r]}`, () => {
        expect(quecvtAllowed(g as 0, r as 0)).toBe(SPEC_QUECVT[M[g]!]!.includes(M[r]!));
      });
    }
  }
});

describe('LVB table (§1.7)', () => {
  const rows = ['UN', ...M];
  for (let g = -1; g < 6; g++) {
    for (let r = 0; r < 6; r++) {
      it(`${rows[g + 1]} -> ${M[r]}`, () => {
        const want = SPEC_LVB[rows[g + 1]!]![r];
        expect(lvbOperation(g as 0, r as 0)).toBe(want === 'R' ? 'read' : want === 'W' ? 'write' : 'none');
      });
    }
  }
});
