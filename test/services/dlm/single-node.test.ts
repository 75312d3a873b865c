/**
 * Single-node behaviours, one test per rule of the spec, asserting the exact
 * callbacks (in delivery order) and statuses. Scenarios written from the spec.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM } from '../../../src/services/dlm/index.ts';
import { singleNode } from './harness.ts';

const { NL, CR, CW, PR, PW, EX } = LKM;
const txt = (s: string, len = 32): Uint8Array => {
  const b = new Uint8Array(len);
  b.set(new TextEncoder().encode(s));
  return b;
};
const str = (b: Uint8Array | null): string => new TextDecoder().decode(b!).replace(/\0+$/, '');

describe('requests and grants (§2.2, §2.4, §2.7)', () => {
  it('a compatible request is granted; the AST never runs inside lock()', () => {
    const t = singleNode();
    const a = t.holder('A');
    expect(t.lock(a, EX)).toBe(0);
    expect(a.lksb.lkid).not.toBe(0);
    expect(t.log).toEqual([]);
    expect(t.run()).toEqual(['A ast 0']);
    expect(a.lksb.status).toBe(0);
  });

  it('an incompatible request queues, BASTs the holder, and is granted by the pass after unlock', () => {
    const t = singleNode();
    const a = t.holder('A');
    const b = t.holder('B');
    t.lock(a, EX);
    t.run();
    expect(t.lock(b, PR)).toBe(0);
    t.name(a), t.name(b);
    expect(t.queues()).toBe('G[A:EX] C[] W[B:IV>PR]');
    expect(t.run()).toEqual(['A bast PR']);
    expect(t.unlock(a)).toBe(0);
    expect(t.log).toEqual([]);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    expect(t.unlock(a)).toBe(DLM_ERRNO.ENOENT);
  });

  it('NOQUEUE fails with EAGAIN, sends no BAST, and the lock is gone', () => {
    const t = singleNode();
    const a = t.holder('A');
    const b = t.holder('B');
    t.lock(a, EX);
    t.run();
    expect(t.lock(b, PR, LKF.NOQUEUE)).toBe(0);
    expect(t.run()).toEqual(['B ast EAGAIN']);
    expect(t.unlock(b)).toBe(DLM_ERRNO.ENOENT);
  });

  it('NOQUEUEBAST: BASTs the blockers before failing', () => {
    const t = singleNode();
    const a = t.holder('A');
    const c = t.holder('C');
    t.lock(a, EX);
    t.run();
    t.lock(c, PR, LKF.NOQUEUE | LKF.NOQUEUEBAST);
    expect(t.run()).toEqual(['C ast EAGAIN', 'A bast PR']);
  });

  it('a NOQUEUE conversion fails with EAGAIN and keeps the old mode', () => {
    const t = singleNode();
    const a = t.holder('A');
    const b = t.holder('B');
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    t.name(a), t.name(b);
    expect(t.convert(a, EX, LKF.NOQUEUE)).toBe(0);
    expect(t.run()).toEqual(['A ast EAGAIN']);
    expect(t.queues()).toBe('G[B:PR A:PR] C[] W[]');
  });

  it('new requests are FIFO: a compatible request waits behind a queued one', () => {
    const t = singleNode();
    const [a, w, n] = [t.holder('A'), t.holder('W'), t.holder('N')];
    t.lock(a, PR);
    t.lock(w, EX);
    t.lock(n, NL);
    [a, w, n].forEach(t.name);
    expect(t.queues()).toBe('G[A:PR] C[] W[W:IV>EX N:IV>NL]');
    expect(t.run()).toEqual(['A ast 0', 'A bast EX']);
    t.unlock(a);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'W ast 0', 'N ast 0']);
  });

  it('EXPEDITE grants a new NL request at once, ignoring the queues', () => {
    const t = singleNode();
    const [a, w, e] = [t.holder('A'), t.holder('W'), t.holder('E')];
    t.lock(a, EX);
    t.lock(w, PR);
    t.lock(e, NL, LKF.EXPEDITE);
    expect(t.run()).toEqual(['A ast 0', 'A bast PR', 'E ast 0']);
  });

  it('NOORDER grants when compatible with the holders, ahead of the queue', () => {
    const t = singleNode();
    const [a, w, n, p] = [t.holder('A'), t.holder('W'), t.holder('N'), t.holder('P')];
    t.lock(a, PR);
    t.lock(w, EX);
    t.lock(n, PR, LKF.NOORDER);
    t.lock(p, PR);
    [a, w, n, p].forEach(t.name);
    expect(t.run()).toEqual(['A ast 0', 'A bast EX', 'N ast 0']);
    expect(t.queues()).toBe('G[N:PR A:PR] C[] W[W:IV>EX P:IV>PR]');
  });

  it('HEADQUE puts a new request at the head of the wait queue', () => {
    const t = singleNode();
    const [a, w1, w2] = [t.holder('A'), t.holder('W1'), t.holder('W2')];
    t.lock(a, EX);
    t.lock(w1, PR);
    t.lock(w2, CR, LKF.HEADQUE);
    [a, w1, w2].forEach(t.name);
    expect(t.queues()).toBe('G[A:EX] C[] W[W2:IV>CR W1:IV>PR]');
    t.run();
    t.unlock(a);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'W2 ast 0', 'W1 ast 0']);
  });

  it('ALTPR grants PR with SBF_ALTMODE when the requested mode is blocked', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, PR);
    t.lock(b, EX, LKF.ALTPR);
    [a, b].forEach(t.name);
    expect(t.run()).toEqual(['A ast 0', 'B ast 0 sb=4']);
    expect(t.queues()).toBe('G[B:PR A:PR] C[] W[]');
  });

  it('grant before BAST: a lock granted in a pass gets its AST before the BAST that pass causes', () => {
    const t = singleNode();
    const [x, a, b] = [t.holder('X'), t.holder('A'), t.holder('B')];
    t.lock(x, EX);
    t.lock(a, EX);
    t.lock(b, EX);
    expect(t.run()).toEqual(['X ast 0', 'X bast EX']);
    t.unlock(x);
    expect(t.run()).toEqual(['X ast EUNLOCK', 'A ast 0', 'A bast EX']);
  });
});

describe('conversions (§1.5, §2.2 rule 5-8, §2.4)', () => {
  it('a conversion is granted in place ahead of queued new requests', () => {
    const t = singleNode();
    const [a, b, w] = [t.holder('A'), t.holder('B'), t.holder('W')];
    t.lock(a, PR);
    t.lock(b, NL);
    t.lock(w, EX);
    expect(t.run()).toEqual(['A ast 0', 'B ast 0', 'A bast EX']);
    expect(t.convert(b, CR)).toBe(0);
    // The grant pass after the conversion finds W still blocked: rule B BASTs B's new CR.
    expect(t.run()).toEqual(['B ast 0', 'B bast EX']);
  });

  it('queued conversions are granted before queued new requests', () => {
    const t = singleNode();
    const [a, b, w] = [t.holder('A'), t.holder('B'), t.holder('W')];
    t.lock(a, EX);
    t.lock(b, NL);
    t.lock(w, EX);
    expect(t.run()).toEqual(['A ast 0', 'B ast 0', 'A bast EX']);
    t.convert(b, PR);
    [a, b, w].forEach(t.name);
    expect(t.queues()).toBe('G[A:EX] C[B:NL>PR] W[W:IV>EX]');
    expect(t.run()).toEqual([]);
    t.unlock(a);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'B ast 0', 'B bast EX']);
    expect(t.queues()).toBe('G[B:PR] C[] W[W:IV>EX]');
  });

  it('QUECVT queues behind queued conversions even when compatible, and is granted at once when none is queued', () => {
    const t = singleNode();
    const [d, a, b, c] = [t.holder('D'), t.holder('A'), t.holder('B'), t.holder('C')];
    t.lock(d, CR);
    t.lock(a, NL);
    t.lock(b, NL);
    t.lock(c, NL);
    t.run();
    [d, a, b, c].forEach(t.name);
    t.convert(a, EX);
    expect(t.run()).toEqual(['D bast EX']);
    t.convert(b, CR); // no QUECVT: granted in place past the queued conversion
    expect(t.run()).toEqual(['B ast 0', 'B bast EX']);
    t.convert(c, CR, LKF.QUECVT);
    expect(t.run()).toEqual([]);
    expect(t.queues()).toBe('G[B:CR D:CR] C[A:NL>EX C:NL>CR] W[]');
    // D's CR blocks A's queued EX: a QUECVT conversion that must queue is a deadlock.
    t.convert(d, PR, LKF.QUECVT);
    expect(t.run()).toEqual(['D ast EDEADLK']);
    // Nothing queued: a compatible QUECVT conversion is granted at once.
    const u = singleNode();
    const [x, y] = [u.holder('X'), u.holder('Y')];
    u.lock(x, NL);
    u.lock(y, NL);
    u.convert(y, PR, LKF.QUECVT);
    expect(u.run()).toEqual(['X ast 0', 'Y ast 0', 'Y ast 0']);
  });

  it('conversion deadlock: the later converter gets EDEADLK and keeps its mode', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    [a, b].forEach(t.name);
    t.convert(a, EX);
    expect(t.run()).toEqual(['B bast EX']);
    t.convert(b, EX);
    expect(t.run()).toEqual(['B ast EDEADLK']);
    expect(t.queues()).toBe('G[B:PR] C[A:PR>EX] W[]');
    // B can convert again (it is granted, nothing in flight).
    expect(t.convert(b, NL)).toBe(0);
    expect(t.run()).toEqual(['B ast 0', 'A ast 0']);
  });

  it('CONVDEADLK demotes to NL (SBF_DEMOTED) and keeps converting', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    [a, b].forEach(t.name);
    t.convert(a, EX);
    t.run();
    t.convert(b, EX, LKF.CONVDEADLK);
    expect(t.queues()).toBe('G[A:EX] C[B:NL>EX] W[]');
    expect(t.run()).toEqual(['A ast 0', 'A bast EX']);
    t.unlock(a);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'B ast 0 sb=1']);
  });

  it('NODLCKWT: the deadlocked conversion stays queued and gets a BAST of its own requested mode on a later pass', () => {
    const t = singleNode();
    const [a, b, c] = [t.holder('A'), t.holder('B'), t.holder('C')];
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    [a, b, c].forEach(t.name);
    t.convert(a, PW);
    expect(t.run()).toEqual(['B bast PW']);
    t.convert(b, EX, LKF.NODLCKWT);
    expect(t.run()).toEqual([]);
    expect(t.queues()).toBe('G[] C[A:PR>PW B:PR>EX] W[]');
    t.lock(c, NL); // waits: conversions are queued
    t.unlock(c); // a state change: the grant pass runs
    expect(t.run()).toEqual(['C ast EUNLOCK', 'B bast EX']);
  });

  it('a down-conversion unblocks waiters through the grant pass', () => {
    const t = singleNode();
    const [a, w] = [t.holder('A'), t.holder('W')];
    t.lock(a, EX);
    t.lock(w, PR);
    t.run();
    t.convert(a, CR);
    expect(t.run()).toEqual(['A ast 0', 'W ast 0']);
  });
});

describe('BAST rules (§2.6)', () => {
  it('at most one BAST per increasing blocking mode', () => {
    const t = singleNode();
    const hs = ['A', 'W1', 'W2', 'W3', 'W4', 'W5'].map((n) => t.holder(n));
    t.lock(hs[0]!, EX);
    t.run();
    t.lock(hs[1]!, CR);
    t.lock(hs[2]!, CR);
    t.lock(hs[3]!, PR);
    t.lock(hs[4]!, PR);
    t.lock(hs[5]!, EX);
    expect(t.run()).toEqual(['A bast CR', 'A bast PR', 'A bast EX']);
  });

  it('PR/CW inversion: a PR holder is BASTed for CW', () => {
    const t = singleNode();
    const [a, b, c] = [t.holder('A'), t.holder('B'), t.holder('C')];
    t.lock(a, PR);
    t.run();
    t.lock(b, CW);
    t.lock(c, CW);
    expect(t.run()).toEqual(['A bast CW']);
  });

  it('locks without a BAST callback get none', () => {
    const t = singleNode();
    const a = t.holder('A', false);
    const b = t.holder('B');
    t.lock(a, EX);
    t.lock(b, EX);
    expect(t.run()).toEqual(['A ast 0']);
  });

  it('a holder can be BASTed again after its next grant', () => {
    const t = singleNode();
    const [a, w] = [t.holder('A'), t.holder('W')];
    t.lock(a, PR);
    t.lock(w, EX);
    expect(t.run()).toEqual(['A ast 0', 'A bast EX']);
    t.unlock(w);
    t.run();
    t.convert(a, EX);
    t.convert(a, EX); // EBUSY? no: the first completed synchronously on the master
    const w2 = t.holder('W2');
    t.lock(w2, PR);
    expect(t.run()).toEqual(['A ast 0', 'A ast 0', 'A bast PR']);
  });
});

describe('unlock and cancel (§2.8)', () => {
  it('cancel with nothing to cancel returns 0 and delivers no AST', () => {
    const t = singleNode();
    const a = t.holder('A');
    t.lock(a, PR);
    t.run();
    expect(t.unlock(a, LKF.CANCEL)).toBe(0);
    expect(t.run()).toEqual([]);
  });

  it('cancel of a waiting request: ECANCEL and the lock is gone', () => {
    const t = singleNode();
    const [a, w] = [t.holder('A'), t.holder('W')];
    t.lock(a, EX);
    t.lock(w, PR);
    t.run();
    expect(t.unlock(w, LKF.CANCEL)).toBe(0);
    expect(t.run()).toEqual(['W ast ECANCEL']);
    expect(t.unlock(w)).toBe(DLM_ERRNO.ENOENT);
  });

  it('cancel of a queued conversion: ECANCEL and back to the granted mode', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, EX);
    t.lock(b, NL);
    t.run();
    [a, b].forEach(t.name);
    t.convert(b, PR);
    expect(t.unlock(b, LKF.CANCEL)).toBe(0);
    expect(t.run()).toEqual(['A bast PR', 'B ast ECANCEL']);
    expect(t.queues()).toBe('G[B:NL A:EX] C[] W[]');
  });

  it('a plain unlock removes a waiting lock on a local master; FORCEUNLOCK too', () => {
    const t = singleNode();
    const [a, w, v] = [t.holder('A'), t.holder('W'), t.holder('V')];
    t.lock(a, EX);
    t.lock(w, PR);
    t.lock(v, PR);
    t.run();
    expect(t.unlock(w)).toBe(0);
    expect(t.unlock(v, LKF.FORCEUNLOCK)).toBe(0);
    expect(t.run()).toEqual(['W ast EUNLOCK', 'V ast EUNLOCK']);
  });
});

describe('lock value blocks (§1.7)', () => {
  it('EX unlock writes, PR reads; IVVALBLK invalidates; a write clears VALNOTVALID', () => {
    const t = singleNode();
    const [n, a, b, c, d] = ['N', 'A', 'B', 'C', 'D'].map((x) => t.holder(x));
    t.lock(n!, NL, LKF.VALBLK); // keeps the resource (and its LVB) alive
    t.lock(a!, EX, LKF.VALBLK);
    t.run();
    a!.lksb.lvb!.set(txt('hello'));
    t.unlock(a!);
    t.lock(b!, PR, LKF.VALBLK);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    expect(str(b!.lksb.lvb)).toBe('hello');
    t.unlock(b!);
    t.lock(c!, EX, LKF.VALBLK | LKF.IVVALBLK);
    t.run();
    c!.lksb.lvb!.set(txt('ignored'));
    t.unlock(c!);
    t.lock(d!, PR, LKF.VALBLK);
    expect(t.run()).toEqual(['C ast EUNLOCK', 'D ast 0 sb=2']);
    expect(str(d!.lksb.lvb)).toBe('hello');
    // D: PR -> EX reads, EX -> NL writes and clears VALNOTVALID.
    t.convert(d!, EX, LKF.VALBLK);
    expect(t.run()).toEqual(['D ast 0 sb=2']);
    d!.lksb.lvb!.set(txt('world'));
    t.convert(d!, NL, LKF.VALBLK);
    expect(t.run()).toEqual(['D ast 0']);
    const e = t.holder('E');
    t.lock(e, CR, LKF.VALBLK);
    expect(t.run()).toEqual(['E ast 0']);
    expect(str(e.lksb.lvb)).toBe('world');
  });

  it('a down-conversion from CR/CW/PR does not touch the LVB; PW->EX reads', () => {
    const t = singleNode();
    const [n, a] = [t.holder('N'), t.holder('A')];
    t.lock(n, NL, LKF.VALBLK);
    t.lock(a, EX, LKF.VALBLK);
    t.run();
    a.lksb.lvb!.set(txt('v1'));
    t.convert(a, PW, LKF.VALBLK); // EX -> PW writes
    t.run();
    a.lksb.lvb!.set(txt('scribble'));
    t.convert(a, EX, LKF.VALBLK); // PW -> EX reads back v1
    t.run();
    expect(str(a.lksb.lvb)).toBe('v1');
    t.convert(a, PR, LKF.VALBLK); // EX -> PR writes v1
    t.run();
    a.lksb.lvb!.set(txt('not written'));
    t.convert(a, CR, LKF.VALBLK); // PR -> CR: nothing
    t.convert(a, PR, LKF.VALBLK); // CR -> PR reads
    t.run();
    expect(str(a.lksb.lvb)).toBe('v1');
  });

  it('the LVB is discarded when the last lock goes: a later reader gets zeros, no VALNOTVALID', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, EX, LKF.VALBLK);
    t.run();
    a.lksb.lvb!.set(txt('gone'));
    t.unlock(a);
    t.run();
    b.lksb.lvb!.set(txt('garbage'));
    t.lock(b, PR, LKF.VALBLK);
    expect(t.run()).toEqual(['B ast 0']);
    expect([...b.lksb.lvb!].every((x) => x === 0)).toBe(true);
  });

  it('without VALBLK nothing is read or written', () => {
    const t = singleNode();
    const [n, a, b] = [t.holder('N'), t.holder('A'), t.holder('B')];
    t.lock(n, NL, LKF.VALBLK);
    t.lock(a, EX);
    t.run();
    a.lksb.lvb!.set(txt('x'));
    t.unlock(a);
    b.lksb.lvb!.set(txt('mine'));
    t.lock(b, PR);
    t.run();
    expect(str(b.lksb.lvb)).toBe('mine');
  });
});

describe('synchronous errors (§1.3)', () => {
  const cases: [string, number, number, number][] = [
    ['mode 6', 6, 0, DLM_ERRNO.EINVAL],
    ['mode -1', -1, 0, DLM_ERRNO.EINVAL],
    ['CANCEL on lock', PR, LKF.CANCEL, DLM_ERRNO.EINVAL],
    ['QUECVT without CONVERT', PR, LKF.QUECVT, DLM_ERRNO.EINVAL],
    ['CONVDEADLK without CONVERT', PR, LKF.CONVDEADLK, DLM_ERRNO.EINVAL],
    ['EXPEDITE with NOQUEUE', NL, LKF.EXPEDITE | LKF.NOQUEUE, DLM_ERRNO.EINVAL],
    ['EXPEDITE not NL', PR, LKF.EXPEDITE, DLM_ERRNO.EINVAL],
    ['unknown flag bit', PR, 0x1000000, DLM_ERRNO.EINVAL],
    ['ORPHAN with no orphan', PR, LKF.ORPHAN, DLM_ERRNO.ENOENT],
    ['plain PR', PR, 0, 0],
    ['TIMEOUT is reserved and ignored', PR, LKF.TIMEOUT, 0],
  ];
  for (const [what, mode, flags, want] of cases) {
    it(`lock(): ${what} -> ${want}`, () => {
      const t = singleNode();
      expect(t.lock(t.holder('A'), mode, flags)).toBe(want);
      if (want !== 0) expect(t.run()).toEqual([]);
    });
  }

  it('lock(): name length, ast, lksb, VALBLK without a buffer', () => {
    const t = singleNode(0);
    const a = t.holder('A');
    expect(t.ls.lock(PR, a.lksb, 0, 'x'.repeat(65), a.ast)).toBe(DLM_ERRNO.EINVAL);
    expect(t.ls.lock(PR, a.lksb, 0, 'x'.repeat(64), a.ast)).toBe(0);
    expect(t.ls.lock(PR, a.lksb, 0, 'y', undefined as never)).toBe(DLM_ERRNO.EINVAL);
    expect(t.ls.lock(PR, null as never, 0, 'y', a.ast)).toBe(DLM_ERRNO.EINVAL);
    expect(t.ls.lock(PR, t.holder('B').lksb, LKF.VALBLK, 'y', a.ast)).toBe(DLM_ERRNO.EINVAL);
  });

  it('conversions: lkid 0, unknown lkid, QUECVT down or same mode, busy, CONVDEADLK|NOQUEUE, EXPEDITE', () => {
    const t = singleNode();
    const [a, x, w] = [t.holder('A'), t.holder('X'), t.holder('W')];
    expect(t.convert(a, PR)).toBe(DLM_ERRNO.EINVAL); // lkid 0
    a.lksb.lkid = 999;
    expect(t.convert(a, PR)).toBe(DLM_ERRNO.ENOENT);
    t.lock(a, EX);
    expect(t.convert(a, PR, LKF.QUECVT)).toBe(DLM_ERRNO.EINVAL);
    expect(t.convert(a, EX, LKF.QUECVT)).toBe(DLM_ERRNO.EINVAL);
    expect(t.convert(a, NL, LKF.CONVDEADLK | LKF.NOQUEUE)).toBe(DLM_ERRNO.EINVAL);
    expect(t.convert(a, NL, LKF.EXPEDITE)).toBe(DLM_ERRNO.EINVAL);
    t.lock(x, EX);
    t.lock(w, EX);
    expect(t.convert(x, PR)).toBe(DLM_ERRNO.EBUSY); // waiting, not granted
    expect(t.convert(a, PR)).toBe(0);
    t.run();
  });

  it('unlock(): bad flags, CANCEL|FORCEUNLOCK, unknown and ended locks', () => {
    const t = singleNode();
    const a = t.holder('A');
    t.lock(a, PR);
    expect(t.unlock(a, LKF.NOQUEUE)).toBe(DLM_ERRNO.EINVAL);
    expect(t.unlock(a, LKF.CANCEL | LKF.FORCEUNLOCK)).toBe(DLM_ERRNO.EINVAL);
    expect(t.ls.unlock(12345, 0)).toBe(DLM_ERRNO.ENOENT);
    expect(t.unlock(a)).toBe(0);
    expect(t.unlock(a)).toBe(DLM_ERRNO.ENOENT);
    expect(t.convert(a, EX)).toBe(DLM_ERRNO.ENOENT);
    expect(t.run()).toEqual(['A ast 0', 'A ast EUNLOCK']);
  });
});

describe('single-node lockspace', () => {
  it('sends no messages and retires unused resources after tossMs', () => {
    const t = singleNode();
    const hs = [t.holder('A'), t.holder('B'), t.holder('C')];
    for (const [i, h] of hs.entries()) t.lock(h, [EX, PR, CW][i]!, 0, `r${i % 2}`);
    t.run();
    for (const h of hs) t.unlock(h, LKF.FORCEUNLOCK);
    t.run();
    expect(t.sent).toEqual([]);
    expect(t.ls.stats.sent).toBe(0);
    expect(t.ls.dump().map((r) => r.active)).toEqual([false, false]);
    t.clock.advance(9_999);
    expect(t.ls.dump()).toHaveLength(2);
    t.clock.advance(1);
    expect(t.ls.dump()).toEqual([]);
  });

  it('release: force 0 refuses with locks, 1 refuses with a granted local lock, 2 releases', () => {
    const t = singleNode();
    const a = t.holder('A');
    t.lock(a, PR);
    expect(t.ls.release(0)).toBe(DLM_ERRNO.EBUSY);
    expect(t.ls.release(1)).toBe(DLM_ERRNO.EBUSY);
    expect(t.ls.release(2)).toBe(0);
    expect(t.lock(t.holder('B'), PR)).toBe(DLM_ERRNO.EINVAL);
  });

  it('a throwing AST is contained and counted', () => {
    const t = singleNode();
    const a = t.holder('A');
    t.ls.lock(CW, a.lksb, 0, 'r', () => {
      throw new Error('user bug');
    });
    t.run();
    expect(t.ls.stats.callbackErrors).toBe(1);
    void PW;
  });
});
