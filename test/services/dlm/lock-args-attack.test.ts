/**
 * Adversarial review (session 9) of the low-level lock()/unlock() calls
 * (lock-calls.ts, validate.ts) as their per-call work is trimmed: random
 * arguments against a reference written here from spec §1.3 (the kernel's
 * synchronous errors) and §1.6 (the QUECVT table), on a node whose master
 * is remote: modes out of range or not integers, every flag and unknown
 * bits, resource names around the 64-byte limit in ASCII and in multi-byte
 * characters (the limit is in bytes), missing callbacks, lksb or LVB,
 * conversions of unknown, waiting and granted locks. Each accepted call must
 * be followed by exactly one completion AST, each refused one by none.
 *
 * Also a bug found here (was an it.fails): a new request with an empty
 * resource name was accepted by lock() (spec §1.3 refuses only names over 64
 * bytes, as Linux's set_lock_args), but its LOOKUP/REQUEST was refused by the
 * receiving node's decoder (message.ts: "resource name length must be
 * 1..64", counted EBADMSG), so the lock never completed: no AST, ever.
 * Fixed by dlm9: lock() refuses an empty name (EINVAL) on every node; an
 * empty name cannot travel (recovery's NAMES records end a chunk at length
 * 0), docs/dlm.md "Differences from Linux".
 *
 * Seeds fixed, in the test names.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKF_ALL } from '../../../src/services/dlm/constants.ts';
import { newLksb, type Lksb } from '../../../src/services/dlm/lock.ts';
import { quecvtAllowed } from '../../../src/services/dlm/modes.ts';
import { cluster } from './cluster.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const EINVAL = DLM_ERRNO.EINVAL;
const enc = new TextEncoder();

/** §1.3 for lock(): the synchronous return of a call with these arguments (the lock's state for a conversion). */
function refLock(mode: number, flags: number, nameBytes: number, hasAst: boolean, lksb: Lksb | null, conv: { known: boolean; idleGranted: boolean; grmode: number } | null): number {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~LKF_ALL) !== 0) return EINVAL;
  if (!Number.isInteger(mode) || mode < 0 || mode > 5) return EINVAL;
  const f = (b: number): boolean => (flags & b) !== 0;
  if (!f(LKF.CONVERT) && nameBytes > 64) return EINVAL;
  if (f(LKF.CANCEL)) return EINVAL;
  if (f(LKF.QUECVT) && !f(LKF.CONVERT)) return EINVAL;
  if (f(LKF.CONVDEADLK) && (!f(LKF.CONVERT) || f(LKF.NOQUEUE))) return EINVAL;
  if (f(LKF.EXPEDITE) && (f(LKF.CONVERT) || f(LKF.QUECVT) || f(LKF.NOQUEUE) || mode !== 0)) return EINVAL;
  if (!hasAst || lksb === null) return EINVAL;
  if (f(LKF.VALBLK) && !lksb.lvb) return EINVAL;
  if (f(LKF.CONVERT)) {
    if (lksb.lkid === 0) return EINVAL;
    if (!conv || !conv.known) return DLM_ERRNO.ENOENT;
    if (!conv.idleGranted) return DLM_ERRNO.EBUSY;
    if (f(LKF.QUECVT) && !quecvtAllowed(conv.grmode as 0, mode as 0)) return EINVAL;
  }
  return 0;
}

const FLAG_BITS = Object.entries(LKF).filter(([k]) => k !== 'ORPHAN').map(([, v]) => v);

function randomFlags(rand: () => number, convert: boolean): number {
  const r = rand();
  if (r < 0.03) return 0.5;
  if (r < 0.05) return -1;
  let f = 0;
  for (const b of FLAG_BITS) if (rand() < 0.08) f |= b;
  if (rand() < 0.04) f |= 1 << (19 + Math.floor(rand() * 12));
  f &= ~LKF.CONVERT;
  if (convert) f |= LKF.CONVERT;
  return f >>> 0;
}

