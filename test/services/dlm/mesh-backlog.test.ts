/**
 * The MidcommsEndpoint's per-peer backlog: a burst of DLM messages to one
 * peer larger than midcomms' send window plus its waiter limit is held in
 * order and drained, not lost (a lost message is a lock that waits for
 * ever); the backlog is bounded, overflow counted. Two routers on a memory
 * link, a tiny midcomms window; the mesh moves on event-loop turns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dlm, LKM, MidcommsEndpoint, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { midcomms, type Midcomms } from '../../../src/services/midcomms/index.ts';
import { createMesh, until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

/** Two routers; the lockspace's directory is router 1's node (router 0 asks it for every name). */
async function pair(maxBacklog?: number): Promise<{ ls: [Lockspace, Lockspace]; endpoints: MidcommsEndpoint[] }> {
  mesh = createMesh(2, [[0, 1]]);
  const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { windowMessages: 8, maxWaiters: 2, rxAckThreshold: 4 }));
  const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!, maxBacklog === undefined ? {} : { maxBacklog }));
  await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 2), 'midcomms on both');
  const ids = endpoints.map((e) => e.nodeid);
  const members = [...ids].sort((a, b) => a - b);
  const dirHash = (members.indexOf(ids[1]!) << 16) >>> 0;
  const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, hash: () => dirHash }));
  cleanup.push(() => {
    for (const d of dlms) d.close();
    for (const e of endpoints) e.close();
    for (const m of mcs) m.destroy();
  });
  const ls = dlms.map((d) => d.newLockspace('burst', { members })) as [Lockspace, Lockspace];
  return { ls, endpoints };
}

describe('MidcommsEndpoint backlog', () => {
  it('a burst of 300 remote locks (window 8, 2 waiters) is held in order and every lock is granted, nothing dropped', async () => {
    const { ls, endpoints } = await pair();
    let granted = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) {
      const lksb = newLksb(0);
      expect(ls[0].lock(LKM.EX, lksb, 0, `r${i}`, () => {
        statuses.push(lksb.status);
        granted++;
      })).toBe(0);
    }
    await until(() => granted === 300, 'every lock granted', 200_000);
    expect(statuses.every((s) => s === 0)).toBe(true);
    expect(endpoints.map((e) => [e.sendErrors, e.backlogDrops])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // 300 LOOKUPs reached the directory in order and were answered (the asker then masters each).
    expect(ls[1].stats.received).toBe(300);
    expect(ls[0].stats.received).toBe(300);
    expect(ls[0].pendingOperations).toBe(0);
  });

  it('the backlog is bounded: past maxBacklog messages are dropped and counted, never queued without limit', async () => {
    const { ls, endpoints } = await pair(5);
    expect(endpoints[0]!.maxBacklog).toBe(5);
    let done = 0;
    for (let i = 0; i < 100; i++) ls[0].lock(LKM.EX, newLksb(0), 0, `r${i}`, () => done++);
    // 8 in the window, 5 held (the first of them waits in midcomms' line): 87 dropped at once.
    expect(endpoints[0]!.backlogDrops).toBe(87);
    expect(endpoints[0]!.sendErrors).toBe(87);
    await until(() => done === 13, 'the 13 sent locks granted', 200_000);
    expect(() => new MidcommsEndpoint(mesh!.routers[0]!, midcomms(mesh!.routers[0]!), { maxBacklog: -1 })).toThrow(/maxBacklog/);
  });

  it('a receiver that throws is counted (receiverErrors), never thrown on; later messages still arrive', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r));
    const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
    cleanup.push(() => {
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
    });
    await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 2), 'midcomms on both');
    const got: number[] = [];
    endpoints[1]!.setReceiver((from, bytes) => {
      got.push(bytes[16]!);
      if (bytes[16] === 1) throw new Error('receiver bug');
      expect(from).toBe(endpoints[0]!.nodeid);
    });
    // Minimal MSG-shaped messages (88 bytes, h_length set, h_cmd MSG): midcomms checks only the header.
    const message = (tag: number): Uint8Array => {
      const m = new Uint8Array(88);
      m[12] = 88;
      m[14] = 1;
      m[16] = tag;
      return m;
    };
    for (let i = 0; i < 3; i++) endpoints[0]!.send(endpoints[1]!.nodeid, message(i));
    await until(() => got.length === 3, 'three messages');
    expect(got).toEqual([0, 1, 2]);
    expect(endpoints[1]!.receiverErrors).toBe(1);
    expect(endpoints[0]!.sendErrors).toBe(0);
  });
});

