/**
 * The largest lvblen is bounded by the frame every LVB-carrying message must
 * fit (midcomms' DLM_MAX_APP_BUFSIZE): a larger one would make RCOM LOCK
 * (recovery) and lock messages unsendable, so recovery would never end.
 */
import { describe, expect, it } from 'vitest';
import { DLM_MAX_APP_BUFSIZE, DLM_MSG_FIXED_LEN, DLM_RCOM_FIXED_LEN } from '../../../src/services/dlm/message.ts';
import { MAX_LVBLEN, resolveLvblen } from '../../../src/services/dlm/options.ts';
import { RCOM_LOCK_LEN, encodeRcomLock } from '../../../src/services/dlm/recovery/rcom-payloads.ts';

describe('lvblen limit', () => {
  it('the largest LVB fits an RCOM LOCK and a lock message in one midcomms frame; the next multiple of 8 would not', () => {
    expect(DLM_RCOM_FIXED_LEN + RCOM_LOCK_LEN + MAX_LVBLEN).toBeLessThanOrEqual(DLM_MAX_APP_BUFSIZE);
    expect(DLM_MSG_FIXED_LEN + MAX_LVBLEN).toBeLessThanOrEqual(DLM_MAX_APP_BUFSIZE);
    expect(DLM_RCOM_FIXED_LEN + RCOM_LOCK_LEN + MAX_LVBLEN + 8).toBeGreaterThan(DLM_MAX_APP_BUFSIZE);
  });

  it('resolveLvblen accepts MAX_LVBLEN and refuses MAX_LVBLEN + 8 with EINVAL', () => {
    expect(resolveLvblen(MAX_LVBLEN)).toBe(MAX_LVBLEN);
    expect(() => resolveLvblen(MAX_LVBLEN + 8)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => resolveLvblen(4000)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('an RCOM LOCK payload encoded with a full-length name and a MAX_LVBLEN LVB fits the frame after the rcom header', () => {
    const payload = encodeRcomLock({
      ownpid: 1, lkid: 2, remid: 3, exflags: 0, flags: 0, lvbseq: 7, result: 0, rqmode: -1, grmode: 4, status: 2, asts: 0, waitType: 0,
      name: new Uint8Array(64).fill(0x61),
      lvb: new Uint8Array(MAX_LVBLEN).fill(0x5a),
    });
    expect(payload.length).toBe(RCOM_LOCK_LEN + MAX_LVBLEN);
    expect(DLM_RCOM_FIXED_LEN + payload.length).toBeLessThanOrEqual(DLM_MAX_APP_BUFSIZE);
  });
});
