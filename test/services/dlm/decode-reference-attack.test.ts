/**
 * Adversarial review (session 9) of the DLM lock message decode and
 * validation (message.ts `decodeLockMessageInto`, the receive path's
 * `receiveLockspaceMessage`), as a differential test against a reference
 * written here from the spec's tables (§3.6 header, §3.7 the 88-byte fixed
 * part and the extra per type, §1.8 flags, §1.9 wire results):
 *
 * - every field of the header and of the fixed part, one at a time and in
 *   pairs, set to edge values (0, 1, -1, 5, 6, -2, 2^31, 2^32-1, unknown flag
 *   bits), lengths (h_length against the bytes, < 88, > 4096), the extra per
 *   type (names of 0, 1, 64, 65 bytes; LVBs of lvblen and lvblen + 1);
 * - the verdict must be the reference's: accepted, or refused with a
 *   DlmError of code EBADMSG naming the field (when exactly one is bad);
 * - an accepted message decodes to the values the reference reads with a
 *   DataView (flags: low 16 bits), into ONE reused record with extra copies,
 *   so a field left over from the previous message would show;
 * - fed to a lockspace, each refused lock message (h_cmd MSG) is counted
 *   once in stats.refused as EBADMSG, and nothing is counted INTERNAL.
 *
 * Seeded (fixed, in the test names); DLM_DECODE_RUNS=n for more random cases.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, DLM_RESNAME_MAXLEN, LKF_ALL, SBF_ALL } from '../../../src/services/dlm/constants.ts';
import { DlmError } from '../../../src/services/dlm/errors.ts';
import { newExtraCopies } from '../../../src/services/dlm/extra-copies.ts';
import { decodeLockMessageInto, DLM_VERSION, emptyMessage, encodeMessage, MSG, type DlmMessage } from '../../../src/services/dlm/message.ts';
import { cluster } from './cluster.ts';

const LVBLEN = 32;
const FIELDS = ['m_type', 'm_nodeid', 'm_pid', 'm_lkid', 'm_remid', 'm_parent_lkid', 'm_parent_remid', 'm_exflags', 'm_sbflags', 'm_flags', 'm_lvbseq', 'm_hash', 'm_status', 'm_grmode', 'm_rqmode', 'm_bastmode', 'm_asts', 'm_result'] as const;
type Field = (typeof FIELDS)[number];
const at = (f: Field): number => 16 + 4 * FIELDS.indexOf(f);

/** §1.9, wire-normalised: the results each reply may carry; every other type carries 0. */
const E = DLM_ERRNO;
const RESULT_OK: Record<number, number[]> = {
  5: [0, E.EINPROGRESS, E.EAGAIN, E.EBADR, E.ENOTBLK, E.ENOENT, E.EINVAL],
  6: [0, E.EINPROGRESS, E.EAGAIN, E.EDEADLK, E.ENOENT, E.EINVAL],
  7: [E.EUNLOCK, E.ENOENT, E.EINVAL],
  8: [0, E.ECANCEL, E.ENOENT, E.EINVAL],
};
/** §3.7: what m_extra holds per type. */
function extraRule(type: number, n: number, lvblen: number): string | null {
  if (type === 1 || type === 11 || type === 12) return n >= 1 && n <= DLM_RESNAME_MAXLEN ? null : 'resource name length';
  if (type === 2 || type === 3 || type === 5 || type === 6 || type === 9) return n <= lvblen ? null : 'LVB length';
  return n === 0 ? null : 'extra length';
}

