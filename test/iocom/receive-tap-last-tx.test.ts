/**
 * The receive tap remembers the last transaction it delivered to and that
 * transaction's circuit (ReceiveDispatch.passThrough: no table probe while
 * they are not freed). These cases make the remembered entries stale: the
 * peer ends a tapped transaction and opens a new one under the same msgid,
 * and ends a circuit under a tapped child. Each runs with the tap on (the
 * observer is its transaction's only rx$ observer) and off (a second rx$
 * observer makes the tap decline); what every observer receives, the link's
 * counters and whether it stays up must be the same.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { rawLink } from '../helpers/raw-peer.ts';

const CMD = DMSG.DBG_SHELL;

function aux(n: number, fill: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (fill + i * 7) & 0xff;
  return a;
}
const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');

/** Every peer-opened transaction gets an observer that records what reaches it (tap on: raw; off: plus a general subscriber). */
function watch(io: { transactions$: { subscribe(f: (tx: Transaction) => void): unknown } }, general: boolean) {
  const seen: string[][] = [];
  let raw = 0;
  const txs: Transaction[] = [];
  io.transactions$.subscribe((tx) => {
    const k = seen.length;
    const got: string[] = [];
    seen.push(got);
    txs.push(tx);
    tx.subscribeRaw({
      rawNext(_c: number, _e: number, a: Uint8Array) {
        raw++;
        got.push(`${k}:${hex(a)}`);
      },
      next(m) {
        got.push(`${k}:${hex(m.aux)}`);
      },
      error: () => got.push(`${k}:error`),
      complete: () => got.push(`${k}:complete`),
    });
    if (general) tx.rx$.subscribe({ error: () => {} });
  });
  return { seen, txs, raw: () => raw };
}

describe('receive tap: the remembered transaction and circuit', () => {
  it('a tapped transaction ends and the peer opens a new one under the same msgid: its messages reach the new one only, tap on or off', async () => {
    const once = async (general: boolean) => {
      const l = await rawLink('memory', { name: 'rx' });
      try {
        const { io, peer } = l;
        const w = watch(io, general);
        const id = 0x41n;
        for (let round = 0; round < 3; round++) {
          peer.send({ cmd: CMD | DMSGF.CREATE, msgid: id }, undefined, aux(32, round));
          for (let k = 0; k < 5; k++) peer.send({ cmd: CMD, msgid: id }, undefined, aux(24 + k, 16 * round + k));
          await peer.roundTrip();
          // The peer ends it; we end our side: the transaction is freed.
          peer.send({ cmd: CMD | DMSGF.DELETE, msgid: id });
          await peer.roundTrip();
          w.txs[round]!.close();
          await peer.roundTrip();
          expect(w.txs[round]!.freed).toBe(true);
        }
        const st = io.stats();
        return { seen: w.seen, raw: w.raw(), open: io.isOpen, stats: `${st.messagesIn}/${st.dropped}` };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(slow.raw).toBe(0);
    // Every mid-stream message of every round went through the tap.
    expect(fast.raw).toBe(15);
    // Each: its CREATE, the five, its DELETE (an empty message) and complete.
    expect(fast.seen.map((s) => s.length)).toEqual([8, 8, 8]);
    expect(fast.seen.map((s) => s.at(-1))).toEqual(['0:complete', '1:complete', '2:complete']);
    expect({ ...fast, raw: 0 }).toEqual({ ...slow, raw: 0 });
  });

  it('a tapped child whose circuit ends, then messages on the gone circuit and a new circuit under the same msgid: the same outcome, tap on or off', async () => {
    const once = async (general: boolean) => {
      const l = await rawLink('memory', { name: 'rx' });
      try {
        const { io, peer } = l;
        const w = watch(io, general);
        const parent = 0x51n;
        const child = 0x52n;
        const other = 0x53n;
        peer.send({ cmd: CMD | DMSGF.CREATE, msgid: parent }, undefined, aux(16, 1));
        peer.send({ cmd: CMD | DMSGF.CREATE, msgid: child, circuit: parent }, undefined, aux(16, 2));
        for (let k = 0; k < 4; k++) peer.send({ cmd: CMD, msgid: child, circuit: parent }, undefined, aux(20, 3 + k));
        await peer.roundTrip();
        // The circuit ends (its children with it, as the link decides).
        peer.send({ cmd: CMD | DMSGF.DELETE, msgid: parent });
        await peer.roundTrip();
        w.txs[0]!.close();
        await peer.roundTrip();
        // Messages naming the gone circuit.
        if (io.isOpen) for (let k = 0; k < 2; k++) peer.send({ cmd: CMD, msgid: child, circuit: parent }, undefined, aux(20, 9 + k));
        if (io.isOpen) await peer.roundTrip();
        // A new circuit under the parent's msgid, a new child on it.
        if (io.isOpen) {
          peer.send({ cmd: CMD | DMSGF.CREATE, msgid: parent }, undefined, aux(16, 20));
          peer.send({ cmd: CMD | DMSGF.CREATE, msgid: other, circuit: parent }, undefined, aux(16, 21));
          for (let k = 0; k < 3; k++) peer.send({ cmd: CMD, msgid: other, circuit: parent }, undefined, aux(20, 22 + k));
          await peer.roundTrip();
        }
        const st = io.stats();
        return { seen: w.seen, raw: w.raw(), open: io.isOpen, stats: `${st.messagesIn}/${st.dropped}`, freed: w.txs.map((t) => t.freed) };
      } finally {
        await l.close();
      }
    };
    const fast = await once(false);
    const slow = await once(true);
    expect(slow.raw).toBe(0);
    expect(fast.raw).toBeGreaterThanOrEqual(4);
    expect({ ...fast, raw: 0 }).toEqual({ ...slow, raw: 0 });
  });
});
