/**
 * The three-node LVB recovery setup shared by the lvb-* recovery tests:
 * nodes 1-3 on a DlmSim with an 8-byte LVB, resource `d0r` pinned to node 1
 * (which masters it: it locks it NL first), plus u32 LVB helpers.
 */
import { DlmSim, type DlmLock, type DlmLockspace } from '../../../../src/services/dlm/index.ts';
import { pinHash } from '../cluster.ts';

export const u32 = (b: Uint8Array | null): number => new DataView(b!.buffer, b!.byteOffset).getUint32(0, true);

export const withU32 = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

export interface LvbTrio {
  sim: DlmSim;
  l1: DlmLockspace;
  l2: DlmLockspace;
  l3: DlmLockspace;
  /** Lets the simulator deliver everything (no timers). */
  settle(): Promise<void>;
  /** Node 1's NL lock that made it master of `d0r`. */
  m: DlmLock;
}

export async function lvbTrio(lockspace: string): Promise<LvbTrio> {
  const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
  const spaces = await Promise.all([1, 2, 3].map((id) => sim.node(id).join(lockspace, { lvblen: 8, members: [1, 2, 3] })));
  const [l1, l2, l3] = spaces as [DlmLockspace, DlmLockspace, DlmLockspace];
  const settle = (): Promise<void> => sim.settle({ timers: false });
  const first = l1.lock('d0r', 'NL');
  await settle();
  return { sim, l1, l2, l3, settle, m: await first };
}

/** Lets the simulator deliver everything, then takes the result. */
export async function done<T>(sim: DlmSim, p: Promise<T>): Promise<T> {
  await sim.settle({ timers: false });
  return p;
}
