/**
 * Multi-node lockspaces on the deterministic simulation: mastering and the
 * directory (§3.1-§3.5), remote operations (§2.10), overlapping operations
 * (§2.9), cancels racing grants (§2.8), stale masters, remote LVBs.
 * Resources named 'dN...' have their directory on members[N] (pinHash).
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM } from '../../../src/services/dlm/index.ts';
import { cluster } from './cluster.ts';

const { NL, CR, PR, PW, EX } = LKM;
const txt = (s: string, len = 32): Uint8Array => {
  const b = new Uint8Array(len);
  b.set(new TextEncoder().encode(s));
  return b;
};
const str = (b: Uint8Array | null): string => new TextDecoder().decode(b!).replace(/\0+$/, '');

describe('mastering and the directory (§3.1-§3.4)', () => {
  it('the first requester becomes master through the directory; later requesters are sent to it', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    expect(c.lock(a, EX, 'd1res')).toBe(0); // directory: node 2
    expect(c.run()).toEqual(['A ast 0']);
    expect(c.sent()).toEqual(['1>2 LOOKUP', '2>1 LOOKUP_REPLY(0) master=1']);
    c.lock(b, PR, 'd1res');
    expect(c.run()).toEqual(['A bast PR']);
    expect(c.sent()).toEqual(['3>2 LOOKUP', '2>3 LOOKUP_REPLY(0) master=1', '3>1 REQUEST', '1>3 REQUEST_REPLY(EINPROGRESS)']);
    c.unlock(a);
    expect(c.run()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    expect(c.sent()).toEqual(['1>3 GRANT(0)']);
    expect(c.ls.get(1)!.dump()[0]).toMatchObject({ name: 'd1res', master: 1, dir: 2, grant: [{ role: 'master', nodeid: 3, grmode: PR }] });
    expect(c.ls.get(3)!.dump()[0]).toMatchObject({ master: 1, grant: [{ role: 'process', nodeid: 1, grmode: PR }] });
  });

  it('the directory node that masters the resource takes a LOOKUP as a REQUEST', () => {
    const c = cluster(3);
    const a = c.holder(2, 'A');
    const b = c.holder(1, 'B');
    c.lock(a, PR, 'd1x');
    c.run();
    expect(c.sent()).toEqual([]);
    c.lock(b, PR, 'd1x');
    expect(c.run()).toEqual(['B ast 0']);
    expect(c.sent()).toEqual(['1>2 LOOKUP', '2>1 REQUEST_REPLY(0)']);
    // Now known: the next request goes straight to the master.
    const b2 = c.holder(1, 'B2');
    c.lock(b2, CR, 'd1x');
    expect(c.run()).toEqual(['B2 ast 0']);
    expect(c.sent()).toEqual(['1>2 REQUEST', '2>1 REQUEST_REPLY(0)']);
  });

  it('one lookup in flight per resource: later requests park until the master is known', () => {
    const c = cluster(3);
    const hs = [c.holder(3, 'A'), c.holder(3, 'B'), c.holder(3, 'C')];
    const m = c.holder(1, 'M');
    c.lock(m, NL, 'd1q');
    c.run();
    c.sent();
    for (const h of hs) c.lock(h, PR, 'd1q');
    expect(c.sent()).toEqual(['3>2 LOOKUP']);
    expect(c.run()).toEqual(['A ast 0', 'B ast 0', 'C ast 0']);
    expect(c.sent()).toEqual(['2>3 LOOKUP_REPLY(0) master=1', '3>1 REQUEST', '1>3 REQUEST_REPLY(0)', '3>1 REQUEST', '3>1 REQUEST', '1>3 REQUEST_REPLY(0)', '1>3 REQUEST_REPLY(0)']);
  });

  it('unused resources retire after tossMs: the master sends REMOVE to the directory', async () => {
    const c = cluster(3, { tossMs: 1000 });
    const a = c.holder(1, 'A');
    c.lock(a, EX, 'd2r'); // directory: node 3
    c.run();
    c.unlock(a);
    c.run();
    c.sent();
    await c.sim.settle();
    expect(c.sent()).toEqual(['1>3 REMOVE']);
    for (const id of c.ids) expect(c.ls.get(id)!.dump()).toEqual([]);
  });

  it('a stale cached master is corrected transparently (EBADR, then a new lookup)', async () => {
    // Node 3 keeps its cache far longer than the master keeps the resource.
    const c = cluster(3, { tossMs: { 1: 1000, 2: 1000, 3: 60_000 } });
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, PR, 'd1s');
    c.lock(b, PR, 'd1s');
    c.run();
    c.unlock(b);
    c.unlock(a);
    c.run();
    c.sent();
    c.sim.clock.advance(1000); // the master retires its resource and tells the directory
    c.run();
    expect(c.sent()).toEqual(['1>2 REMOVE']);
    const b2 = c.holder(3, 'B2');
    c.lock(b2, EX, 'd1s');
    expect(c.run()).toEqual(['B2 ast 0']);
    expect(c.sent()).toEqual(['3>1 REQUEST', '1>3 REQUEST_REPLY(EBADR)', '3>2 LOOKUP', '2>3 LOOKUP_REPLY(0) master=3']);
    expect(c.ls.get(3)!.dump()[0]).toMatchObject({ master: 3, grant: [{ role: 'local', grmode: EX }] });
  });

  it('a cached master still valid is used directly (uncertain request, no lookup)', () => {
    const c = cluster(3, { tossMs: 10_000 });
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, NL, 'd1u');
    c.lock(b, PR, 'd1u');
    c.run();
    c.unlock(b);
    c.run();
    c.sent();
    const b2 = c.holder(3, 'B2');
    c.lock(b2, PR, 'd1u');
    expect(c.run()).toEqual(['B2 ast 0']);
    expect(c.sent()).toEqual(['3>1 REQUEST', '1>3 REQUEST_REPLY(0)']);
  });
});

describe('remote operations (§2.10)', () => {
  it('up-conversions wait for CONVERT_REPLY; down-conversions complete at once, with no reply', () => {
    const c = cluster(3);
    const m = c.holder(1, 'M');
    const b = c.holder(3, 'B');
    c.lock(m, NL, 'd1c');
    c.lock(b, NL, 'd1c');
    c.run();
    c.sent();
    c.convert(b, EX);
    expect(c.log).toEqual([]);
    expect(c.run()).toEqual(['B ast 0']);
    expect(c.sent()).toEqual(['3>1 CONVERT', '1>3 CONVERT_REPLY(0)']);
    c.convert(b, CR);
    expect(c.sim.scheduler.pending).toBeGreaterThan(0);
    expect(c.run()).toEqual(['B ast 0']);
    expect(c.sent()).toEqual(['3>1 CONVERT']);
    expect(c.ls.get(1)!.dump()[0]!.grant.find((l) => l.nodeid === 3)!.grmode).toBe(CR);
  });

  it('remote BASTs follow the rules (one per increasing mode) and come after the grant', () => {
    const c = cluster(3);
    const a = c.holder(3, 'A');
    const w1 = c.holder(1, 'W1');
    const w2 = c.holder(2, 'W2');
    c.lock(a, EX, 'd0b'); // dir node 1 -> the first requester, node 3, masters it
    c.run();
    c.lock(w1, PR, 'd0b');
    c.lock(w2, PR, 'd0b');
    expect(c.run()).toEqual(['A bast PR']);
    c.unlock(a);
    expect(c.run()).toEqual(['A ast EUNLOCK', 'W1 ast 0', 'W2 ast 0']);
  });

  it('remote deadlock: EDEADLK for the later converter, lock kept', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(a, PR, 'd2d');
    c.lock(b, PR, 'd2d');
    c.run();
    c.convert(a, EX);
    expect(c.run()).toEqual(['B bast EX']);
    c.convert(b, EX);
    expect(c.run()).toEqual(['B ast EDEADLK']);
    expect(c.convert(b, NL)).toBe(0);
    expect(c.run()).toEqual(['B ast 0', 'A ast 0']);
  });

  it('LVBs travel with CONVERT/UNLOCK and come back in replies and GRANTs', () => {
    const c = cluster(3);
    const keep = c.holder(2, 'K');
    const w = c.holder(1, 'W');
    const r = c.holder(3, 'R');
    c.lock(keep, NL, 'd1l', LKF.VALBLK); // node 2 (the directory) masters it
    c.lock(w, EX, 'd1l', LKF.VALBLK);
    c.run();
    w.lksb.lvb!.set(txt('from node 1'));
    c.lock(r, PR, 'd1l', LKF.VALBLK);
    expect(c.run()).toEqual(['W bast PR']);
    c.unlock(w);
    expect(c.run()).toEqual(['W ast EUNLOCK', 'R ast 0']);
    expect(str(r.lksb.lvb)).toBe('from node 1');
  });

  it('a remote reader of a discarded LVB gets zeros', () => {
    const c = cluster(3);
    const w = c.holder(2, 'W');
    const r = c.holder(1, 'R');
    c.lock(w, EX, 'd1z', LKF.VALBLK);
    c.run();
    w.lksb.lvb!.set(txt('lost'));
    c.unlock(w);
    c.run();
    r.lksb.lvb!.set(txt('garbage'));
    c.lock(r, PR, 'd1z', LKF.VALBLK);
    expect(c.run()).toEqual(['R ast 0']);
    expect(r.lksb.flags).toBe(0);
    expect([...r.lksb.lvb!].every((x) => x === 0)).toBe(true);
  });
});

describe('overlapping operations and races (§2.8, §2.9)', () => {
  function blocked() {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    const k = c.holder(3, 'K');
    c.lock(a, EX, 'd1o'); // node 1 masters
    c.lock(k, NL, 'd1o'); // node 3 now knows the master: its requests go straight there
    c.run();
    c.sent();
    return { c, a, b };
  }

  it('cancel losing the race against a grant: one completion (0), and the next operation is not EBUSY', () => {
    const { c, a, b } = blocked();
    c.lock(b, EX, 'd1o');
    expect(c.run()).toEqual(['A bast EX']);
    c.sim.hold(3, 1);
    expect(c.unlock(b, LKF.CANCEL)).toBe(0); // CANCEL held on its way
    c.unlock(a);
    expect(c.run()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    c.sim.release(3, 1);
    expect(c.run()).toEqual([]);
    expect(c.sent()).toContain('1>3 CANCEL_REPLY(0)');
    expect(c.convert(b, PR)).toBe(0);
    expect(c.run()).toEqual(['B ast 0']);
  });

  it('cancel of a remote queued request: ECANCEL, lock gone', () => {
    const { c, b } = blocked();
    c.lock(b, EX, 'd1o');
    c.run();
    expect(c.unlock(b, LKF.CANCEL)).toBe(0);
    expect(c.run()).toEqual(['B ast ECANCEL']);
    expect(c.unlock(b)).toBe(DLM_ERRNO.ENOENT);
  });

  it('a plain unlock while the request is in flight is EBUSY', () => {
    const { c, b } = blocked();
    c.lock(b, NL, 'd1o');
    expect(c.unlock(b)).toBe(DLM_ERRNO.EBUSY);
    expect(c.convert(b, PR)).toBe(DLM_ERRNO.EBUSY);
    expect(c.run()).toEqual(['B ast 0']);
  });

  it('FORCEUNLOCK during a request that is then granted: AST 0, then EUNLOCK', () => {
    const { c, b } = blocked();
    c.lock(b, NL, 'd1o');
    expect(c.unlock(b, LKF.FORCEUNLOCK)).toBe(0);
    expect(c.unlock(b, LKF.FORCEUNLOCK)).toBe(DLM_ERRNO.EINVAL);
    expect(c.run()).toEqual(['B ast 0', 'B ast EUNLOCK']);
  });

  it('FORCEUNLOCK during a request that is queued: a single EUNLOCK', () => {
    const { c, b } = blocked();
    c.lock(b, PR, 'd1o');
    expect(c.unlock(b, LKF.FORCEUNLOCK)).toBe(0);
    expect(c.run()).toEqual(['A bast PR', 'B ast EUNLOCK']);
  });

  it('CANCEL during a request that is queued: a single ECANCEL', () => {
    const { c, b } = blocked();
    c.lock(b, PR, 'd1o');
    expect(c.unlock(b, LKF.CANCEL)).toBe(0);
    expect(c.unlock(b, LKF.CANCEL)).toBe(DLM_ERRNO.EINVAL);
    expect(c.run()).toEqual(['A bast PR', 'B ast ECANCEL']);
  });

  it('CANCEL during a NOQUEUE request that fails: the overlap is dropped, one EAGAIN', () => {
    const { c, b } = blocked();
    c.lock(b, PR, 'd1o', LKF.NOQUEUE);
    expect(c.unlock(b, LKF.CANCEL)).toBe(0);
    expect(c.run()).toEqual(['B ast EAGAIN']);
  });

  it('CANCEL during the lookup: a single ECANCEL, no REQUEST sent', () => {
    const c = cluster(3);
    const m = c.holder(1, 'M');
    c.lock(m, EX, 'd1k');
    c.run();
    c.sent();
    const b = c.holder(3, 'B');
    c.lock(b, PR, 'd1k');
    expect(c.unlock(b, LKF.CANCEL)).toBe(0);
    expect(c.run()).toEqual(['B ast ECANCEL']);
    expect(c.sent()).toEqual(['3>2 LOOKUP', '2>3 LOOKUP_REPLY(0) master=1']);
  });

  it('cancel of a lock parked behind another lock\'s lookup completes at once', () => {
    const c = cluster(3);
    const [x, y] = [c.holder(3, 'X'), c.holder(3, 'Y')];
    c.lock(x, PR, 'd1p');
    c.lock(y, PR, 'd1p');
    expect(c.unlock(y, LKF.CANCEL)).toBe(0);
    expect(c.run()).toEqual(['Y ast ECANCEL', 'X ast 0']);
  });

  it('with a conversion in flight, CANCEL is sent at once; a queued conversion is cancelled', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, PR, 'd1v');
    c.lock(b, PR, 'd1v');
    c.run();
    c.sent();
    c.convert(b, EX);
    expect(c.unlock(b, LKF.CANCEL)).toBe(0);
    expect(c.sent()).toEqual(['3>1 CONVERT', '3>1 CANCEL']);
    expect(c.run()).toEqual(['A bast EX', 'B ast ECANCEL']);
    expect(c.ls.get(3)!.dump()[0]!.grant.map((l) => l.grmode)).toContain(PR);
  });

  it('with a conversion in flight, FORCEUNLOCK is sent at once; both complete', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, NL, 'd1w');
    c.lock(b, PR, 'd1w');
    c.run();
    c.convert(b, EX);
    expect(c.unlock(b, LKF.FORCEUNLOCK)).toBe(0);
    expect(c.run()).toEqual(['B ast 0', 'B ast EUNLOCK']);
    expect(c.unlock(b)).toBe(DLM_ERRNO.ENOENT);
  });

  it('reordered messages between two nodes are refused or ignored, never a crash', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, NL, 'd1y');
    c.lock(b, PR, 'd1y');
    c.run();
    c.sim.hold(3, 1);
    c.convert(b, CR); // down: completes at once
    expect(c.run()).toEqual(['B ast 0']);
    c.unlock(b);
    expect(c.sim.heldCount(3, 1)).toBe(2);
    c.sim.release(3, 1, [1, 0]); // UNLOCK before CONVERT
    expect(c.run()).toEqual(['B ast EUNLOCK']);
    expect(c.ls.get(1)!.stats.refused.UNKNOWN_LOCK).toBe(1);
  });
});

describe('a 7-node lockspace', () => {
  it('every node takes EX in turn on one resource; everyone sees each grant exactly once', async () => {
    const c = cluster(7);
    const hs = c.ids.map((id) => c.holder(id, `N${id}`));
    for (const h of hs) c.lock(h, EX, 'd4shared');
    await c.sim.settle({ timers: false });
    const grants: string[] = [];
    for (let i = 0; i < hs.length; i++) {
      const lines = c.log.splice(0);
      const granted = lines.filter((l) => l.endsWith('ast 0'));
      expect(granted).toHaveLength(1);
      grants.push(granted[0]!);
      const who = hs.find((h) => granted[0]!.startsWith(h.tag + ' '))!;
      c.unlock(who);
      await c.sim.settle({ timers: false });
      expect(c.log.shift()).toBe(`${who.tag} ast EUNLOCK`);
    }
    expect(new Set(grants).size).toBe(7);
    void PW;
  });
});
