/**
 * Bad peers: every kind of broken input ends that link only, with a typed
 * ProtocolError in closed$, while a second link in the same process keeps
 * working (a round trip on it after every case).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TransactionError } from '../../src/iocom/errors.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { ProtocolError } from '../../src/wire/errors.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import { iocomPair, type IocomPair, type PairKind } from '../helpers/iocom-pair.ts';
import { rawLink, reasonCode, type RawLink } from '../helpers/raw-peer.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import type { LinkCloseReason } from '../../src/iocom/errors.ts';

const KINDS: readonly PairKind[] = ['memory', 'tcp'];
let bystander: IocomPair;
let roundTrips = 0;

beforeAll(async () => {
  bystander = await iocomPair('tcp');
  bystander.b.transactions$.subscribe((tx) => tx.rx$.subscribe({ complete: () => tx.reply(0) }));
});
afterAll(async () => {
  expect(roundTrips).toBeGreaterThan(0);
  await bystander.close();
});

/** The second link still works: a transaction round trip and a ping. */
async function bystanderWorks(): Promise<void> {
  const tx = bystander.a.open(DMSG.DBG_SHELL, { delete: true });
  await new Promise<void>((resolve, reject) => tx.rx$.subscribe({ complete: resolve, error: reject }));
  expect(tx.freed).toBe(true);
  expect(await bystander.a.ping()).toBeGreaterThanOrEqual(0);
  expect(bystander.a.isOpen && bystander.b.isOpen).toBe(true);
  expect(bystander.b.stats().dropped).toBe(0);
  roundTrips++;
}

function expectProtocolError(r: LinkCloseReason, code?: string): void {
  expect(r.kind).toBe('error');
  if (r.kind !== 'error') return;
  expect(r.error).toBeInstanceOf(ProtocolError);
  if (code) expect(reasonCode(r)).toBe(code);
}

async function withLink(kind: PairKind, fn: (l: RawLink) => Promise<void> | void, opts?: IocomOptions): Promise<void> {
  const l = await rawLink(kind, opts);
  l.io.transactions$.subscribe((tx) => tx.rx$.subscribe({ error: () => {} }));
  try {
    await fn(l);
  } finally {
    await l.close();
  }
  await bystanderWorks();
}

const valid = (cmd: number, msgid = 0n, salt = 0, aux?: Uint8Array): Uint8Array => concatBytes(encodeMessage({ header: { cmd, msgid, salt }, aux }));

