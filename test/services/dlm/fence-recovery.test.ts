/**
 * Fencing tokens across recovery (docs/dlm.md "Fencing tokens"): the
 * generation in a token's high part rises at every recovery, so a resource
 * remastered after its master died continues above every token it had, and
 * the dead holder's token is stale for the storage. Runs once recovery has
 * landed (`Lockspace.prototype.setGate` exists, as the fault tests check);
 * before that a membership change with locks in use is refused (EOPNOTSUPP).
 */
import { describe, expect, it } from 'vitest';
import { FENCE_GENERATION_UNIT, LKM } from '../../../src/services/dlm/index.ts';
import { Lockspace } from '../../../src/services/dlm/lockspace.ts';
import { cluster } from './cluster.ts';

const RECOVERY_LANDED = typeof (Lockspace.prototype as unknown as { setGate?: unknown }).setGate === 'function';

/** A 3-node cluster where `kill(id)` silences a node and `recover()` stops then starts the survivors (stop on all before start on any). */
function withRecovery() {
  const c = cluster(3);
  const dead = new Set<number>();
  const live = (): number[] => c.ids.filter((id) => !dead.has(id));
  return {
    ...c,
    kill(id: number): void {
      dead.add(id);
      c.ls.get(id)!.stop();
      for (const other of c.ids) if (other !== id) c.sim.hold(id, other);
    },
    async recover(): Promise<string[]> {
      for (const id of live()) c.ls.get(id)!.stop();
      for (const id of live()) c.ls.get(id)!.start(live());
      await c.sim.settle();
      return c.log.splice(0);
    },
    async settle(): Promise<string[]> {
      await c.sim.settle();
      return c.log.splice(0);
    },
  };
}

describe.skipIf(!RECOVERY_LANDED)('fencing tokens across recovery', () => {
  it("the master holding EX dies: the waiter granted by recovery gets a token of the new generation, above the dead holder's", async () => {
    const c = withRecovery();
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(m, LKM.EX, 'd1x'); // node 3 asks the directory (node 2) first: master 3
    await c.settle();
    const tm = m.lksb.fence!;
    expect(tm).toBeGreaterThan(0);
    c.lock(a, LKM.EX, 'd1x');
    expect(await c.settle()).toEqual(['M bast EX']);
    const gen = c.ls.get(1)!.generation;
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast 0']);
    const ta = a.lksb.fence!;
    expect(c.ls.get(1)!.generation).toBeGreaterThan(gen);
    expect(ta).toBeGreaterThan(tm);
    expect(Math.floor(ta / FENCE_GENERATION_UNIT)).toBe(c.ls.get(1)!.generation);
    c.lock(b, LKM.PW, 'd1x');
    await c.settle();
    c.unlock(a);
    expect(await c.settle()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    expect(b.lksb.fence!).toBeGreaterThan(ta);
  });

  it('a surviving master keeps its mark: tokens after a recovery that removed another node still rise', async () => {
    const c = withRecovery();
    const a = c.holder(1, 'A');
    const x = c.holder(3, 'X');
    c.lock(a, LKM.EX, 'd0s'); // directory node 1 masters it
    await c.settle();
    const t1 = a.lksb.fence!;
    c.lock(x, LKM.NL, 'd0s');
    await c.settle();
    c.unlock(a);
    await c.settle();
    c.kill(3);
    await c.recover();
    const b = c.holder(2, 'B');
    c.lock(b, LKM.EX, 'd0s');
    await c.settle();
    expect(b.lksb.fence!).toBeGreaterThan(t1);
  });
});
