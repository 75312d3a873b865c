import { describe, expect, it } from 'vitest';
import { classifyRx, type RxStateView } from '../../src/iocom/state-rules.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { STATE_KINDS, allFlags, flagName, specVerdict, type Flags, type StateKind } from '../helpers/spec-rx-table.ts';

function view(s: StateKind): RxStateView | undefined {
  switch (s) {
    case 'none': return undefined;
    case 'notCreated': return { rxCreated: false, rxDeleted: false };
    case 'open': return { rxCreated: true, rxDeleted: false };
    case 'rxDeleted': return { rxCreated: true, rxDeleted: true };
  }
}

function cmdOf(f: Flags, base: number = DMSG.LNK_ERROR): number {
  return (base | (f.C ? DMSGF.CREATE : 0) | (f.D ? DMSGF.DELETE : 0) | (f.R ? DMSGF.REPLY : 0) | (f.A ? DMSGF.ABORT : 0) | (f.revtrans ? DMSGF.REVTRANS : 0)) >>> 0;
}

function actual(f: Flags, s: StateKind, parentMissing: boolean, base?: number): { action: string; code?: string } {
  const v = classifyRx(cmdOf(f, base), view(s), parentMissing);
  return v.action === 'error' ? { action: 'error', code: v.code } : { action: v.action };
}

describe('classifyRx against the spec §4.4 table', () => {
  const cases: Array<[string, StateKind, boolean, Flags]> = [];
  for (const f of allFlags()) for (const s of STATE_KINDS) for (const pm of [false, true]) cases.push([flagName(f), s, pm, f]);
  expect(cases).toHaveLength(128);

  it.each(cases)('%s on state %s, parentMissing=%s', (_name, s, pm, f) => {
    expect(actual(f, s, pm)).toEqual(specVerdict(f, s, pm));
  });

  it('gives the same verdict whatever the base command (LNK_SPAN, BLK_READ, DBG_SHELL)', () => {
    for (const base of [DMSG.LNK_SPAN, DMSG.BLK_READ, DMSG.DBG_SHELL, DMSG.LNK_PING])
      for (const f of allFlags()) for (const s of STATE_KINDS) for (const pm of [false, true])
        expect(actual(f, s, pm, base)).toEqual(specVerdict(f, s, pm));
  });

  it('REVTRANS on a CREATE without REPLY and no state is a BAD_STATE error (dropped only with ABORT|DELETE)', () => {
    for (const f of allFlags().filter((x) => x.C && !x.R)) {
      const g = { ...f, revtrans: true };
      expect(actual(g, 'none', false)).toEqual(specVerdict(g, 'none', false));
    }
    expect(actual({ C: true, D: false, R: false, A: false, revtrans: true }, 'none', false)).toEqual({ action: 'error', code: 'BAD_STATE' });
  });

  it('ABORT|CREATE alone is the non-blocking modifier: a duplicate is still fatal', () => {
    // Regression: classifyRx used to drop any duplicate or unknown CREATE that carried ABORT.
    expect(actual({ C: true, D: false, R: false, A: true }, 'open', false)).toEqual({ action: 'error', code: 'DUPLICATE_TRANS' });
    expect(actual({ C: true, D: false, R: true, A: true }, 'none', false)).toEqual({ action: 'error', code: 'UNKNOWN_TRANS' });
    expect(actual({ C: true, D: true, R: false, A: true }, 'open', false)).toEqual({ action: 'drop' });
  });

  it('spot checks of rows as the spec words them', () => {
    const F = (s: string): Flags => ({ C: s.includes('C'), D: s.includes('D'), R: s.includes('R'), A: s.includes('A') });
    expect(actual(F('C'), 'none', false)).toEqual({ action: 'new' });
    expect(actual(F('CD'), 'open', false)).toEqual({ action: 'error', code: 'DUPLICATE_TRANS' });
    expect(actual(F('D'), 'none', false)).toEqual({ action: 'error', code: 'UNKNOWN_TRANS' });
    expect(actual(F('DA'), 'none', false)).toEqual({ action: 'drop' });
    expect(actual(F('D'), 'rxDeleted', false)).toEqual({ action: 'drop' });
    expect(actual(F(''), 'none', false)).toEqual({ action: 'oneway' });
    expect(actual(F('A'), 'none', false)).toEqual({ action: 'drop' });
    expect(actual(F('RC'), 'notCreated', false)).toEqual({ action: 'deliver' });
    expect(actual(F('RC'), 'none', false)).toEqual({ action: 'error', code: 'UNKNOWN_TRANS' });
    expect(actual(F('R'), 'none', false)).toEqual({ action: 'oneway' });
    expect(actual(F('RA'), 'notCreated', false)).toEqual({ action: 'drop' });
    expect(actual(F('RD'), 'notCreated', false)).toEqual({ action: 'error', code: 'BAD_STATE' });
    expect(actual(F('CDRA'), 'open', true)).toEqual({ action: 'drop' });
  });
});
