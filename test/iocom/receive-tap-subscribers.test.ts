/**
 * The receive tap caches a transaction's sole raw observer while no rx$
 * subscriber anywhere changed (multicast.ts `subscriberEpoch`,
 * ReceiveDispatch.passThrough). Here rx$ subscribers come and go in the
 * middle of a stream: a second subscriber added and removed, one that
 * unsubscribes itself from inside its own next() in the middle of a batch,
 * the raw observer's own subscription ended and a new raw observer
 * subscribed. Run with the tap on (the observer has rawNext) and off (the
 * same observer without it): what every observer receives, the link's
 * counters and its state must be the same, and the tap must have taken
 * exactly the messages that reached a sole raw observer (rx$ in its
 * one-subscriber form). A cache not dropped when B subscribes would hand
 * B's messages to A alone.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import type { Message } from '../../src/wire/message.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { rawLink } from '../helpers/raw-peer.ts';

const CMD = DMSG.DBG_SHELL;
const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');

function aux(n: number): Uint8Array {
  const a = new Uint8Array(16);
  for (let i = 0; i < a.length; i++) a[i] = (n * 13 + i) & 0xff;
  return a;
}

async function scenario(tap: boolean, short = false) {
  const l = await rawLink('memory', { name: 'rx' });
  try {
    const { io, peer } = l;
    const log: string[] = [];
    let raw = 0;
    let tx: Transaction | null = null;
    io.transactions$.subscribe((t) => {
      tx = t;
    });
    /** A raw-capable observer `name` (without rawNext when the tap is off). */
    const observer = (name: string) => {
      const o = {
        rawNext(_c: number, _e: number, a: Uint8Array) {
          raw++;
          log.push(`${name}:${hex(a)}`);
        },
        next(m: Message) {
          log.push(`${name}:${hex(m.aux)}`);
        },
        error: () => log.push(`${name}:error`),
        complete: () => log.push(`${name}:complete`),
      };
      if (!tap) delete (o as Partial<typeof o>).rawNext;
      return o;
    };
    let n = 0;
    const send = async (k: number) => {
      for (let i = 0; i < k; i++) peer.send({ cmd: CMD, msgid: 0x51n }, undefined, aux(n++));
      await peer.roundTrip();
    };
    peer.send({ cmd: CMD | DMSGF.CREATE, msgid: 0x51n }, undefined, aux(n++));
    await peer.roundTrip();
    const t = tx as Transaction | null;
    if (t === null) throw new Error('no transaction');
    // The CREATE reaches the general path before anyone subscribed: not logged.
    const first = t.subscribeRaw(observer('A') as never);
    await send(3); // A alone: tapped
    if (short) {
      // A, the one-subscriber form, leaves: a cache not dropped would still hand it messages.
      first.unsubscribe();
      await send(3);
      const st = io.stats();
      return { log, raw, open: io.isOpen, stats: `${st.messagesIn}/${st.dropped}` };
    }
    const second = t.rx$.subscribe({ next: (m) => log.push(`B:${hex(m.aux)}`) });
    await send(3); // A and B: not tapped, both get them
    second.unsubscribe();
    // A alone again, but rx$ keeps its list form until the next subscribe (multicast.ts): not tapped.
    await send(3);
    let c = 0;
    const self = t.rx$.subscribe({
      next: (m) => {
        log.push(`C:${hex(m.aux)}`);
        if (++c === 2) self.unsubscribe();
      },
    });
    await send(4); // one batch: A and C for two, C leaves inside its next(), then A alone (list form: not tapped)
    first.unsubscribe();
    await send(3); // nobody: not tapped, nothing logged
    t.subscribeRaw(observer('D') as never);
    await send(3); // D alone (list form: not tapped)
    const st = io.stats();
    return { log, raw, open: io.isOpen, stats: `${st.messagesIn}/${st.dropped}` };
  } finally {
    await l.close();
  }
}

describe('receive tap: rx$ subscribers added and removed mid-stream (the cached sole observer)', () => {
  it('tap on = tap off, message for message; the tap takes exactly what a sole raw observer gets', async () => {
    const on = await scenario(true);
    const off = await scenario(false);
    expect(off.raw).toBe(0);
    expect(on.log).toEqual(off.log);
    expect(on.stats).toBe(off.stats);
    expect(on.open).toBe(true);
    expect(off.open).toBe(true);
    // Only the first three: afterwards rx$ is in its list form (see the scenario).
    expect(on.raw).toBe(3);
    expect(on.log.filter((e) => e.startsWith('B:')).length).toBe(3);
    expect(on.log.filter((e) => e.startsWith('C:')).length).toBe(2);
    expect(on.log.filter((e) => e.startsWith('A:')).length).toBe(3 + 3 + 3 + 4);
  });

  it('the sole raw observer unsubscribes: nothing more reaches it, tap on = off', async () => {
    const on = await scenario(true, true);
    const off = await scenario(false, true);
    expect(on.log).toEqual(off.log);
    expect(on.stats).toBe(off.stats);
    expect(on.raw).toBe(3);
    expect(on.log.length).toBe(3);
  });
});
