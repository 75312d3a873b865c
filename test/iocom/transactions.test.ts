import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstValueFrom } from 'rxjs';
import type { Iocom } from '../../src/iocom/iocom.ts';
import { TransactionError } from '../../src/iocom/errors.ts';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { DMSG, DMSGF, DMSG_ERR } from '../../src/wire/constants.ts';
import { ProtocolError } from '../../src/wire/errors.ts';
import { concatBytes } from '../../src/wire/frame-encoder.ts';
import { readU32LE, readU64LE } from '../../src/wire/header.ts';
import type { Message } from '../../src/wire/message.ts';
import { iocomPair, type PairKind } from '../helpers/iocom-pair.ts';
import { rawLink, reasonCode, type RawLink } from '../helpers/raw-peer.ts';
import { allFlags, flagName, specVerdict, type Flags, type StateKind } from '../helpers/spec-rx-table.ts';

const KINDS: readonly PairKind[] = ['memory', 'tcp'];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const flagsOf = (f: Flags): number => (f.C ? DMSGF.CREATE : 0) | (f.D ? DMSGF.DELETE : 0) | (f.R ? DMSGF.REPLY : 0) | (f.A ? DMSGF.ABORT : 0);

interface Recorded {
  tx: Transaction;
  msgs: Message[];
  done: 'open' | 'complete' | 'error';
  error?: unknown;
}

/** Record everything an iocom delivers: new transactions, their messages, one-way messages. */
function recorder(io: Iocom): { peerTx: Recorded[]; oneway: Message[]; watch(tx: Transaction): Recorded } {
  const peerTx: Recorded[] = [];
  const oneway: Message[] = [];
  const watch = (tx: Transaction): Recorded => {
    const r: Recorded = { tx, msgs: [], done: 'open' };
    tx.rx$.subscribe({ next: (m) => r.msgs.push(m), complete: () => (r.done = 'complete'), error: (e) => ((r.done = 'error'), (r.error = e)) });
    return r;
  };
  io.transactions$.subscribe((tx) => peerTx.push(watch(tx)));
  io.messages$.subscribe((m) => oneway.push(m));
  return { peerTx, oneway, watch };
}

type Setup = 'none' | 'notCreated' | 'open-ours' | 'open-peers' | 'rxDeleted-ours' | 'rxDeleted-peers';
const SETUPS: readonly Setup[] = ['none', 'notCreated', 'open-ours', 'open-peers', 'rxDeleted-ours', 'rxDeleted-peers'];
const kindOf = (s: Setup): StateKind => (s.startsWith('open') ? 'open' : s.startsWith('rxDeleted') ? 'rxDeleted' : (s as StateKind));
const PEER_MSGID = 0x55n;

