/**
 * The history checker and the LVB written by a down-conversion (found by the
 * DLM-across-hosts run, test/hosts): a down-conversion completes on the
 * owner without a reply from the master (spec dlm-midcomms "conversion":
 * the owner fakes the reply; no CONVERT_REPLY is sent), so its LVB write may
 * reach the master after another node's request that was issued later by
 * the wall clock but took a shorter path. A read of the older value is then
 * no violation. Once a later operation of the same lock got the master's
 * answer (owner-master traffic is in order), the write is certain and a
 * stale read is reported again.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../../helpers/dlm-history-checker.ts';
import type { HistoryEvent } from '../../../helpers/dlm-history-types.ts';

const lv = (s: string): string => Buffer.from(s.padEnd(8, '\0')).toString('hex');
const ZERO = '00'.repeat(8);
const kinds = (ev: HistoryEvent[]): string[] => checkHistory(ev, { fences: 'absent-ok' }).violations.map((v) => v.kind);

/** Node 1 holds PW on r (reading v1), down-converts to CR writing v2; node 2 then asks for NL and reads `read`. */
function history(confirmBeforeRead: boolean, read: string): HistoryEvent[] {
  let t = 0;
  const ev: HistoryEvent[] = [];
  const push = (e: Record<string, unknown>): void => { ev.push({ t: t++, ...e } as unknown as HistoryEvent); };
  // v1 written by an unlock (its completion is the master's answer: certain).
  push({ type: 'request', node: 3, op: 'w1', lock: 'c', res: 'r', mode: 'EX', flags: [] });
  push({ type: 'done', node: 3, op: 'w1', lock: 'c', status: 'OK', mode: 'EX', ended: false, lvb: ZERO });
  push({ type: 'unlock', node: 3, op: 'w2', lock: 'c', lvb: lv('v1') });
  push({ type: 'done', node: 3, op: 'w2', lock: 'c', status: 'OK', mode: null, ended: true });
  // Node 1: PW, then the down-conversion PW -> CR writing v2 (completes at once, on the owner).
  push({ type: 'request', node: 1, op: 'a1', lock: 'a', res: 'r', mode: 'PW', flags: [] });
  push({ type: 'done', node: 1, op: 'a1', lock: 'a', status: 'OK', mode: 'PW', ended: false, lvb: lv('v1') });
  push({ type: 'convert', node: 1, op: 'a2', lock: 'a', mode: 'CR', flags: [], lvb: lv('v2') });
  push({ type: 'done', node: 1, op: 'a2', lock: 'a', status: 'OK', mode: 'CR', ended: false, lvb: lv('v2') });
  if (confirmBeforeRead) {
    // An up-conversion CR -> PR of the same lock answered by the master: it processed the CR conversion first.
    push({ type: 'convert', node: 1, op: 'a3', lock: 'a', mode: 'PR', flags: [] });
    push({ type: 'done', node: 1, op: 'a3', lock: 'a', status: 'OK', mode: 'PR', ended: false, lvb: lv('v2') });
  }
  push({ type: 'request', node: 2, op: 'b1', lock: 'b', res: 'r', mode: 'NL', flags: [] });
  push({ type: 'done', node: 2, op: 'b1', lock: 'b', status: 'OK', mode: 'NL', ended: false, lvb: read });
  return ev;
}

describe('history checker: LVB writes of down-conversions', () => {
  it('a read of the older value right after a down-conversion wrote a newer one is allowed (the write may still be on its way)', () => {
    expect(kinds(history(false, lv('v1')))).toEqual([]);
    expect(kinds(history(false, lv('v2')))).toEqual([]);
  });

  it('once a later operation of that lock got the master\'s answer, reading the older value is stale', () => {
    expect(kinds(history(true, lv('v1')))).toEqual(['lvb']);
    expect(kinds(history(true, lv('v2')))).toEqual([]);
  });

  it('a value nobody wrote is still reported', () => {
    expect(kinds(history(false, lv('zz')))).toEqual(['lvb']);
  });
});
