/**
 * The DLM's fast paths on the remote lock cycle agree with the general code
 * they skip (fast-check, fixed seeds):
 * - a plain unlock of an idle granted lock (`idleGranted`, lock-calls.ts)
 *   is one `validateUnlock` says 'proceed' to;
 * - `#canBeGranted` tests `grantable` first (no verdict object):
 *   `canBeGrantedOtherwise` is `canBeGranted` for a lock not grantable as
 *   asked, and a grantable one gets `canBeGranted`'s plain grant;
 * - `Resource.del` (no splice) keeps the other locks in order, and
 *   `Resource.add` (no unshift) puts a lock where the kernel does;
 * - `grantPendingLocks` with empty convert and wait queues does nothing;
 * - CastDelivery reuses a delivered completion record: each AST still sees
 *   the values of its own queueing;
 * - a received message's short name or LVB is copied into a reused buffer
 *   (ExtraCopies) rather than viewed: the same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LKF, LKM, LKSTS, type LockStatus, type ModeOrIV } from '../../../src/services/dlm/constants.ts';
import { canBeGranted, canBeGrantedOtherwise, grantable } from '../../../src/services/dlm/grant-rules.ts';
import { idleGranted } from '../../../src/services/dlm/lock-calls.ts';
import { Lock, type WaitType } from '../../../src/services/dlm/lock.ts';
import { Resource, type ResourceSink } from '../../../src/services/dlm/resource.ts';
import { lockStateOf, validateUnlock } from '../../../src/services/dlm/validate.ts';
import { CallbackHold } from '../../../src/services/dlm/callback-hold.ts';
import { CastDelivery } from '../../../src/services/dlm/cast-delivery.ts';
import { DLM_ERRNO } from '../../../src/services/dlm/constants.ts';
import type { LockspaceHost } from '../../../src/services/dlm/lockspace-host.ts';
import type { LockspaceStats } from '../../../src/services/dlm/lockspace-stats.ts';
import { newLksb, type AstFn, type Lksb } from '../../../src/services/dlm/lock.ts';
import { newRecoveryStats } from '../../../src/services/dlm/recovery/recovery-status.ts';
import { ManualScheduler } from '../../../src/services/dlm/scheduler.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { newExtraCopies, SHORT_EXTRA_COPY } from '../../../src/services/dlm/extra-copies.ts';
import { decodeLockMessage, decodeLockMessageInto, DLM_VERSION, emptyMessage, encodeMessage, MSG } from '../../../src/services/dlm/message.ts';

const US = 1;
const statuses: LockStatus[] = [LKSTS.NONE, LKSTS.WAITING, LKSTS.GRANTED, LKSTS.CONVERT];
const waits: WaitType[] = ['none', 'lookup', 'request', 'convert', 'unlock', 'cancel'];
const modeOrIV = fc.integer({ min: -1, max: 5 }) as fc.Arbitrary<ModeOrIV>;

function newResource(): Resource {
  return new Resource(new Uint8Array([0x72]), 'r', 0);
}

describe('plain unlock fast path (idleGranted)', () => {
  it('every lock it takes is one validateUnlock(0) lets proceed (fast-check, seed 81)', () => {
    let taken = 0;
    // Each field mostly at its idle value, so both sides of the fast path are reached often.
    const mostly = <T,>(idle: T, other: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof({ weight: 4, arbitrary: fc.constant(idle) }, { weight: 1, arbitrary: other });
    const state = fc.record({
      masterCopy: mostly(false, fc.boolean()),
      endOfLife: mostly(false, fc.boolean()),
      status: mostly<LockStatus>(LKSTS.GRANTED, fc.constantFrom(...statuses)),
      grmode: modeOrIV,
      waitType: mostly<WaitType>('none', fc.constantFrom(...waits)),
      secondary: mostly<Lock['secondary']>('none', fc.constantFrom<Lock['secondary']>('none', 'unlock', 'cancel')),
      overlapUnlock: mostly(false, fc.boolean()),
      overlapCancel: mostly(false, fc.boolean()),
      parkedHere: mostly(false, fc.boolean()),
      parkedOther: mostly(false, fc.boolean()),
      firstLkidIsIt: fc.boolean(),
      master: fc.constantFrom(0, US, 2),
    });
    fc.assert(
      fc.property(state, (s) => {
        const r = newResource();
        const lkb = new Lock(7, s.masterCopy);
        lkb.resource = r;
        lkb.endOfLife = s.endOfLife;
        lkb.status = s.status;
        lkb.grmode = s.grmode;
        lkb.waitType = s.waitType;
        lkb.secondary = s.secondary;
        lkb.overlapUnlock = s.overlapUnlock;
        lkb.overlapCancel = s.overlapCancel;
        r.master = s.master;
        if (s.firstLkidIsIt) r.firstLkid = lkb.lkid;
        if (s.parkedHere) r.lookupList.push(lkb);
        if (s.parkedOther) r.lookupList.push(new Lock(8, false));
        if (!idleGranted(lkb)) return;
        taken++;
        const inFlight = lkb.waitType !== 'none' ? lkb.waitType : lkb.secondary;
        expect(validateUnlock(0, lockStateOf(lkb, US), inFlight)).toBe('proceed');
      }),
      { seed: 81, numRuns: 3000 },
    );
    // The property is not vacuous: the generator reaches the fast path.
    expect(taken).toBeGreaterThan(100);
  });
});

describe('#canBeGranted: grantable first', () => {
  it('canBeGrantedOtherwise is canBeGranted when the lock is not grantable as asked; a grantable lock gets the plain grant (fast-check, seed 82)', () => {
    let refused = 0;
    let granted = 0;
    const lockArb = fc.record({
      grmode: modeOrIV,
      rqmode: fc.integer({ min: 0, max: 5 }) as fc.Arbitrary<ModeOrIV>,
      flags: fc.subarray([LKF.NOQUEUE, LKF.QUECVT, LKF.CONVDEADLK, LKF.EXPEDITE, LKF.NOORDER, LKF.ALTPR, LKF.ALTCW]),
    });
    const mk = (id: number, l: { grmode: ModeOrIV; rqmode: ModeOrIV; flags: number[] }): Lock => {
      const lk = new Lock(id, false);
      lk.grmode = l.grmode;
      lk.rqmode = l.rqmode;
      lk.exflags = l.flags.reduce((a, b) => a | b, 0);
      return lk;
    };
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
        fc.array(lockArb, { maxLength: 3 }),
        fc.array(lockArb, { maxLength: 3 }),
        lockArb,
        fc.constantFrom('grant', 'convert', 'wait', 'new'),
        fc.boolean(),
        fc.boolean(),
        (granted0, convert0, wait0, self, where, now, recovering) => {
          let id = 1;
          const q = {
            grant: granted0.map((m) => mk(id++, { grmode: m as ModeOrIV, rqmode: LKM.IV, flags: [] })),
            convert: convert0.map((l) => mk(id++, l)),
            wait: wait0.map((l) => mk(id++, { ...l, grmode: LKM.IV })),
          };
          const lock = mk(id++, where === 'wait' || where === 'new' ? { ...self, grmode: LKM.IV } : self);
          if (where === 'grant') q.grant.push(lock);
          else if (where === 'convert') q.convert.push(lock);
          else if (where === 'wait') q.wait.push(lock);
          const full = canBeGranted(q, lock, now, recovering);
          if (grantable(q, lock, now, recovering)) {
            granted++;
            expect(full).toEqual({ grant: true, mode: lock.rqmode, altmode: false, deadlock: false, demote: false });
          } else {
            refused++;
            expect(canBeGrantedOtherwise(q, lock, now)).toEqual(full);
          }
        },
      ),
      { seed: 82, numRuns: 2000 },
    );
    expect(granted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

describe('Resource queues', () => {
  it('del takes a lock from the head, the middle or the tail and keeps the others in order', () => {
    for (let at = 0; at < 4; at++) {
      const r = newResource();
      const locks = Array.from({ length: 4 }, (_, i) => new Lock(i + 1, false));
      for (const l of locks) r.add(l, LKSTS.WAITING);
      r.del(locks[at]!);
      expect(locks[at]!.status).toBe(LKSTS.NONE);
      expect(r.wait.map((l) => l.lkid)).toEqual(locks.filter((_, i) => i !== at).map((l) => l.lkid));
    }
    // The grant queue puts the newest first (the kernel's order); taking the head leaves the older one.
    const r = newResource();
    const older = new Lock(1, false);
    const newer = new Lock(2, false);
    r.add(older, LKSTS.GRANTED);
    r.add(newer, LKSTS.GRANTED);
    expect(r.grant).toEqual([newer, older]);
    r.del(newer);
    expect(r.grant).toEqual([older]);
    r.del(new Lock(3, false)); // not queued: nothing changes
    expect(r.grant).toEqual([older]);
  });

  it('add puts a granted lock or a HEADQUE lock at the head, any other at the tail, keeping the rest in order (against an array model, fast-check, seed 84)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ status: fc.constantFrom(LKSTS.GRANTED, LKSTS.CONVERT, LKSTS.WAITING), headque: fc.boolean() }), { maxLength: 12 }), (adds) => {
        const r = newResource();
        const model = new Map<LockStatus, number[]>([
          [LKSTS.GRANTED, []],
          [LKSTS.CONVERT, []],
          [LKSTS.WAITING, []],
        ]);
        adds.forEach((a, i) => {
          const l = new Lock(i + 1, false);
          if (a.headque) l.exflags = LKF.HEADQUE;
          r.add(l, a.status);
          expect(l.status).toBe(a.status);
          const q = model.get(a.status)!;
          if (a.status === LKSTS.GRANTED || a.headque) q.unshift(l.lkid);
          else q.push(l.lkid);
        });
        expect(r.grant.map((l) => l.lkid)).toEqual(model.get(LKSTS.GRANTED));
        expect(r.convert.map((l) => l.lkid)).toEqual(model.get(LKSTS.CONVERT));
        expect(r.wait.map((l) => l.lkid)).toEqual(model.get(LKSTS.WAITING));
      }),
      { seed: 84, numRuns: 300 },
    );
  });

  it('grantPendingLocks with nothing converting or waiting grants nothing and sends no BAST; with a waiter it BASTs the holder', () => {
    const r = newResource();
    const calls: string[] = [];
    const sink: ResourceSink = {
      generation: 0,
      fenceFloor: 0,
      cast: (l, s) => void calls.push(`cast ${l.lkid} ${s}`),
      grantPending: (l) => void calls.push(`grantPending ${l.lkid}`),
      bast: (l, m) => void calls.push(`bast ${l.lkid} ${m}`),
      queued: (l) => void calls.push(`queued ${l.lkid}`),
    };
    const holder = new Lock(1, false);
    holder.rqmode = LKM.EX;
    holder.hasBast = true;
    expect(r.doRequest(holder, sink)).toBe(0);
    calls.length = 0;
    r.grantPendingLocks(sink);
    expect(calls).toEqual([]);
    // Not vacuous: the same holder gets a BAST once a request waits.
    const waiter = new Lock(2, false);
    waiter.rqmode = LKM.PR;
    r.add(waiter, LKSTS.WAITING);
    r.grantPendingLocks(sink);
    expect(calls).toEqual([`bast 1 ${LKM.PR}`]);
  });
});

describe('CastDelivery reuses delivered completion records', () => {
  function delivery() {
    const scheduler = new ManualScheduler();
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const held = new CallbackHold(scheduler, clock, (err) => void errors.push(err));
    const stats: LockspaceStats = { sent: 0, received: 0, refused: {}, ignored: 0, callbacks: 0, callbackErrors: 0, grants: 0, waits: 0, basts: 0, recovery: newRecoveryStats() };
    const host: LockspaceHost = { nodeid: 1, clock, scheduler, hash: () => 0, tossMs: 1000, maxSavedMessages: 10, send: () => {}, copiesOnSend: false, observe: null, callbackError: (err) => void errors.push(err) };
    return { d: new CastDelivery(held, stats, host), scheduler, held, errors, stats };
  }
  const lockWith = (id: number, lksb: Lksb, ast: AstFn, astarg: unknown, grmode: ModeOrIV, fence: number): Lock => {
    const l = new Lock(id, false);
    l.lksb = lksb;
    l.ast = ast;
    l.astarg = astarg;
    l.grmode = grmode;
    l.fence = fence;
    return l;
  };

  it('each AST sees the values of its own queueing, also when an AST queues another (the reused record) and when one was held meanwhile', () => {
    const { d, scheduler, held } = delivery();
    const seen: string[] = [];
    const a = newLksb(0);
    const b = newLksb(0);
    const c = newLksb(0);
    const log = (name: string, lksb: Lksb) => (arg: unknown) => void seen.push(`${name} arg=${String(arg)} status=${lksb.status} fence=${lksb.fence}`);
    // A's AST queues C's completion: C takes the record A's delivery just freed.
    const lc = lockWith(3, c, log('C', c), 'c', LKM.PR, 99);
    const la = lockWith(1, a, (arg) => {
      log('A', a)(arg);
      d.push(lc, -7);
      d.post();
    }, 'a', LKM.EX, 41);
    d.push(la, 0);
    d.post();
    scheduler.runPending();
    expect(seen).toEqual(['A arg=a status=0 fence=41', 'C arg=c status=-7 fence=0']);
    // B is held (suspended) while A's and C's records are reused twice more; B keeps its own values.
    held.suspend();
    d.push(lockWith(2, b, log('B', b), 'b', LKM.PW, 42), DLM_ERRNO.EUNLOCK);
    d.post();
    scheduler.runPending();
    expect(held.count).toBe(1);
    held.resume();
    for (let i = 0; i < 2; i++) {
      d.push(lockWith(10 + i, a, log(`A${i}`, a), `a${i}`, LKM.NL, 0), i);
      d.post();
    }
    scheduler.runPending();
    expect(seen.slice(2)).toEqual([`B arg=b status=${DLM_ERRNO.EUNLOCK} fence=42`, 'A0 arg=a0 status=0 fence=0', 'A1 arg=a1 status=1 fence=0']);
  });
});

describe('decodeLockMessageInto with ExtraCopies (the receive path: no view per name)', () => {
  it('gives the same fields and extra bytes as a plain decode for every extra length 0..100, reusing one buffer per short length (fast-check, seed 83)', () => {
    const copies = newExtraCopies();
    const record = emptyMessage(MSG.REQUEST);
    const types = [MSG.REQUEST, MSG.LOOKUP, MSG.REMOVE, MSG.CONVERT, MSG.UNLOCK, MSG.REQUEST_REPLY, MSG.GRANT] as const;
    const seen = new Map<number, Uint8Array>();
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 7 }), (type, len, seed, pad) => {
        // Names are at most 64 bytes; LVB-carrying types go up to lvblen (100 here).
        const named = type === MSG.REQUEST || type === MSG.LOOKUP || type === MSG.REMOVE;
        const extra = Uint8Array.from({ length: named ? Math.min(len, 64) : len }, (_, i) => (seed + i * 37) & 0xff);
        const m = emptyMessage(type);
        m.lkid = 9;
        m.rqmode = LKM.EX;
        m.result = 0;
        m.extra = extra;
        // At an odd place of a bigger buffer, as a reader's batch gives it.
        const enc = encodeMessage({ version: DLM_VERSION, lockspace: 1, nodeid: 2 }, m);
        const buf = new Uint8Array(enc.length + pad + 3);
        buf.set(enc, pad);
        const bytes = buf.subarray(pad, pad + enc.length);
        const lvblen = 100;
        const plain = decodeLockMessage(bytes, lvblen);
        const got = decodeLockMessageInto(bytes, lvblen, record, copies);
        expect(got).toBe(record);
        expect({ ...got, extra: [...got.extra] }).toEqual({ ...plain, extra: [...plain.extra] });
        expect([...got.extra]).toEqual([...extra]);
        if (extra.length <= SHORT_EXTRA_COPY) {
          // A copy, not a view of the message: one buffer per length, reused.
          expect(got.extra.buffer).not.toBe(bytes.buffer);
          const before = seen.get(extra.length);
          if (before) expect(got.extra).toBe(before);
          seen.set(extra.length, got.extra);
        } else expect(got.extra.buffer).toBe(bytes.buffer);
      }),
      { seed: 83, numRuns: 500 },
    );
    expect(seen.size).toBeGreaterThan(20);
  });
});