describe.each(KINDS)('receive table through a real iocom over %s', (kind) => {
  let link: RawLink | undefined;
  afterEach(async () => {
    await link?.close();
    link = undefined;
  });

  const cases: Array<[string, Setup, boolean, Flags]> = [];
  for (const s of SETUPS) for (const f of allFlags()) for (const pm of [false, true]) cases.push([flagName(f), s, pm, f]);

  it.each(cases)('%s sent at state %s (parentMissing=%s)', async (_n, setup, pm, f) => {
    link = await rawLink(kind);
    const { io, peer } = link;
    const rec = recorder(io);
    let target: Recorded | undefined;
    let msgid = 0x77n;
    let revtrans = f.R;
    if (setup === 'notCreated' || setup === 'open-ours' || setup === 'rxDeleted-ours') {
      target = rec.watch(io.open(DMSG.DBG_SHELL));
      msgid = target.tx.msgid;
      revtrans = true;
      if (setup !== 'notCreated') peer.send({ cmd: DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.REPLY | DMSGF.REVTRANS | (setup === 'rxDeleted-ours' ? DMSGF.DELETE : 0), msgid });
    } else if (setup !== 'none') {
      peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | (setup === 'rxDeleted-peers' ? DMSGF.DELETE : 0), msgid: PEER_MSGID });
      msgid = PEER_MSGID;
      revtrans = false;
    }
    await peer.roundTrip();
    if (setup.endsWith('peers')) target = rec.peerTx[0];
    const state = kindOf(setup);
    if (target) expect({ rxCreated: target.tx.rxCreated, rxDeleted: target.tx.rxDeleted }).toEqual({ rxCreated: state !== 'notCreated', rxDeleted: state === 'rxDeleted' });

    const before = { dropped: io.stats().dropped, newTx: rec.peerTx.length, oneway: rec.oneway.length, delivered: target?.msgs.length ?? 0 };
    const cmd = (DMSG.LNK_ERROR | flagsOf(f) | (revtrans ? DMSGF.REVTRANS : 0)) >>> 0;
    peer.send({ cmd, msgid, circuit: pm ? 0x9999n : 0n, error: 7 });
    const want = specVerdict({ ...f, revtrans }, state, pm);

    if (want.action === 'error') {
      const reason = await link.closed;
      expect(reasonCode(reason)).toBe(want.code);
      expect(reason.kind === 'error' && reason.error).toBeInstanceOf(ProtocolError);
      expect(io.isOpen).toBe(false);
      expect(io.stats().weOpened + io.stats().peerOpened).toBe(0);
      return;
    }
    await peer.roundTrip();
    const after = { dropped: io.stats().dropped, newTx: rec.peerTx.length, oneway: rec.oneway.length, delivered: target?.msgs.length ?? 0 };
    const delta = { dropped: after.dropped - before.dropped, newTx: after.newTx - before.newTx, oneway: after.oneway - before.oneway, delivered: after.delivered - before.delivered };
    expect(delta).toEqual({
      dropped: want.action === 'drop' ? 1 : 0,
      newTx: want.action === 'new' ? 1 : 0,
      oneway: want.action === 'oneway' ? 1 : 0,
      delivered: want.action === 'deliver' ? 1 : 0,
    });
    const got = want.action === 'new' ? rec.peerTx.at(-1)!.msgs[0] : want.action === 'oneway' ? rec.oneway.at(-1) : want.action === 'deliver' ? target!.msgs.at(-1) : undefined;
    if (got) {
      expect(got.header.cmd >>> 0).toBe(cmd);
      expect(got.header.error).toBe(7);
    }
    if (want.action === 'new') expect(rec.peerTx.at(-1)!.tx.msgid).toBe(msgid);
    if (want.action === 'deliver' && f.D) expect(target!.done).toBe(f.A ? 'error' : 'complete');
    expect(io.isOpen).toBe(true);
  });
});