/** The reference: every field that is wrong (empty: accepted). Header faults end the check (the rest is not a lock message). */
function reference(b: Uint8Array, lvblen: number): string[] {
  if (b.length < 16) return ['length'];
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const version = dv.getUint32(0, true);
  if (version >>> 16 !== 3 || (version & 0xffff) < 1) return ['h_version'];
  const hlen = dv.getUint16(12, true);
  if (hlen !== b.length || hlen > 4096) return ['h_length'];
  if (b[14] !== 1) return ['h_cmd'];
  if (b.length < 88) return ['length'];
  const type = dv.getUint32(16, true);
  if (type < 1 || type > 14) return ['m_type'];
  const bad: string[] = [];
  const u = (f: Field): number => dv.getUint32(at(f), true);
  const i = (f: Field): number => dv.getInt32(at(f), true);
  if ((u('m_exflags') & ~LKF_ALL) !== 0) bad.push('m_exflags');
  if ((u('m_sbflags') & ~SBF_ALL) !== 0) bad.push('m_sbflags');
  if (u('m_asts') > 3) bad.push('m_asts');
  if (i('m_status') < 0 || i('m_status') > 3) bad.push('m_status');
  const modeOk = (v: number, iv: boolean): boolean => v >= (iv ? -1 : 0) && v <= 5;
  if (!modeOk(i('m_grmode'), true)) bad.push('m_grmode');
  // A REQUEST, LOOKUP or CONVERT needs a real requested mode; a BAST a real blocking mode.
  if (!modeOk(i('m_rqmode'), !(type === 1 || type === 11 || type === 2))) bad.push('m_rqmode');
  if (!modeOk(i('m_bastmode'), type !== 10)) bad.push('m_bastmode');
  const results = RESULT_OK[type] ?? (type === 13 ? [0, E.ENOENT, E.EINVAL] : [0]);
  if (!results.includes(i('m_result'))) bad.push('m_result');
  const ex = extraRule(type, b.length - 88, lvblen);
  if (ex !== null) bad.push(ex);
  if ((type === 1 || type === 11) && u('m_lkid') === 0) bad.push('m_lkid');
  return bad;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const EDGE = [0, 1, 2, 3, 4, 5, 6, 7, -1, -2, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff, 0x10000, 15, 16, 64];

/** A valid message of `type` with random valid fields, then `mutate` applied to its bytes. */
function validMessage(rand: () => number, type: number, lvblen: number): Uint8Array {
  const m = emptyMessage(type as 1);
  const r32 = (): number => Math.floor(rand() * 2 ** 32) >>> 0;
  m.nodeid = r32();
  m.pid = r32();
  m.lkid = r32() || 1;
  m.remid = r32();
  m.parentLkid = rand() < 0.8 ? 0 : r32();
  m.parentRemid = rand() < 0.8 ? 0 : r32();
  m.exflags = r32() & LKF_ALL;
  m.sbflags = r32() & SBF_ALL;
  m.flags = rand() < 0.5 ? 0 : r32() & 0xffff;
  m.lvbseq = r32();
  m.hash = r32();
  m.status = Math.floor(rand() * 4);
  m.grmode = Math.floor(rand() * 7) - 1;
  m.rqmode = type === 1 || type === 11 || type === 2 ? Math.floor(rand() * 6) : Math.floor(rand() * 7) - 1;
  m.bastmode = type === 10 ? Math.floor(rand() * 6) : Math.floor(rand() * 7) - 1;
  m.asts = Math.floor(rand() * 4);
  const results = RESULT_OK[type] ?? (type === 13 ? [0, E.ENOENT, E.EINVAL] : [0]);
  m.result = results[Math.floor(rand() * results.length)]!;
  let n = 0;
  if (type === 1 || type === 11 || type === 12) n = 1 + Math.floor(rand() * DLM_RESNAME_MAXLEN);
  else if (type === 2 || type === 3 || type === 5 || type === 6 || type === 9) n = Math.floor(rand() * (lvblen + 1));
  m.extra = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  return encodeMessage({ version: DLM_VERSION, lockspace: 0x5151, nodeid: 2 }, m);
}

function setU32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.length).setUint32(off, v >>> 0, true);
}

/** The bytes with a new extra of `n` bytes (h_length fixed up). */
function withExtra(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(88 + n);
  out.set(b.subarray(0, 88));
  for (let i = 0; i < n; i++) out[88 + i] = (i * 13 + 5) & 0xff;
  new DataView(out.buffer).setUint16(12, out.length, true);
  return out;
}

/** One hostile variant of a valid message. */
function mutate(rand: () => number, b0: Uint8Array): Uint8Array {
  let b: Uint8Array = b0.slice();
  const k = Math.floor(rand() * 10);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  if (k <= 4) {
    // One or two fixed-part fields to edge values.
    for (let j = 0; j < (k === 4 ? 2 : 1); j++) setU32(b, at(pick(FIELDS)), pick(EDGE));
  } else if (k === 5) {
    // Unknown flag bits.
    setU32(b, at(pick(['m_exflags', 'm_sbflags', 'm_asts', 'm_flags'] as const)), (1 << Math.floor(rand() * 32)) | (rand() < 0.5 ? 0 : 1));
  } else if (k === 6) {
    b = withExtra(b, pick([0, 1, 2, LVBLEN - 1, LVBLEN, LVBLEN + 1, DLM_RESNAME_MAXLEN, DLM_RESNAME_MAXLEN + 1, 200, 4096 - 88, 4097 - 88]));
  } else if (k === 7) {
    // Header: version, h_length, h_cmd.
    const h = Math.floor(rand() * 5);
    if (h === 0) setU32(b, 0, pick([0x00030001, 0x00030000, 0x00020002, 0x00040002, 0x0003ffff, 0]));
    else if (h === 1) new DataView(b.buffer).setUint16(12, pick([b.length - 1, b.length + 1, 0, 88, 4097]), true);
    else if (h === 2) b[14] = pick([0, 2, 3, 4, 5, 6, 255]);
    else if (h === 3) b = b.slice(0, pick([0, 15, 16, 60, 87]));
    else b[15] = 0xff; // padding: ignored
  } else {
    // A truncated or grown message whose h_length says so (a short fixed part).
    const n = pick([16, 40, 84, 87]);
    b = b.slice(0, n);
    if (n >= 14) new DataView(b.buffer).setUint16(12, n, true);
  }
  return b;
}

/** What the decoder said: null (accepted) or `code field`. */
function verdict(b: Uint8Array, rec: DlmMessage, copies: ReturnType<typeof newExtraCopies>): string | null {
  try {
    decodeLockMessageInto(b, LVBLEN, rec, copies);
    return null;
  } catch (err) {
    if (!(err instanceof DlmError)) throw err;
    const field = /DLM message: (.+?) must be/.exec(err.message)?.[1] ?? '?';
    return `${err.code} ${field}`;
  }
}

