/**
 * The mode tables of spec §1.4-§1.7, as pure lookups: compatibility,
 * conversion classes, the QUECVT table and the LVB transfer table.
 */
import { LKM as LKM_, type ModeOrIV } from './constants.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const LKM = LKM_;

// Rows/columns are mode + 1: index 0 is UN (unlocked, compatible with all),
// 1..6 are NL..EX, 7 is PD (padding, compatible with nothing). 1 = compatible.
const COMPAT: readonly (readonly number[])[] = [
  /* UN */ [1, 1, 1, 1, 1, 1, 1, 0],
  /* NL */ [1, 1, 1, 1, 1, 1, 1, 0],
  /* CR */ [1, 1, 1, 1, 1, 1, 0, 0],
  /* CW */ [1, 1, 1, 1, 0, 0, 0, 0],
  /* PR */ [1, 1, 1, 0, 1, 0, 0, 0],
  /* PW */ [1, 1, 1, 0, 0, 0, 0, 0],
  /* EX */ [1, 1, 0, 0, 0, 0, 0, 0],
  /* PD */ [0, 0, 0, 0, 0, 0, 0, 0],
];

/** Whether a lock held in `held` lets another be granted `requested` (IV = none, compatible). */
export function compatible(held: ModeOrIV, requested: ModeOrIV): boolean {
  return COMPAT[held + 1]![requested + 1] === 1;
}

/** PR->CW or CW->PR: not a down-conversion, can block (spec §1.5). */
export function isMiddleConversion(granted: ModeOrIV, requested: ModeOrIV): boolean {
  return (granted === LKM.PR && requested === LKM.CW) || (granted === LKM.CW && requested === LKM.PR);
}

/** requested < granted, except PR->CW. Down-conversions are always granted at once. */
export function isDownConversion(granted: ModeOrIV, requested: ModeOrIV): boolean {
  return requested < granted && !isMiddleConversion(granted, requested);
}

/** requested > granted, except CW->PR. */
export function isUpConversion(granted: ModeOrIV, requested: ModeOrIV): boolean {
  return requested > granted && !isMiddleConversion(granted, requested);
}

export type ConversionClass = 'up' | 'down' | 'middle' | 'same';

export function conversionClass(granted: ModeOrIV, requested: ModeOrIV): ConversionClass {
  if (granted === requested) return 'same';
  if (isMiddleConversion(granted, requested)) return 'middle';
  return requested > granted ? 'up' : 'down';
}

/**
 * Whether a conversion granted -> requested may carry QUECVT (§1.6): only
 * conversions to a strictly more restrictive mode (PR->CW counts, CW->PR counts).
 */
export function quecvtAllowed(granted: ModeOrIV, requested: ModeOrIV): boolean {
  if (granted < LKM.NL || granted > LKM.EX || requested < LKM.NL || requested > LKM.EX) return false;
  if (granted === LKM.PR && requested === LKM.CW) return true;
  if (granted === LKM.CW && requested === LKM.PR) return true;
  return requested > granted;
}

/** What an LVB does when a lock moves granted -> requested (§1.7). */
export type LvbOp = 'read' | 'write' | 'none';

// Rows: UN(new), NL..EX; columns NL..EX. R = read, W = write, - = none.
const LVB_TABLE: readonly string[] = [
  /* UN */ 'RRRRRR',
  /* NL */ 'RRRRRR',
  /* CR */ '-RRRRR',
  /* CW */ '--RRRR',
  /* PR */ '---RRR',
  /* PW */ 'WWWWWR',
  /* EX */ 'WWWWWW',
];

export function lvbOperation(granted: ModeOrIV, requested: ModeOrIV): LvbOp {
  if (requested < LKM.NL || requested > LKM.EX || granted < LKM.IV || granted > LKM.EX) return 'none';
  const c = LVB_TABLE[granted + 1]![requested];
  return c === 'R' ? 'read' : c === 'W' ? 'write' : 'none';
}
