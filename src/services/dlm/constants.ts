/**
 * Constants of Linux fs/dlm (include/uapi/linux/dlmconstants.h and dlm.h),
 * numerically identical so that programs and message dumps port directly.
 */

/** Lock modes. IV (-1) is "no mode" (a new request's granted mode, a granted lock's requested mode). */
export const LKM = {
  IV: -1,
  NL: 0,
  CR: 1,
  CW: 2,
  PR: 3,
  PW: 4,
  EX: 5,
} as const;
export type Mode = 0 | 1 | 2 | 3 | 4 | 5;
export type ModeOrIV = Mode | -1;
export type ModeName = 'NL' | 'CR' | 'CW' | 'PR' | 'PW' | 'EX';
export const MODE_NAMES: readonly ModeName[] = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'];

/** Lock flags (`DLM_LKF_*`). */
export const LKF = {
  NOQUEUE: 0x00000001,
  CANCEL: 0x00000002,
  CONVERT: 0x00000004,
  VALBLK: 0x00000008,
  QUECVT: 0x00000010,
  IVVALBLK: 0x00000020,
  CONVDEADLK: 0x00000040,
  PERSISTENT: 0x00000080,
  NODLCKWT: 0x00000100,
  NODLCKBLK: 0x00000200,
  EXPEDITE: 0x00000400,
  NOQUEUEBAST: 0x00000800,
  HEADQUE: 0x00001000,
  NOORDER: 0x00002000,
  ORPHAN: 0x00004000,
  ALTPR: 0x00008000,
  ALTCW: 0x00010000,
  FORCEUNLOCK: 0x00020000,
  TIMEOUT: 0x00040000,
} as const;
export type LkfName = keyof typeof LKF;
/** Every defined flag bit (TIMEOUT included: it is reserved, accepted and ignored). */
export const LKF_ALL = Object.values(LKF).reduce((a, b) => a | b, 0);
/** The flags `unlock()` accepts. */
export const LKF_UNLOCK_ALLOWED = LKF.CANCEL | LKF.VALBLK | LKF.IVVALBLK | LKF.FORCEUNLOCK;

/** Status-block flags (`DLM_SBF_*`). */
export const SBF = {
  DEMOTED: 0x01,
  VALNOTVALID: 0x02,
  ALTMODE: 0x04,
} as const;
export const SBF_ALL = SBF.DEMOTED | SBF.VALNOTVALID | SBF.ALTMODE;

/** Lock status on the resource's queues (`DLM_LKSTS_*`); 0 = on no queue. */
export const LKSTS = {
  NONE: 0,
  WAITING: 1,
  GRANTED: 2,
  CONVERT: 3,
} as const;
export type LockStatus = 0 | 1 | 2 | 3;

/**
 * Status and error codes, as negative errno values (the wire-normalised
 * numbers of spec §1.9, identical on every architecture here).
 */
export const DLM_ERRNO = {
  OK: 0,
  ENOENT: -2,
  EAGAIN: -11,
  ENOMEM: -12,
  ENOTBLK: -15,
  EBUSY: -16,
  EEXIST: -17,
  EINVAL: -22,
  EDEADLK: -35,
  EBADR: -53,
  EPROTO: -71,
  EOPNOTSUPP: -95,
  ENOBUFS: -105,
  ENOTCONN: -107,
  ETIMEDOUT: -110,
  EINPROGRESS: -115,
  ESRCH: -3,
  /** -DLM_ECANCEL: a cancel completed. */
  ECANCEL: -0x10001,
  /** -DLM_EUNLOCK: an unlock completed. */
  EUNLOCK: -0x10002,
} as const;

/** Sentinel of a name length limit (`DLM_RESNAME_MAXLEN`) and a lockspace name limit. */
export const DLM_RESNAME_MAXLEN = 64;
export const DLM_LOCKSPACE_LEN = 64;

export function modeName(mode: number): string {
  return mode === -1 ? 'IV' : (MODE_NAMES[mode] ?? `mode(${mode})`);
}

export function isMode(mode: unknown): mode is Mode {
  return typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 && mode <= 5;
}

/** Parse a mode name ('NL'..'EX'); undefined when it is not one. */
export function parseMode(name: string): Mode | undefined {
  const i = MODE_NAMES.indexOf(name as ModeName);
  return i < 0 ? undefined : (i as Mode);
}

/** Names of the flag bits set in `flags`, for logs and errors. */
export function describeFlags(flags: number): string {
  const names: string[] = (Object.keys(LKF) as LkfName[]).filter((k) => (flags & LKF[k]) !== 0);
  const unknown = flags & ~LKF_ALL;
  if (unknown !== 0) names.push(`0x${(unknown >>> 0).toString(16)}`);
  return names.length === 0 ? '0' : names.join('|');
}