function randomMode(rand: () => number): number {
  const r = rand();
  if (r < 0.04) return -1;
  if (r < 0.07) return 6;
  if (r < 0.09) return 2.5;
  if (r < 0.1) return Number.NaN;
  return Math.floor(rand() * 6);
}

/** A name of about the limit: ASCII, 2-byte or 3-byte characters (byte length is what counts). */
function randomName(rand: () => number, k: number): string {
  const kind = Math.floor(rand() * 3);
  const unit = kind === 0 ? 'a' : kind === 1 ? '\u00e9' : '\u20ac';
  const bytes = enc.encode(unit).length;
  const target = [1, 20, 63, 64, 65, 70][Math.floor(rand() * 6)]!;
  // 'd0' pins the directory to node 1 (cluster.ts pinHash): the master is remote for node 2.
  const prefix = `d0${k.toString(36)}-`;
  const n = Math.max(0, Math.floor((target - prefix.length) / bytes) + (rand() < 0.5 ? 0 : 1));
  return prefix + unit.repeat(n);
}

describe('lock()/unlock() arguments against spec §1.3 (review9)', () => {
  it('seed 0x10c: 500 random new requests on a node with a remote master: the reference\'s return, exactly one AST per accepted call', () => {
    const c = cluster(3, { lvblen: 16 });
    const ls2 = c.ls.get(2)!;
    const rand = lcg(0x10c);
    let accepted = 0;
    for (let k = 0; k < 500; k++) {
      const mode = randomMode(rand);
      const flags = randomFlags(rand, false);
      const name = randomName(rand, k);
      const hasAst = rand() > 0.04;
      const lksb = rand() < 0.04 ? null : newLksb(rand() < 0.2 ? 0 : 16);
      let asts = 0;
      const ast = hasAst ? () => void asts++ : (undefined as unknown as () => void);
      const want = refLock(mode, flags, enc.encode(name).length, hasAst, lksb, null);
      const got = ls2.lock(mode, lksb as Lksb, flags, name, ast, undefined, undefined);
      const what = `call ${k}: mode ${mode} flags 0x${flags.toString(16)} name ${enc.encode(name).length} bytes, ast ${hasAst}, lksb ${lksb !== null}, lvb ${!!lksb?.lvb}`;
      expect(got, what).toBe(want);
      c.run();
      expect(asts, `${what}: ASTs`).toBe(got === 0 ? 1 : 0);
      if (got === 0) {
        accepted++;
        // Leave nothing behind: unlock what was granted (its own AST).
        if (lksb!.status === 0) {
          expect(ls2.unlock(lksb!.lkid, 0, lksb!), `${what}: unlock`).toBe(0);
          c.run();
        }
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('seed 0x10d: 400 random conversions (unknown, waiting, granted locks; QUECVT pairs): the reference\'s return, exactly one AST per accepted call', () => {
    const c = cluster(3, { lvblen: 16 });
    const ls2 = c.ls.get(2)!;
    const ls3 = c.ls.get(3)!;
    const rand = lcg(0x10d);
    // Granted locks on names of their own (each alone on its resource: a conversion is always grantable),
    // and locks waiting behind a holder on node 3.
    const granted: Array<{ lksb: Lksb; asts: number; grmode: number }> = [];
    for (let i = 0; i < 12; i++) {
      const h = { lksb: newLksb(16), asts: 0, grmode: Math.floor(rand() * 6) };
      expect(ls2.lock(h.grmode, h.lksb, 0, `d0g${i}`, () => void h.asts++, undefined, undefined)).toBe(0);
      granted.push(h);
    }
    const waiting: Lksb[] = [];
    for (let i = 0; i < 4; i++) {
      const blocker = newLksb(16);
      expect(ls3.lock(5, blocker, 0, `d0w${i}`, () => {}, undefined, () => {})).toBe(0);
      c.run();
      const w = newLksb(16);
      expect(ls2.lock(5, w, 0, `d0w${i}`, () => {}, undefined, undefined)).toBe(0);
      waiting.push(w);
    }
    c.run();
    for (const h of granted) expect(h.lksb.status, 'initial grant').toBe(0);
    let accepted = 0;
    for (let k = 0; k < 400; k++) {
      const pick = rand();
      const mode = randomMode(rand);
      const flags = randomFlags(rand, true);
      const hasAst = rand() > 0.04;
      let asts = 0;
      const ast = hasAst ? () => void asts++ : (undefined as unknown as () => void);
      let lksb: Lksb | null;
      let conv: { known: boolean; idleGranted: boolean; grmode: number } | null;
      let h: (typeof granted)[number] | null = null;
      if (pick < 0.1) {
        lksb = newLksb(16);
        lksb.lkid = pick < 0.05 ? 0 : 0x7ffffff0 + k;
        conv = { known: false, idleGranted: false, grmode: 0 };
      } else if (pick < 0.2) {
        lksb = waiting[Math.floor(rand() * waiting.length)]!;
        conv = { known: true, idleGranted: false, grmode: -1 };
      } else {
        h = granted[Math.floor(rand() * granted.length)]!;
        // The same lksb, or a copy with its lkid (and with or without an LVB).
        lksb = rand() < 0.8 ? h.lksb : { ...newLksb(rand() < 0.5 ? 0 : 16), lkid: h.lksb.lkid };
        conv = { known: true, idleGranted: true, grmode: h.grmode };
      }
      if (rand() < 0.03) lksb = null;
      const want = refLock(mode, flags, 0, hasAst, lksb, conv);
      const got = ls2.lock(mode, lksb as Lksb, flags, null, ast, undefined, undefined);
      const what = `call ${k}: convert mode ${mode} flags 0x${flags.toString(16)} lkid ${lksb?.lkid}, ast ${hasAst}, ${pick < 0.1 ? 'unknown' : pick < 0.2 ? 'waiting' : `granted ${conv?.grmode}`}`;
      expect(got, what).toBe(want);
      c.run();
      expect(asts, `${what}: ASTs`).toBe(got === 0 ? 1 : 0);
      if (got === 0 && h !== null) {
        accepted++;
        // Granted now at the requested mode (alone on its resource), or still at the old one (NOQUEUE refused, ...).
        if (lksb!.status === 0) h.grmode = lksb!.flags & 0x1 /* DEMOTED */ ? h.grmode : mode;
      }
    }
    expect(accepted).toBeGreaterThan(60);
  });

  it('a new request with an empty resource name is refused at once (EINVAL, no AST, nothing sent), on a node whose directory is remote and on the directory itself (found by review9: it was accepted and never completed)', () => {
    const c = cluster(3);
    for (const node of [2, 1]) {
      const ls = c.ls.get(node)!;
      const lksb = newLksb(0);
      let asts = 0;
      const sentBefore = ls.stats.sent;
      // The empty name hashes to node 1 (cluster.ts pinHash): node 2 would ask node 1; node 1 is the directory.
      expect(ls.lock(5, lksb, 0, '', () => void asts++, undefined, undefined), `node ${node}: string name`).toBe(DLM_ERRNO.EINVAL);
      expect(ls.lock(5, lksb, 0, new Uint8Array(0), () => void asts++, undefined, undefined), `node ${node}: byte name`).toBe(DLM_ERRNO.EINVAL);
      expect(ls.lock(5, lksb, 0, null, () => void asts++, undefined, undefined), `node ${node}: no name`).toBe(DLM_ERRNO.EINVAL);
      c.run();
      c.sim.runPending();
      expect(asts, `node ${node}: no AST`).toBe(0);
      expect(ls.stats.sent, `node ${node}: nothing sent`).toBe(sentBefore);
      expect(ls.lockCount, `node ${node}: no lock left behind`).toBe(0);
    }
    expect(c.ls.get(1)!.stats.refused.EBADMSG ?? 0, 'the directory refused nothing').toBe(0);
    // A one-byte name still works end to end from the remote node.
    const lksb = newLksb(0);
    let asts = 0;
    expect(c.ls.get(2)!.lock(5, lksb, 0, 'x', () => void asts++, undefined, undefined)).toBe(0);
    c.run();
    expect(asts).toBe(1);
    expect(lksb.status).toBe(0);
  });
});
