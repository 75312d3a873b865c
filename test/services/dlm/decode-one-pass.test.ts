/**
 * `decodeLockMessageInto` reads and checks the header and the fixed part in
 * one pass (`readFixedChecked`) and hands anything it refuses to the
 * field-by-field path (`decodeChecking`), which names the bad field. The two
 * must agree on every input: the same 18 fields and extra for a message
 * either accepts, the same error (code and text) for one either refuses.
 * Inputs: well-formed messages of every type, then 1-4 random bytes or
 * 32-bit fields overwritten (header included), or cut short (fast-check,
 * fixed seed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DlmError } from '../../../src/services/dlm/errors.ts';
import { newExtraCopies } from '../../../src/services/dlm/extra-copies.ts';
import { decodeChecking, decodeLockMessageInto, DLM_VERSION, emptyMessage, encodeMessage, MSG, type DlmMessage, type MsgType } from '../../../src/services/dlm/message.ts';

const SEED = 20261207;
const H = { version: DLM_VERSION, lockspace: 0x1234, nodeid: 2 };
const LVBLEN = 32;

type Outcome = { ok: true; msg: Omit<DlmMessage, 'extra'> & { extra: number[] } } | { ok: false; code: string; message: string };

function run(decode: (b: Uint8Array, m: DlmMessage) => DlmMessage, bytes: Uint8Array): Outcome {
  try {
    const m = decode(bytes, emptyMessage(MSG.REQUEST));
    return { ok: true, msg: { ...m, extra: [...m.extra] } };
  } catch (err) {
    if (!(err instanceof DlmError)) throw err;
    return { ok: false, code: err.code, message: err.message };
  }
}

/** A well-formed message of `type` with plausible fields. */
function wellFormed(type: MsgType, k: number): Uint8Array {
  const m = emptyMessage(type);
  m.nodeid = 2;
  m.lkid = 1 + k;
  m.remid = 7 + k;
  m.status = k & 3;
  m.grmode = (k % 7) - 1;
  m.rqmode = type === MSG.REQUEST || type === MSG.LOOKUP || type === MSG.CONVERT ? k % 6 : (k % 7) - 1;
  m.bastmode = type === MSG.BAST ? k % 6 : -1;
  m.asts = k & 3;
  m.parentLkid = 0x9000_0000 + k; // fencing token fields: u32 past 2**31
  m.parentRemid = k;
  m.lvbseq = 0xffff_ff00 + (k & 0xff);
  m.hash = 0xdead_beef;
  m.result = type === MSG.UNLOCK_REPLY ? -65538 : 0; // EUNLOCK where 0 is not allowed
  if (type === MSG.REQUEST || type === MSG.LOOKUP || type === MSG.REMOVE) m.extra = new TextEncoder().encode(`res${k}`);
  else if ((type === MSG.CONVERT || type === MSG.GRANT || type === MSG.REQUEST_REPLY) && k % 2 === 0) m.extra = new Uint8Array(LVBLEN).fill(k & 0xff);
  // In a buffer of its own, at an odd offset (any alignment is read byte by byte).
  const enc = encodeMessage(H, m);
  const buf = new Uint8Array(enc.length + 3);
  buf.set(enc, 3);
  return buf.subarray(3);
}

describe('decodeLockMessageInto: one pass, the same results and errors as the field-by-field path', () => {
  const fast = (b: Uint8Array, m: DlmMessage): DlmMessage => decodeLockMessageInto(b, LVBLEN, m);
  const checking = (b: Uint8Array, m: DlmMessage): DlmMessage => decodeChecking(b, LVBLEN, m);

  it('every type, well-formed: both accept, same fields', () => {
    for (let type = MSG.REQUEST; type <= MSG.PURGE; type++) {
      for (let k = 0; k < 12; k++) {
        const b = wellFormed(type as MsgType, k);
        const a = run(fast, b);
        expect(a.ok, `type ${type} k ${k}`).toBe(true);
        expect(a).toEqual(run(checking, b));
      }
    }
  });

  it(`mutated messages: same outcome (fast-check, seed ${SEED})`, () => {
    let accepted = 0;
    let refused = 0;
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(120), v: fc.integer({ min: 0, max: 255 }) }),
      // A whole field (header words and the 18 fixed fields) set to a boundary or random value.
      fc.record({ kind: fc.constant('word' as const), at: fc.integer({ min: 0, max: 21 }), v: fc.oneof(fc.constantFrom(-2, -1, 0, 1, 3, 4, 5, 6, 7, 14, 15, 0x7fffffff, -0x80000000, 0x00030000, 0x00030001, 0x00040002), fc.integer()) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(120), v: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: MSG.REQUEST, max: MSG.PURGE }), fc.nat(50), fc.array(edit, { minLength: 1, maxLength: 4 }), (type, k, edits) => {
        let b = wellFormed(type as MsgType, k).slice();
        for (const e of edits) {
          if (e.kind === 'byte') {
            if (e.at < b.length) b[e.at] = e.v;
          } else if (e.kind === 'word') {
            if (e.at * 4 + 4 <= b.length) new DataView(b.buffer, b.byteOffset, b.length).setInt32(e.at * 4, e.v | 0, true);
          } else if (e.at < b.length) b = b.slice(0, e.at);
        }
        const a = run(fast, b);
        if (a.ok) accepted++;
        else refused++;
        expect(a).toEqual(run(checking, b));
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // Both sides were reached.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });

  it('with ExtraCopies (the receive path): the same extra bytes as the checking path', () => {
    const copies = newExtraCopies();
    for (const type of [MSG.REQUEST, MSG.CONVERT, MSG.GRANT] as const) {
      for (let k = 0; k < 4; k++) {
        const b = wellFormed(type, k);
        const m = decodeLockMessageInto(b, LVBLEN, emptyMessage(MSG.REQUEST), copies);
        expect([...m.extra]).toEqual([...decodeChecking(b, LVBLEN, emptyMessage(MSG.REQUEST)).extra]);
      }
    }
  });
});
