/** §4.4 as tables: what a waiting operation becomes when recovery starts, and how a marked one is re-driven. */
import { describe, expect, it } from 'vitest';
import { LKM, LKSTS } from '../../../../src/services/dlm/constants.ts';
import type { WaitType } from '../../../../src/services/dlm/lock.ts';
import { fakeCancel, resendAction, waiterFix, type ResendState, type WaiterFix } from '../../../../src/services/dlm/recovery/waiter-rules.ts';

const { IV, NL, CW, PR, EX } = LKM;

describe('waiterFix (phase 4)', () => {
  const rows: [WaitType, number, number, boolean, boolean, WaiterFix][] = [
    // waitType, grmode, rqmode, targetGone, retryPending -> fix
    ['none', PR, IV, true, false, 'none'],
    ['lookup', IV, PR, false, false, 'resend'],
    ['lookup', IV, PR, true, false, 'resend'],
    ['lookup', IV, PR, false, true, 'none'],
    ['request', IV, PR, true, false, 'resend'],
    ['request', IV, PR, false, false, 'none'],
    ['convert', PR, EX, true, false, 'resend'],
    ['convert', NL, PR, true, false, 'resend'],
    ['convert', PR, CW, true, false, 'queued-middle'],
    ['convert', CW, PR, true, false, 'queued-middle'],
    ['convert', PR, CW, false, false, 'none'],
    ['unlock', PR, IV, true, false, 'fake-unlock'],
    ['unlock', PR, IV, false, false, 'none'],
    ['cancel', PR, EX, true, false, 'fake-cancel'],
    ['cancel', PR, EX, false, false, 'none'],
  ];
  for (const [waitType, grmode, rqmode, targetGone, retryPending, want] of rows) {
    it(`${waitType} ${grmode}>${rqmode} gone=${targetGone} retry=${retryPending} -> ${want}`, () =>
      expect(waiterFix({ waitType, grmode: grmode as never, rqmode: rqmode as never, targetGone, retryPending, secondary: 'none' })).toBe(want));
  }
});

describe('fakeCancel', () => {
  it('a converting lock goes back to granted; a waiting or unsent request ends; a granted lock gets no AST', () => {
    expect(fakeCancel(LKSTS.CONVERT)).toBe('to-granted');
    expect(fakeCancel(LKSTS.WAITING)).toBe('destroy');
    expect(fakeCancel(LKSTS.NONE)).toBe('destroy');
    expect(fakeCancel(LKSTS.GRANTED)).toBe('no-ast');
  });
});

describe('resendAction (phase 8)', () => {
  const s = (op: ResendState['op'], overlapUnlock = false, overlapCancel = false, secondary: ResendState['secondary'] = 'none'): ResendState => ({ op, overlapUnlock, overlapCancel, secondary });
  const rows: [ResendState, string][] = [
    [s('request'), 'request'],
    [s('request', true), 'ast-unlock'],
    [s('request', false, true), 'ast-cancel-destroy'],
    [s('convert'), 'convert'],
    [s('convert', false, false, 'unlock'), 'unlock'],
    [s('convert', false, false, 'cancel'), 'ast-cancel-keep'],
    [s('convert', true), 'unlock'],
    [s('middle', false, false, 'unlock'), 'unlock'],
    [s('middle', false, false, 'cancel'), 'cancel'],
    [s('middle'), 'none'],
  ];
  for (const [state, want] of rows) it(`${JSON.stringify(state)} -> ${want}`, () => expect(resendAction(state)).toBe(want));
});