describe.each(KINDS)('transactions over %s', (kind) => {
  it('sets REVTRANS and REVCIRC from the local state (checked in the written bytes)', async () => {
    const link = await rawLink(kind);
    const { io, peer } = link;
    const rec = recorder(io);
    const t1 = io.open(DMSG.DBG_SHELL);
    io.open(DMSG.DBG_SHELL, { parent: t1 });
    peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 0x50n });
    peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.REVCIRC, msgid: 0x60n, circuit: t1.msgid });
    peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 0x70n, circuit: 0x50n });
    await peer.roundTrip();
    const [p, q, s] = rec.peerTx.map((r) => r.tx);
    expect(q!.parent).toBe(t1);
    expect(s!.parent).toBe(p);
    p!.result(0);
    io.open(DMSG.DBG_SHELL, { parent: p! });
    q!.result(0);
    s!.result(0);
    await peer.roundTrip();

    // Walk the raw bytes: every message is 64 bytes here (no aux, 1-unit headers).
    const raw = concatBytes(peer.bytes);
    const words: Array<{ cmd: number; msgid: bigint; circuit: bigint }> = [];
    for (let o = 0; o < raw.length; o += 64) words.push({ cmd: readU32LE(raw, o + 0x20), msgid: readU64LE(raw, o + 0x08), circuit: readU64LE(raw, o + 0x10) });
    const ours = words.filter((w) => (w.cmd & DMSGF.BASECMDMASK) !== DMSG.LNK_PING);
    const F = DMSGF;
    expect(ours).toEqual([
      { cmd: (DMSG.DBG_SHELL | F.CREATE) >>> 0, msgid: t1.msgid, circuit: 0n },
      { cmd: (DMSG.DBG_SHELL | F.CREATE) >>> 0, msgid: t1.msgid + 1n, circuit: t1.msgid },
      { cmd: (DMSG.LNK_ERROR | F.CREATE | F.REPLY | F.REVTRANS) >>> 0, msgid: 0x50n, circuit: 0n },
      { cmd: (DMSG.DBG_SHELL | F.CREATE | F.REVCIRC) >>> 0, msgid: t1.msgid + 2n, circuit: 0x50n },
      { cmd: (DMSG.LNK_ERROR | F.CREATE | F.REPLY | F.REVTRANS) >>> 0, msgid: 0x60n, circuit: t1.msgid },
      { cmd: (DMSG.LNK_ERROR | F.CREATE | F.REPLY | F.REVTRANS | F.REVCIRC) >>> 0, msgid: 0x70n, circuit: 0x50n },
    ]);
    // Sequence numbers in the salt's low byte count 0,1,2... in write order.
    for (let i = 0, o = 0; o < raw.length; o += 64, i++) expect(raw[o + 4]).toBe(i & 0xff);
    await link.close();
  });

  it('stacks transactions 8 deep with data both ways and frees them all', async () => {
    const p = await iocomPair(kind);
    const bTx: Transaction[] = [];
    const aPeerTx: Transaction[] = [];
    p.b.transactions$.subscribe((tx) => {
      bTx.push(tx);
      tx.rx$.subscribe({
        next: (m) => {
          if (m.aux.length > 0 && !(m.header.cmd & DMSGF.CREATE)) tx.send(DMSG.DBG_SHELL, { aux: enc(`echo:${dec(m.aux)}`) });
        },
        complete: () => tx.reply(0),
      });
    });
    p.a.transactions$.subscribe((tx) => {
      aPeerTx.push(tx);
      tx.rx$.subscribe({ complete: () => tx.reply(0) });
    });
    const chain: Transaction[] = [];
    const echoes: string[][] = [];
    for (let i = 0; i < 8; i++) {
      const tx = p.a.open(DMSG.DBG_SHELL, { parent: chain[i - 1], aux: enc(`L${i + 1}`) });
      const got: string[] = [];
      echoes.push(got);
      tx.rx$.subscribe((m) => got.push(dec(m.aux)));
      chain.push(tx);
    }
    expect(chain.map((t) => t.depth)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let i = 0; i < 8; i++) chain[i]!.send(DMSG.DBG_SHELL, { aux: enc(`data${i + 1}`) });
    await p.a.ping();
    await p.b.ping();
    expect(bTx.map((t) => t.depth)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let i = 1; i < 8; i++) expect(bTx[i]!.parent).toBe(bTx[i - 1]);
    expect(echoes.map((e) => e.join())).toEqual(chain.map((_, i) => `echo:data${i + 1}`));
    // b opens a sub-transaction under the deepest one: a sees it stacked on its own L8.
    const sub = p.b.open(DMSG.DBG_SHELL, { parent: bTx[7]!, delete: true });
    const subDone = firstValueFrom(sub.rx$, { defaultValue: undefined });
    await subDone;
    expect(aPeerTx).toHaveLength(1);
    expect(aPeerTx[0]!.parent).toBe(chain[7]);
    expect(aPeerTx[0]!.depth).toBe(9);
    // Close deepest first; each close is answered and frees the level.
    for (let i = 7; i >= 0; i--) {
      const done = firstValueFrom(chain[i]!.rx$.pipe(), { defaultValue: undefined }).catch(() => undefined);
      chain[i]!.close();
      await new Promise<void>((r) => chain[i]!.rx$.subscribe({ complete: r, error: r }));
      await done;
      expect(chain[i]!.freed).toBe(true);
    }
    await p.a.ping();
    expect(p.a.stats()).toMatchObject({ weOpened: 0, peerOpened: 0 });
    expect(p.b.stats()).toMatchObject({ weOpened: 0, peerOpened: 0 });
    await p.close();
  });

  it('handles 10,000 concurrent transactions: open all, reply all, all freed', async () => {
    const N = 10_000;
    const p = await iocomPair(kind);
    let served = 0;
    p.b.transactions$.subscribe((tx) => {
      tx.rx$.subscribe({ next: (m) => { if (m.header.cmd & DMSGF.CREATE) tx.reply(0, { aux: enc(String(tx.msgid)) }); } });
      served++;
    });
    const txs: Transaction[] = [];
    for (let i = 0; i < N; i++) txs.push(p.a.open(DMSG.DBG_SHELL, { aux: enc(String(i)) }));
    expect(p.a.stats().weOpened).toBe(N);
    expect(new Set(txs.map((t) => t.msgid)).size).toBe(N);
    let replies = 0;
    await Promise.all(
      txs.map(
        (tx) =>
          new Promise<void>((resolve, reject) =>
            tx.rx$.subscribe({
              next: (m) => {
                expect(dec(m.aux)).toBe(String(tx.msgid));
                replies++;
              },
              complete: () => {
                tx.close();
                resolve();
              },
              error: reject,
            }),
          ),
      ),
    );
    await p.a.ping(); // b has seen every DELETE before it answers
    expect(served).toBe(N);
    expect(replies).toBe(N);
    expect(txs.every((t) => t.freed)).toBe(true);
    expect(p.a.stats()).toMatchObject({ weOpened: 0, peerOpened: 0, dropped: 0 });
    expect(p.b.stats()).toMatchObject({ weOpened: 0, peerOpened: 0, dropped: 0 });
    await p.close();
  });

  it('accepts and drops an ABORT|DELETE after DELETE (abort-after-DELETE)', async () => {
    const p = await iocomPair(kind);
    const bTx: Transaction[] = [];
    p.b.transactions$.subscribe((tx) => {
      bTx.push(tx);
      tx.rx$.subscribe({ error: () => {} });
    });
    const tx = p.a.open(DMSG.DBG_SHELL, { delete: true });
    await p.a.ping();
    expect(bTx[0]!.rxDeleted).toBe(true);
    tx.abort(DMSG_ERR.IO);
    expect(() => tx.send(DMSG.DBG_SHELL, { abort: true, delete: true })).toThrow(TransactionError);
    await p.a.ping();
    expect(p.b.stats().dropped).toBe(1);
    expect(p.b.isOpen).toBe(true);
    bTx[0]!.reply(0);
    await firstValueFrom(tx.rx$, { defaultValue: undefined });
    expect(tx.freed).toBe(true);
    await p.b.ping();
    expect(bTx[0]!.freed).toBe(true);
    expect(p.b.stats().peerOpened).toBe(0);
    await p.close();
  });

  it('DELETE for an unknown msgid closes the link with UNKNOWN_TRANS', async () => {
    const link = await rawLink(kind);
    link.peer.send({ cmd: DMSG.LNK_ERROR | DMSGF.DELETE, msgid: 0x1234n });
    const r = await link.closed;
    expect(reasonCode(r)).toBe('UNKNOWN_TRANS');
    await link.close();
  });

  it('a duplicate CREATE closes the link with DUPLICATE_TRANS', async () => {
    const link = await rawLink(kind);
    link.io.transactions$.subscribe(() => {});
    link.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 0x42n });
    link.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 0x42n });
    const r = await link.closed;
    expect(reasonCode(r)).toBe('DUPLICATE_TRANS');
    await link.close();
  });

  it('a parent closed normally fails its open children with LOSTLINK, deepest first, on both sides', async () => {
    const p = await iocomPair(kind);
    const order = { a: [] as string[], b: [] as string[] };
    const bTx: Transaction[] = [];
    const watch = (side: 'a' | 'b', tx: Transaction, name: string): void => {
      tx.rx$.subscribe({
        next: (m) => {
          if (m.header.error === DMSG_ERR.LOSTLINK) order[side].push(`${name}:delete`);
        },
        error: (e: unknown) => order[side].push(`${name}:${(e as TransactionError).code}`),
        complete: () => order[side].push(`${name}:complete`),
      });
    };
    const names = ['P', 'C1', 'C2', 'C3'];
    p.b.transactions$.subscribe((tx) => {
      watch('b', tx, names[bTx.length]!);
      bTx.push(tx);
    });
    const P = p.a.open(DMSG.DBG_SHELL);
    const C1 = p.a.open(DMSG.DBG_SHELL, { parent: P });
    const C2 = p.a.open(DMSG.DBG_SHELL, { parent: C1 });
    const C3 = p.a.open(DMSG.DBG_SHELL, { parent: P });
    [P, C1, C2, C3].forEach((t, i) => watch('a', t, names[i]!));
    await p.a.ping();
    expect(bTx).toHaveLength(4);
    bTx[0]!.reply(0); // b ends its side of P
    await p.b.ping();
    P.close(); // a ends its side: P is complete, its subtree must go
    expect(order.a).toEqual(['P:complete', 'C2:delete', 'C2:LOST_LINK', 'C1:delete', 'C1:LOST_LINK', 'C3:delete', 'C3:LOST_LINK']);
    expect([C1, C2, C3].every((t) => t.freed && t.dying)).toBe(true);
    await p.a.ping();
    expect(order.b).toEqual(['P:complete', 'C2:delete', 'C2:LOST_LINK', 'C1:delete', 'C1:LOST_LINK', 'C3:delete', 'C3:LOST_LINK']);
    expect(() => C1.send(DMSG.DBG_SHELL)).toThrow(TransactionError);
    expect(p.a.stats()).toMatchObject({ weOpened: 0, peerOpened: 0 });
    expect(p.b.stats()).toMatchObject({ weOpened: 0, peerOpened: 0 });
    expect(p.a.isOpen && p.b.isOpen).toBe(true);
    await p.close();
  });

  it('children are listed in stacking order, unstacked as each one ends (head, middle, tail), and the survivors fail in that order', async () => {
    const p = await iocomPair(kind);
    const served: Transaction[] = [];
    p.b.transactions$.subscribe((tx) => {
      served.push(tx);
      tx.rx$.subscribe({ complete: () => tx.reply(0), error: () => tx.canSend && tx.reply(0) });
    });
    const P = p.a.open(DMSG.DBG_SHELL);
    const kids = Array.from({ length: 6 }, () => p.a.open(DMSG.DBG_SHELL, { parent: P }));
    const failed: Transaction[] = [];
    for (const k of kids) k.rx$.subscribe({ error: () => failed.push(k) });
    expect([...P.children]).toEqual(kids);
    await p.a.ping();
    const peerP = served[0]!;
    expect([...peerP.children]).toEqual(served.slice(1));
    // One-shot round trips on the head, a middle one and the tail: each leaves both lists.
    for (const i of [0, 3, 5]) kids[i]!.close();
    await p.a.ping();
    await p.b.ping();
    const left = [kids[1], kids[2], kids[4]];
    expect([...P.children]).toEqual(left);
    expect([...peerP.children]).toEqual([served[2], served[3], served[5]]);
    // A late child goes to the end; the same child stacked twice is listed once.
    const late = p.a.open(DMSG.DBG_SHELL, { parent: P });
    P._addChild(late);
    expect([...P.children]).toEqual([...left, late]);
    late.abort();
    await p.a.ping();
    expect(failed).toEqual([]);
    P.abort(); // P ends once the peer answers: its remaining children fail with LOST_LINK, in stacking order
    await p.a.ping();
    expect(P.freed).toBe(true);
    expect(failed).toEqual(left);
    expect(P.children.size).toBe(0);
    expect(p.a.stats()).toMatchObject({ weOpened: 0 });
    await p.close();
  });

  it('a link cut ends every transaction children-first with a LOSTLINK DELETE then LOST_LINK, and leaves nothing behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const p = await iocomPair(kind, { pingIntervalMs: 1000, linkTimeoutMs: 5000 }, { pingIntervalMs: 1000, linkTimeoutMs: 5000 });
      expect(vi.getTimerCount()).toBe(2);
      const events = { a: [] as Array<{ tx: Transaction; what: string }>, b: [] as Array<{ tx: Transaction; what: string }> };
      const all = { a: [] as Transaction[], b: [] as Transaction[] };
      const watch = (side: 'a' | 'b', tx: Transaction): void => {
        all[side].push(tx);
        tx.rx$.subscribe({
          next: (m) => {
            if (m.header.cmd & DMSGF.DELETE) {
              expect(m.header.error).toBe(DMSG_ERR.LOSTLINK);
              events[side].push({ tx, what: 'delete' });
            }
          },
          error: (e: unknown) => {
            expect(e).toBeInstanceOf(TransactionError);
            expect((e as TransactionError).code).toBe('LOST_LINK');
            expect((e as TransactionError).dmsgError).toBe(DMSG_ERR.LOSTLINK);
            events[side].push({ tx, what: 'error' });
          },
          complete: () => events[side].push({ tx, what: 'complete' }),
        });
      };
      const bTx: Transaction[] = [];
      p.b.transactions$.subscribe((tx) => {
        watch('b', tx);
        bTx.push(tx);
      });
      p.a.transactions$.subscribe((tx) => watch('a', tx));
      // a opens 3 chains of 5; b stacks one of its own on every level of the first chain.
      const roots: Transaction[] = [];
      for (let r = 0; r < 3; r++) {
        let parent: Transaction | undefined;
        for (let d = 0; d < 5; d++) {
          parent = p.a.open(DMSG.DBG_SHELL, { parent });
          watch('a', parent);
          if (d === 0) roots.push(parent);
        }
      }
      await p.a.ping();
      for (const t of bTx.slice(0, 5)) t.result(0);
      for (const t of bTx.slice(0, 5)) watch('b', p.b.open(DMSG.DBG_SHELL, { parent: t }));
      await p.b.ping();
      expect(p.a.stats().weOpened + p.a.stats().peerOpened).toBe(20);
      expect(p.b.stats().weOpened + p.b.stats().peerOpened).toBe(20);
      const closedA = firstValueFrom(p.a.closed$);
      const closedB = firstValueFrom(p.b.closed$);
      p.streams[0].destroy(); // the cut
      const [ra, rb] = await Promise.all([closedA, closedB]);
      expect(ra.kind).not.toBe('error');
      expect(rb.kind).not.toBe('error');
      for (const side of ['a', 'b'] as const) {
        const ev = events[side];
        expect(ev).toHaveLength(2 * all[side].length);
        for (const tx of all[side]) {
          const mine = ev.filter((e) => e.tx === tx).map((e) => e.what);
          expect(mine).toEqual(['delete', 'error']);
          expect(tx.freed).toBe(true);
          if (tx.parent) {
            const child = ev.findIndex((e) => e.tx === tx && e.what === 'error');
            const parent = ev.findIndex((e) => e.tx === tx.parent && e.what === 'delete');
            expect(child).toBeLessThan(parent);
          }
        }
      }
      for (const io of [p.a, p.b]) expect(io.stats()).toMatchObject({ weOpened: 0, peerOpened: 0, timers: 0 });
      expect(vi.getTimerCount()).toBe(0);
      await p.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('send({ flush: true }): the first message of a request or reply goes out at once', () => {
  it('writes the flushed message (with what was queued before it) during send, and the turn\'s later messages together at its end, in order', async () => {
    const p = await iocomPair('memory');
    try {
      const rec = recorder(p.b);
      const stream = p.streams[0];
      const writes: number[] = [];
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      stream.write = ((...args: unknown[]) => {
        writes.push((args[0] as Uint8Array).length);
        return write(...args);
      }) as typeof stream.write;
      const tx = p.a.open(DMSG.DBG_SHELL, { aux: enc('open') });
      await new Promise<void>((r) => setImmediate(r));
      expect(writes).toHaveLength(1); // the CREATE, at the end of its turn
      const one = writes[0]!; // every message here has the same size (header, aux padded)
      tx.send(DMSG.DBG_SHELL, { aux: enc('q0') }); // queued, no flush asked
      expect(writes).toHaveLength(1);
      tx.send(DMSG.DBG_SHELL, { aux: enc('f1'), flush: true });
      // Written during send: the queued message and the flushed one, one write.
      expect(writes).toHaveLength(2);
      expect(writes[1]).toBe(2 * one);
      tx.send(DMSG.DBG_SHELL, { aux: enc('a2') });
      tx.send(DMSG.DBG_SHELL, { aux: enc('a3') });
      expect(writes).toHaveLength(2);
      await new Promise<void>((r) => setImmediate(r));
      expect(writes).toHaveLength(3); // the rest of the turn: one write at its end
      expect(writes[2]).toBe(2 * one);
      for (let i = 0; i < 50 && (rec.peerTx[0]?.msgs.length ?? 0) < 5; i++) await new Promise<void>((r) => setImmediate(r));
      expect(rec.peerTx[0]!.msgs.map((m) => dec(m.aux))).toEqual(['open', 'q0', 'f1', 'a2', 'a3']);
      expect(p.a.stats().messagesOut).toBe(5);
    } finally {
      await p.close();
    }
  });
});
