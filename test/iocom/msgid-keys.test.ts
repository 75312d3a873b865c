/**
 * Transactions are kept in tables keyed by number when the msgid is a safe
 * integer and by bigint beyond: peer msgids on both sides of 2^53 and up to
 * 2^64-1 must open, stack, answer and close as any other.
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { rawLink } from '../helpers/raw-peer.ts';

const IDS = [1n, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];

describe('msgid table keys', () => {
  it('peer msgids around 2^53 and up to 2^64-1 open, stack, answer and close', async () => {
    const l = await rawLink('memory');
    const opened: Transaction[] = [];
    l.io.transactions$.subscribe((tx) => {
      opened.push(tx);
      tx.rx$.subscribe({ complete: () => tx.reply(0) });
    });
    try {
      // Each id opens a top-level transaction; a child is stacked on it with id + 2^62 (mod 2^64).
      for (const id of IDS) {
        l.peer.send({ cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: id });
        const child = (id + (1n << 62n)) & (2n ** 64n - 1n);
        l.peer.send({ cmd: (DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE) >>> 0, msgid: child, circuit: id });
      }
      await l.peer.roundTrip();
      expect(opened.map((t) => t.msgid)).toEqual(IDS.flatMap((id) => [id, (id + (1n << 62n)) & (2n ** 64n - 1n)]));
      for (let i = 0; i < IDS.length; i++) {
        expect(opened[2 * i + 1]!.parent).toBe(opened[2 * i]);
        expect(opened[2 * i + 1]!.freed).toBe(true);
      }
      expect(l.io.stats().peerOpened).toBe(IDS.length);
      // The children's replies went back on their msgids and circuits.
      const replies = l.peer.received.filter((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_ERROR);
      expect(replies.map((m) => [m.header.msgid, m.header.circuit])).toEqual(IDS.map((id) => [(id + (1n << 62n)) & (2n ** 64n - 1n), id]));
      // Close the parents: each gets our reply, then is freed.
      for (const id of IDS) l.peer.send({ cmd: (DMSG.DBG_SHELL | DMSGF.DELETE) >>> 0, msgid: id });
      await l.peer.roundTrip();
      expect(opened.every((t) => t.freed)).toBe(true);
      expect(l.io.stats().peerOpened).toBe(0);
      expect(l.io.stats().dropped).toBe(0);
    } finally {
      await l.close();
    }
  });

  it('our msgids are numbers in the table and bigints to the application', async () => {
    const l = await rawLink('memory');
    try {
      const a = l.io.open(DMSG.DBG_SHELL);
      const b = l.io.open(DMSG.DBG_SHELL, { parent: a });
      expect(typeof a.msgid).toBe('bigint');
      expect(b.msgid).toBe(a.msgid + 1n);
      const [ma, mb] = await l.peer.waitFor(2);
      expect(ma!.header.msgid).toBe(a.msgid);
      expect(mb!.header.circuit).toBe(a.msgid);
      // The peer answers b with REVTRANS|REVCIRC: found by number keys.
      l.peer.send({ cmd: (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY | DMSGF.REVTRANS | DMSGF.REVCIRC) >>> 0, msgid: b.msgid, circuit: a.msgid });
      await l.peer.roundTrip();
      expect(b.rxDeleted).toBe(true);
      expect(l.io.stats().dropped).toBe(0);
    } finally {
      await l.close();
    }
  });
});