describe.each(KINDS)('bad input over %s', (kind) => {
  it('random bytes (then EOF) end the link with a ProtocolError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        await withLink(kind, async (l) => {
          l.peer.writeRaw(bytes);
          l.peer.stream.end();
          expectProtocolError(await l.closed);
        });
      }),
      { seed: 42, numRuns: kind === 'memory' ? 60 : 20, verbose: true },
    );
  });

  it('a valid message with one flipped bit is refused (magic, sizes or CRCs)', async () => {
    const good = valid(DMSG.DBG_SHELL | DMSGF.CREATE, 5n, 0, new Uint8Array(100).fill(7));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length * 8 - 1 }), async (bit) => {
        const bad = good.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const inPadding = bit >> 3 >= 64 + 100;
        await withLink(kind, async (l) => {
          l.peer.writeRaw(bad);
          l.peer.stream.end();
          const r = await l.closed;
          // A flip in the zero padding after the aux is covered by aux_crc too (CRC over the aligned aux).
          expectProtocolError(r);
          if (inPadding) expect(reasonCode(r)).toBe('BAD_AUX_CRC');
        });
      }),
      { seed: 7, numRuns: kind === 'memory' ? 60 : 15 },
    );
  });

  it('truncated messages end the link with TRUNCATED', async () => {
    const good = valid(DMSG.DBG_SHELL, 0n, 0, new Uint8Array(200).fill(1));
    for (const cut of [1, 63, 64, 100, 255]) {
      await withLink(kind, async (l) => {
        l.peer.writeRaw(good.subarray(0, cut));
        l.peer.stream.end();
        expectProtocolError(await l.closed, 'TRUNCATED');
      });
    }
  });

  it('wrong salt sequence numbers end the link with BAD_SEQ', async () => {
    for (const [first, second] of [[1, 1], [0, 0], [0, 2], [0, 0x100]] as const) {
      await withLink(kind, async (l) => {
        l.peer.send({ cmd: DMSG.LNK_PAD, salt: first });
        if (first === 0) l.peer.send({ cmd: DMSG.LNK_PAD, salt: second });
        const r = await l.closed;
        expectProtocolError(r, 'BAD_SEQ');
        expect(r.kind === 'error' && (r.error as ProtocolError).dmsgError).toBe(15);
      });
    }
    // The upper 24 bits are random: any value is fine.
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.LNK_PAD, salt: 0xabcdef00 });
      l.peer.send({ cmd: DMSG.LNK_PAD, salt: 0x12345601 });
      await l.peer.roundTrip();
      expect(l.io.isOpen).toBe(true);
    });
  });

  it('duplicate CREATE → DUPLICATE_TRANS, DELETE for an unknown msgid → UNKNOWN_TRANS, REPLY|CREATE for none → UNKNOWN_TRANS', async () => {
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 9n });
      l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 9n });
      expectProtocolError(await l.closed, 'DUPLICATE_TRANS');
    });
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.LNK_ERROR | DMSGF.DELETE, msgid: 9n });
      expectProtocolError(await l.closed, 'UNKNOWN_TRANS');
    });
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.REPLY | DMSGF.REVTRANS, msgid: 9n });
      expectProtocolError(await l.closed, 'UNKNOWN_TRANS');
    });
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 0n, circuit: 0n });
      expectProtocolError(await l.closed, 'BAD_STATE');
    });
  });

  it('oversized header or aux from the peer: HDR_TOO_LARGE / AUX_TOO_LARGE', async () => {
    await withLink(kind, async (l) => {
      // Sizes are checked before the CRC (spec §3): patch the size of a valid header to 33 units (2112 > 2048 bytes).
      const m = valid(DMSG.DBG_SHELL);
      m[0x20] = 33;
      l.peer.writeRaw(m);
      expectProtocolError(await l.closed, 'HDR_TOO_LARGE');
    });
    await withLink(kind, async (l) => {
      l.peer.send({ cmd: DMSG.DBG_SHELL }, undefined, new Uint8Array(1000));
      expectProtocolError(await l.closed, 'AUX_TOO_LARGE');
    }, { maxAuxBytes: 512 });
  });

  it('a peer past maxTransactions or maxDepth: LIMIT closes the link', async () => {
    await withLink(kind, async (l) => {
      for (let i = 1; i <= 4; i++) l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: BigInt(i) });
      await l.peer.roundTrip();
      expect(l.io.stats().peerOpened).toBe(4);
      l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 5n });
      expectProtocolError(await l.closed, 'LIMIT');
    }, { maxTransactions: 4 });
    await withLink(kind, async (l) => {
      for (let i = 1; i <= 3; i++) l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: BigInt(i), circuit: BigInt(i - 1) });
      await l.peer.roundTrip();
      expect(l.io.stats().peerOpened).toBe(3);
      l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 4n, circuit: 3n });
      expectProtocolError(await l.closed, 'LIMIT');
    }, { maxDepth: 3 });
  });

  it('local open() past the limits throws TransactionError LIMIT and the link stays up', async () => {
    await withLink(kind, async (l) => {
      const a = l.io.open(DMSG.DBG_SHELL);
      const b = l.io.open(DMSG.DBG_SHELL, { parent: a });
      expect(() => l.io.open(DMSG.DBG_SHELL, { parent: b })).toThrow(expect.objectContaining({ code: 'LIMIT' }));
      l.io.open(DMSG.DBG_SHELL);
      let err: unknown;
      try {
        l.io.open(DMSG.DBG_SHELL);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TransactionError);
      expect((err as TransactionError).code).toBe('LIMIT');
      // The peer's transactions count too.
      await l.peer.roundTrip();
      expect(l.io.isOpen).toBe(true);
      expect(l.io.stats().weOpened).toBe(3);
    }, { maxTransactions: 3, maxDepth: 2 });
  });
});
