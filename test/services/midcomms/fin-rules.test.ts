/** Every row of the FIN table (spec §5.8), written out again here from the spec. */
import { describe, expect, it } from 'vitest';
import { MC_STATE } from '../../../src/services/midcomms/constants.ts';
import { finRule } from '../../../src/services/midcomms/fin-rules.ts';
import type { FinEvent } from '../../../src/services/midcomms/fin-rules.ts';
import { seqAdd, seqAfter, seqBefore, seqDiff } from '../../../src/services/midcomms/seq.ts';

const { CLOSED, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING } = MC_STATE;
const ALL = [CLOSED, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING];
const EVENTS: FinEvent[] = ['memberAdded', 'versionDetected', 'shutdown', 'finReceived', 'memberRemoved', 'finAcked', 'fence'];

// [state, event, users, actions, next]
const ROWS: Array<[number, FinEvent, number, string[], number]> = [
  [CLOSED, 'memberAdded', 1, [], ESTABLISHED],
  [CLOSED, 'versionDetected', 0, [], ESTABLISHED],
  [FIN_WAIT1, 'memberAdded', 1, ['reset'], ESTABLISHED],
  [FIN_WAIT2, 'memberAdded', 1, ['reset'], ESTABLISHED],
  [CLOSE_WAIT, 'memberAdded', 1, ['reset'], ESTABLISHED],
  [LAST_ACK, 'memberAdded', 1, ['reset'], ESTABLISHED],
  [CLOSING, 'memberAdded', 1, ['reset'], ESTABLISHED],
  [ESTABLISHED, 'shutdown', 0, ['sendFinActive'], FIN_WAIT1],
  [ESTABLISHED, 'finReceived', 1, ['sendAck'], CLOSE_WAIT],
  [ESTABLISHED, 'finReceived', 0, ['sendAck', 'setStopRx', 'sendFinPassive'], LAST_ACK],
  [ESTABLISHED, 'memberRemoved', 0, [], ESTABLISHED],
  [CLOSE_WAIT, 'memberRemoved', 0, ['setStopRx', 'sendFinPassive'], LAST_ACK],
  [LAST_ACK, 'finAcked', 0, ['reset'], CLOSED],
  [LAST_ACK, 'finReceived', 0, [], LAST_ACK],
  [LAST_ACK, 'memberRemoved', 0, [], LAST_ACK],
  [FIN_WAIT1, 'finAcked', 0, [], FIN_WAIT2],
  [FIN_WAIT1, 'finReceived', 0, ['sendAck', 'setStopRx'], CLOSING],
  [CLOSING, 'finAcked', 0, ['reset'], CLOSED],
  [FIN_WAIT2, 'finReceived', 0, ['sendAck', 'reset'], CLOSED],
  [CLOSED, 'finAcked', 0, ['wake'], CLOSED],
  [CLOSED, 'memberRemoved', 0, [], CLOSED],
  // "in CLOSED do nothing; in any other state just wait"
  [CLOSED, 'shutdown', 0, [], CLOSED],
  [FIN_WAIT1, 'shutdown', 0, [], FIN_WAIT1],
];

describe('FIN rule table (§5.8)', () => {
  for (const [state, event, users, actions, next] of ROWS) {
    it(`${state} + ${event} (users ${users}) -> ${actions.join(',') || '-'} -> ${next}`, () => {
      const v = finRule(state as never, event, users);
      expect(v.warning).toBeUndefined();
      expect([...v.actions]).toEqual(actions);
      expect(v.next).toBe(next);
    });
  }

  it('fence from any state: CLOSED with the fence action', () => {
    for (const s of ALL) expect(finRule(s as never, 'fence', 3)).toMatchObject({ next: CLOSED, actions: ['fence'] });
  });

  it('every other combination warns and does not move', () => {
    const listed = new Set(ROWS.map(([s, e]) => `${s}:${e}`));
    const warned: string[] = [];
    for (const s of ALL) {
      for (const e of EVENTS) {
        if (e === 'fence' || listed.has(`${s}:${e}`)) continue;
        const v = finRule(s as never, e, 0);
        expect(v.next, `${s}:${e}`).toBe(s);
        if (e === 'versionDetected' || e === 'shutdown' || (s === ESTABLISHED && e === 'memberAdded')) {
          expect(v.actions, `${s}:${e}`).toEqual([]);
          continue;
        }
        expect(v.warning, `${s}:${e}`).toBeDefined();
        expect(v.actions).toEqual([]);
        warned.push(`${s}:${e}`);
      }
    }
    // ACK of a FIN we never sent; a FIN where none can come; a removal during our own close.
    expect(warned.sort()).toEqual(
      [
        `${ESTABLISHED}:finAcked`,
        `${CLOSE_WAIT}:finAcked`,
        `${FIN_WAIT2}:finAcked`,
        `${CLOSED}:finReceived`,
        `${CLOSE_WAIT}:finReceived`,
        `${CLOSING}:finReceived`,
        `${FIN_WAIT1}:memberRemoved`,
        `${FIN_WAIT2}:memberRemoved`,
        `${CLOSING}:memberRemoved`,
      ].sort(),
    );
  });
});

describe('wrap-safe sequence arithmetic', () => {
  it('compares across 2^32', () => {
    expect(seqBefore(0xffffffff, 0)).toBe(true);
    expect(seqAfter(0, 0xffffffff)).toBe(true);
    expect(seqBefore(0xfffffff0, 5)).toBe(true);
    expect(seqBefore(5, 0xfffffff0)).toBe(false);
    expect(seqBefore(7, 7)).toBe(false);
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(0xffffffff);
    expect(seqDiff(0xfffffffe, 3)).toBe(5);
  });

  it('is antisymmetric within half the space', () => {
    for (let i = 0; i < 1000; i++) {
      const a = (i * 0x9e3779b9) >>> 0;
      const d = ((i * 7919) % 0x7fffffff) + 1;
      const b = seqAdd(a, d);
      expect(seqBefore(a, b)).toBe(true);
      expect(seqBefore(b, a)).toBe(false);
    }
  });
});
