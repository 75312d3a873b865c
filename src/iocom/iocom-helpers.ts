/** Small pure helpers of the Iocom (iocom.ts): ids, held bytes, timers, error text. */
import type { Message } from '../wire/message.ts';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Let a host timer not keep the process alive (a ManualClock's handles have no unref). */
export function unref(handle: unknown): void {
  (handle as { unref?: () => void } | null)?.unref?.();
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a held message pins, about: its header, extended header and aux. */
export function heldBytes(msg: Message): number {
  return 64 + msg.ext.length + msg.aux.length;
}

/** A received msgid or circuit as a table key (see Transaction._id). */
export function idOf(v: bigint): number | bigint {
  return v <= MAX_SAFE ? Number(v) : v;
}
