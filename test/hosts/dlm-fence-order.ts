/**
 * Fencing tokens in the DLM-across-hosts records (pure): on one resource,
 * a PW or EX grant recorded later (on the machine's one clock) than another
 * carries a larger token. PW and EX exclude each other, so their grants on
 * a resource are serialised; two recorded in the same millisecond are not
 * compared (their order is not known from the records).
 */
import type { CollectedRecord } from './dlm-grant-overlap.ts';

export interface FenceVerdict {
  /** PW/EX grants seen, and how many of them carried a token. */
  readonly grants: number;
  readonly withToken: number;
  /** Pairs out of order, described. */
  readonly violations: readonly string[];
}

/** Check that tokens rise with grant time per resource. */
export function checkFenceOrder(records: readonly CollectedRecord[]): FenceVerdict {
  const byRes = new Map<string, CollectedRecord[]>();
  let grants = 0;
  let withToken = 0;
  for (const r of records) {
    if (r.ev !== 'grant' || (r.mode !== 'PW' && r.mode !== 'EX') || r.res === undefined) continue;
    grants++;
    if (typeof r.fence !== 'number') continue;
    withToken++;
    byRes.set(r.res, [...(byRes.get(r.res) ?? []), r]);
  }
  const violations: string[] = [];
  for (const [res, list] of byRes) {
    list.sort((a, b) => a.t - b.t);
    // Compare each grant with the largest token of every grant strictly earlier.
    let maxBefore: CollectedRecord | null = null;
    let i = 0;
    while (i < list.length) {
      let j = i;
      while (j < list.length && list[j]!.t === list[i]!.t) j++;
      for (let k = i; k < j; k++) {
        const g = list[k]!;
        if (maxBefore && g.fence! <= maxBefore.fence!) violations.push(`${res}: ${g.host}#${g.run} ${g.mode} at ${g.t} token ${g.fence} <= ${maxBefore.host}#${maxBefore.run} at ${maxBefore.t} token ${maxBefore.fence}`);
      }
      for (let k = i; k < j; k++) if (!maxBefore || list[k]!.fence! > maxBefore.fence!) maxBefore = list[k]!;
      i = j;
    }
  }
  return { grants, withToken, violations };
}