/** The fields the decoder must have written, read by the reference. */
function expectDecoded(b: Uint8Array, m: DlmMessage, what: string): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const u = (f: Field): number => dv.getUint32(at(f), true);
  const i = (f: Field): number => dv.getInt32(at(f), true);
  expect(
    [m.type, m.nodeid, m.pid, m.lkid, m.remid, m.parentLkid, m.parentRemid, m.exflags, m.sbflags, m.flags, m.lvbseq, m.hash, m.status, m.grmode, m.rqmode, m.bastmode, m.asts, m.result],
    what,
  ).toEqual([u('m_type'), u('m_nodeid'), u('m_pid'), u('m_lkid'), u('m_remid'), u('m_parent_lkid'), u('m_parent_remid'), u('m_exflags'), u('m_sbflags'), u('m_flags') & 0xffff, u('m_lvbseq'), u('m_hash'), i('m_status'), i('m_grmode'), i('m_rqmode'), i('m_bastmode'), u('m_asts'), i('m_result')]);
  expect(Buffer.from(m.extra).toString('hex'), `${what}: extra`).toBe(Buffer.from(b.subarray(88)).toString('hex'));
}

const RUNS = 2500 + Number(process.env.DLM_DECODE_RUNS ?? 0);

describe('DLM lock message decode against a reference from the spec tables (review9)', () => {
  it(`seed 0x9e9: ${RUNS} valid and hostile messages of every type: the reference's verdict, the field named, every field decoded into one reused record`, () => {
    const rand = lcg(0x9e9);
    const rec = emptyMessage(MSG.REQUEST);
    const copies = newExtraCopies();
    let accepted = 0;
    let refused = 0;
    const fieldsSeen = new Set<string>();
    for (let run = 0; run < RUNS; run++) {
      const type = 1 + Math.floor(rand() * 14);
      const valid = validMessage(rand, type, LVBLEN);
      const b = rand() < 0.25 ? valid : mutate(rand, valid);
      const want = reference(b, LVBLEN);
      const got = verdict(b, rec, copies);
      const what = `run ${run} (type ${type}): ${Buffer.from(b.subarray(0, 88)).toString('hex')} +${Math.max(0, b.length - 88)}`;
      if (want.length === 0) {
        expect(got, what).toBeNull();
        expectDecoded(b, rec, what);
        accepted++;
      } else {
        expect(got, `${what}: reference refuses (${want.join(', ')})`).not.toBeNull();
        expect(got!.startsWith('EBADMSG '), what).toBe(true);
        if (want.length === 1) expect(got, what).toBe(`EBADMSG ${want[0]}`);
        for (const f of want) fieldsSeen.add(f);
        refused++;
      }
    }
    // Not vacuous: both outcomes, and refusals for every field the reference checks.
    expect(accepted).toBeGreaterThan(RUNS / 5);
    expect(refused).toBeGreaterThan(RUNS / 5);
    expect([...fieldsSeen].sort()).toEqual(
      ['LVB length', 'extra length', 'h_cmd', 'h_length', 'h_version', 'length', 'm_asts', 'm_bastmode', 'm_exflags', 'm_grmode', 'm_lkid', 'm_result', 'm_rqmode', 'm_sbflags', 'm_status', 'm_type', 'resource name length'].sort(),
    );
  });

  it('seed 0x9ea: fed to a lockspace, each message the reference refuses is counted once by its code; nothing INTERNAL, nothing thrown', () => {
    const c = cluster(3, { lvblen: LVBLEN });
    c.run();
    const target = c.ls.get(1)!;
    const rand = lcg(0x9ea);
    const total = (): number => Object.values(target.stats.refused).reduce((x, y) => x + (y ?? 0), 0);
    let refusedByRef = 0;
    for (let run = 0; run < 600; run++) {
      const type = 1 + Math.floor(rand() * 14);
      const b = mutate(rand, validMessage(rand, type, LVBLEN));
      // Addressed to the lockspace (its id) from member 2 (h_nodeid = the sender).
      if (b.length >= 12) {
        setU32(b, 4, target.globalId);
        setU32(b, 8, 2);
      }
      const want = reference(b, LVBLEN);
      const before = total();
      const badBefore = target.stats.refused.EBADMSG ?? 0;
      c.sim.inject(2, 1, b);
      c.sim.runPending();
      // (Only MSG: an RCOM goes to recovery, other commands never reach a lockspace from midcomms.)
      if (want.length > 0 && b.length >= 16 && b[14] === 1) {
        refusedByRef++;
        expect(total() - before, `run ${run}: ${want.join(', ')}`).toBe(1);
        expect((target.stats.refused.EBADMSG ?? 0) - badBefore, `run ${run}`).toBe(1);
      }
    }
    expect(refusedByRef).toBeGreaterThan(200);
    expect(target.stats.refused.INTERNAL ?? 0).toBe(0);
  });
});
