/**
 * The seam the lockspace's reused encode buffer rests on
 * (`DlmEndpoint.copiesOnSend`): the MidcommsEndpoint (midcomms' tryPost,
 * its backlog and the waits behind it) is done with a message's bytes when
 * `send()` returns, so writing the next message into the same buffer never
 * changes one already sent. Two routers on a memory link, a tiny midcomms
 * window so that most messages go through the backlog; the mesh moves on
 * event-loop turns (bounded), no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MidcommsEndpoint } from '../../../src/services/dlm/index.ts';
import { decodeLockMessage, DLM_VERSION, emptyMessage, MessageScratch, MSG } from '../../../src/services/dlm/message.ts';
import { midcomms, type Midcomms } from '../../../src/services/midcomms/index.ts';
import { createMesh, until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

describe('MidcommsEndpoint copies on send', () => {
  it('declares copiesOnSend, and 300 messages written one after another into one buffer arrive intact and in order (window 8: most wait in the backlog)', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { windowMessages: 8, maxWaiters: 2, rxAckThreshold: 4 }));
    const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
    cleanup.push(() => {
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
    });
    await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 2), 'midcomms on both');
    expect(endpoints[0]!.copiesOnSend).toBe(true);
    const got: { from: number; lkid: number; name: string }[] = [];
    endpoints[1]!.setReceiver((from, bytes) => {
      const m = decodeLockMessage(bytes, 32);
      got.push({ from, lkid: m.lkid, name: new TextDecoder().decode(m.extra) });
    });
    const scratch = new MessageScratch();
    const h = { version: DLM_VERSION, lockspace: 0x1234, nodeid: endpoints[0]!.nodeid };
    let last: Uint8Array | null = null;
    for (let i = 1; i <= 300; i++) {
      const m = emptyMessage(MSG.REQUEST);
      m.lkid = i;
      m.rqmode = 5;
      m.extra = new TextEncoder().encode(`name-${i}`);
      const bytes = scratch.encode(h, m);
      // The same memory every time (per length): the seam under test.
      if (last !== null && last.length === bytes.length) expect(bytes).toBe(last);
      last = bytes;
      endpoints[0]!.send(endpoints[1]!.nodeid, bytes);
      bytes.fill(0xee); // scribble over what was just sent
    }
    await until(() => got.length === 300, 'all 300 delivered', 200_000);
    expect(got.map((g) => g.lkid)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(got.every((g) => g.from === endpoints[0]!.nodeid && g.name === `name-${g.lkid}`)).toBe(true);
    expect(endpoints[0]!.sendErrors + endpoints[0]!.backlogDrops).toBe(0);
  });
});
