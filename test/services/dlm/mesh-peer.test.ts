/**
 * `MidcommsEndpoint.send` remembers the peer it found last (no map probe
 * when a lock's messages keep going to one master): sends that alternate
 * between two peers, and one to an unknown node id in between, still reach
 * exactly their own peer, in order. Three routers on memory links (node 0
 * linked to 1 and 2); the mesh moves on event-loop turns (bounded), no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MidcommsEndpoint } from '../../../src/services/dlm/index.ts';
import { decodeLockMessage, DLM_VERSION, emptyMessage, encodeMessage, MSG } from '../../../src/services/dlm/message.ts';
import { midcomms, type Midcomms } from '../../../src/services/midcomms/index.ts';
import { createMesh, until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

describe('MidcommsEndpoint remembers the last peer', () => {
  it('alternating sends to two peers (and an unknown id between them) each reach their own peer, in order', async () => {
    mesh = createMesh(3, [
      [0, 1],
      [0, 2],
    ]);
    const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r));
    const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
    cleanup.push(() => {
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
    });
    await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 3), 'midcomms on all three');
    const got: number[][] = [[], [], []];
    endpoints.forEach((e, k) => e.setReceiver((from, bytes) => void got[k]!.push(from === endpoints[0]!.nodeid ? decodeLockMessage(bytes, 0).lkid : -1)));
    const h = { version: DLM_VERSION, lockspace: 0x1234, nodeid: endpoints[0]!.nodeid };
    const to = [endpoints[1]!.nodeid, endpoints[2]!.nodeid];
    const sent: number[][] = [[], [], []];
    // Runs of one peer, then the other, with an unknown node id now and then.
    const pattern = [0, 0, 1, 0, 1, 1, 1, 0, 9, 0, 1, 9, 1];
    let lkid = 0;
    for (let round = 0; round < 10; round++) {
      for (const p of pattern) {
        const m = emptyMessage(MSG.REQUEST_REPLY);
        m.lkid = ++lkid;
        endpoints[0]!.send(p === 9 ? 0x7fff_0001 : to[p]!, encodeMessage(h, m));
        if (p !== 9) sent[p + 1]!.push(lkid);
      }
    }
    await until(() => got[1]!.length === sent[1]!.length && got[2]!.length === sent[2]!.length, 'all delivered', 200_000);
    expect(got[1]).toEqual(sent[1]);
    expect(got[2]).toEqual(sent[2]);
    expect(got[0]).toEqual([]);
    expect(endpoints[0]!.unknownPeer).toBe(20);
    expect(endpoints[0]!.sendErrors).toBe(0);
  });
});
