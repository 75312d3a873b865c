/**
 * Locks parked behind a lookup whose directory node dies: recovery re-drives
 * the first lock, this node is now the directory and so the master, and the
 * parked locks must follow. Found by the fault test (seed 1053): set_master's
 * "the directory is us" branch cleared the first-lock mark, so the
 * confirm_master that followed released nothing and the parked request never
 * completed.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { directoryNode } from '../../../../src/services/dlm/hash.ts';
import { pinHash } from '../cluster.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, CR } = LKM;

describe('parked locks when the re-driven lookup finds this node the master', () => {
  it('the directory node dies during the lookup: both requests complete once', async () => {
    const c = recoveryCluster(3);
    const enc = new TextEncoder();
    // A name whose directory is node 2 with members [1,2,3] and node 1 with [1,3].
    const names = Array.from({ length: 10 }, (_, i) => `d${i}p`);
    const name = names.find((n) => directoryNode(pinHash(enc.encode(n)) >>> 0, [1, 2, 3]) === 2 && directoryNode(pinHash(enc.encode(n)) >>> 0, [1, 3]) === 1)!;
    expect(name).toBeDefined();
    const a = c.holder(1, 'A');
    const b = c.holder(1, 'B');
    c.sim.hold(1, 2); // the LOOKUP to node 2 never arrives
    c.lock(a, NL, name);
    c.lock(b, CR, name); // parked behind A's lookup
    expect(await c.settle()).toEqual([]);
    c.kill(2);
    const out = [...(await c.recover()), ...(await c.settle())].sort();
    const ls1 = c.ls.get(1)!;
    if (ls1.dirNodeOfName(enc.encode(name)) !== 1) return expect.fail(`${name}: directory after the death is not node 1`);
    expect(out).toEqual(['A ast 0', 'B ast 0']);
    expect(ls1.pendingOperations).toBe(0);
  });
});
