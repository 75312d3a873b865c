/**
 * Issue 7, attack 1d at the iocom level: a peer that never answers our
 * DELETEs (it does not read, or reads and ignores them) leaves every
 * transaction we closed in our tables. Before, a relay relaying span churn to
 * such a sink filled the link's table (maxTransactions), after which every
 * relay open failed with LIMIT while the unanswered transactions held
 * memory for ever and the link stayed up. Now the open that finds the table
 * full, at least half of it waiting on the peer's DELETE, sheds the link
 * (LinkError LIMIT, the open throws LOST_LINK); a table full of our own open
 * transactions still only refuses the open (LIMIT), and a peer that answers
 * never comes near either.
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { LinkError, TransactionError, type LinkCloseReason } from '../../src/iocom/errors.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import { iocomPair } from '../helpers/iocom-pair.ts';

const QUIET = { pingIntervalMs: 0, linkTimeoutMs: 0 };
const MAX = 64;

/** An iocom whose peer end reads and discards everything: it never answers. */
function silentPeerLink(): { a: Iocom; lines: string[]; closed: Promise<LinkCloseReason> } {
  const [s, peer] = memoryPair();
  peer.resume(); // reads, never answers
  const lines: string[] = [];
  const a = new Iocom(s, { name: 'a', ...QUIET, maxTransactions: MAX, log: (l) => lines.push(l) });
  return { a, lines, closed: firstValueFrom(a.closed$) };
}

describe('iocom: a peer that never answers our DELETEs', () => {
  it('sheds the link when the table fills with transactions the peer owes a DELETE', async () => {
    const { a, lines, closed } = silentPeerLink();
    for (let i = 0; i < MAX; i++) a.open(DMSG.LNK_SPAN).close();
    expect(a.stats().weOpened).toBe(MAX); // all still waiting for the peer
    let thrown: unknown;
    try {
      a.open(DMSG.LNK_SPAN);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TransactionError);
    expect((thrown as TransactionError).code).toBe('LOST_LINK');
    const reason = await closed;
    expect(reason.kind).toBe('error');
    const err = (reason as { error: Error }).error;
    expect(err).toBeInstanceOf(LinkError);
    expect((err as LinkError).code).toBe('LIMIT');
    expect(lines.some((l) => l.includes('has not answered 64 of our DELETEs'))).toBe(true);
    expect(a.isOpen).toBe(false);
  });

  it('only refuses the open (LIMIT) when the table is full of our own open transactions', async () => {
    const { a } = silentPeerLink();
    // Less than half closed: the table is ours, not the peer's debt.
    for (let i = 0; i < MAX; i++) {
      const tx = a.open(DMSG.LNK_SPAN);
      if (i < MAX / 2 - 1) tx.close();
    }
    expect(() => a.open(DMSG.LNK_SPAN)).toThrowError(expect.objectContaining({ code: 'LIMIT' }) as Error);
    expect(a.isOpen).toBe(true);
    a.destroy();
  });

  it('never sheds a peer that answers: 20 x the table size opened and closed', async () => {
    const pair = await iocomPair('memory', { maxTransactions: MAX });
    try {
      pair.b.transactions$.subscribe((tx) => tx.rx$.subscribe({ complete: () => tx.close(), error: () => {} }));
      for (let round = 0; round < 20; round++) {
        const txs = Array.from({ length: MAX / 2 }, () => pair.a.open(DMSG.LNK_SPAN));
        for (const tx of txs) tx.close();
        // Bounded wait for b's DELETEs: at most 1000 I/O turns.
        for (let i = 0; i < 1000 && pair.a.stats().weOpened > 0; i++) await new Promise((r) => setImmediate(r));
        expect(pair.a.stats().weOpened).toBe(0);
      }
      expect(pair.a.isOpen).toBe(true);
    } finally {
      await pair.close();
    }
  });
});
