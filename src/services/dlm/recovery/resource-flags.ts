/** Per-resource recovery flags (`Resource.rflags`), the kernel's RSB_* recovery bits. */
export const RF = {
  /** Remastered in this recovery (kept across an aborted run until one finishes): locks are rebuilt on the new master. */
  NEW_MASTER: 0x1,
  /** A middle conversion's granted mode is unknown: resolve it (§4.7). */
  RECOVER_CONVERT: 0x2,
  /** Run the recovery grant pass after locking is enabled (§4.2 phase 9). */
  RECOVER_GRANT: 0x4,
  /** A purged lock of a departed node could have written the LVB (§4.7, master survived). */
  INVALIDATE_LVB: 0x8,
} as const;
