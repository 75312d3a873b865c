import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { TxSlotMap, TxSlotSet } from '../../src/span/tx-slots.ts';

/** The slot is all the facades touch: a bare object with it stands in for a Transaction. */
const tx = (): Transaction => ({ _span: undefined }) as unknown as Transaction;

describe('TxSlotMap / TxSlotSet (per-router facts in the transaction slot)', () => {
  it('behave as a WeakMap and a WeakSet of one router', () => {
    const core = {};
    const roles = new TxSlotMap<string>(core, 'role');
    const hosts = new TxSlotMap<number>(core, 'host');
    const opened = new TxSlotSet(core);
    const a = tx();
    const b = tx();
    expect(roles.get(a)).toBeUndefined();
    expect(roles.has(a)).toBe(false);
    expect(opened.has(a)).toBe(false);
    roles.set(a, 'relay-span');
    hosts.set(a, 7);
    opened.add(b);
    expect(roles.get(a)).toBe('relay-span');
    expect(hosts.get(a)).toBe(7);
    expect(opened.has(a)).toBe(false);
    expect(opened.has(b)).toBe(true);
    expect(roles.has(b)).toBe(false);
    expect(roles.delete(a)).toBe(true);
    expect(roles.delete(a)).toBe(false);
    expect(roles.has(a)).toBe(false);
    expect(hosts.get(a)).toBe(7); // the other fact of the same transaction stays
    expect(opened.delete(b)).toBe(true);
    expect(opened.has(b)).toBe(false);
  });

  it('one router never sees what another router keeps about a transaction', () => {
    const r1 = {};
    const r2 = {};
    const hosts1 = new TxSlotMap<string>(r1, 'host');
    const hosts2 = new TxSlotMap<string>(r2, 'host');
    const opened2 = new TxSlotSet(r2);
    const t = tx();
    hosts1.set(t, 'link of r1');
    expect(hosts2.get(t)).toBeUndefined();
    expect(hosts2.has(t)).toBe(false);
    expect(opened2.has(t)).toBe(false);
    expect(hosts2.delete(t)).toBe(false);
    expect(hosts1.get(t)).toBe('link of r1');
  });
});
